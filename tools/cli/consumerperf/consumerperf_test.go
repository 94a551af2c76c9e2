package consumerperf

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/strom-broker/strom/tools/cli/perfstats"
)

func TestSummaryLine(t *testing.T) {
	begin := time.Date(2024, 1, 2, 3, 4, 5, 6_000_000, time.UTC)
	end := begin.Add(2 * time.Second)
	w := perfstats.Window{Count: 1000, Bytes: 2 * 1024 * 1024}
	assert.Equal(t, "2024-01-02 03:04:05:006, 2024-01-02 03:04:07:006, 2.0000, 1.0000, 1000, 500.0000, 1000, 1000, 2.0000, 1000.0000",
		SummaryLine(begin, end, time.Second, w))
}
