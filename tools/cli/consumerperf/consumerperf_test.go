package consumerperf

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strom-broker/strom/tools/cli/clitool"
	"github.com/strom-broker/strom/tools/cli/perfstats"
)

func TestSummaryLine(t *testing.T) {
	begin := time.Date(2024, 1, 2, 3, 4, 5, 6_000_000, time.UTC)
	end := begin.Add(2 * time.Second)
	w := perfstats.Window{Count: 1000, Bytes: 2 * 1024 * 1024}
	assert.Equal(t, "2024-01-02 03:04:05:006, 2024-01-02 03:04:07:006, 2.0000, 1.0000, 1000, 500.0000, 1000, 1000, 2.0000, 1000.0000",
		SummaryLine(utc(t, DefaultDateFormat), begin, end, time.Second, w))
}

// utc parses a date format and pins the process to UTC for its rendering.
func utc(t *testing.T, pattern string) DateFormat {
	t.Helper()
	t.Setenv("TZ", "UTC")
	old := time.Local
	time.Local = time.UTC
	t.Cleanup(func() { time.Local = old })
	df, err := ParseDateFormat(pattern)
	require.NoError(t, err)
	return df
}

func TestDateFormat(t *testing.T) {
	at := time.Date(2024, 3, 9, 15, 4, 5, 7_000_000, time.UTC)
	tests := map[string]string{
		DefaultDateFormat:             "2024-03-09 15:04:05:007",
		"yy/M/d h:mm a":               "24/3/9 3:04 PM",
		"EEE, dd MMM yyyy 'at' HH.mm": "Sat, 09 Mar 2024 at 15.04",
		"yyyyMMdd''HHmmss.SSS":        "20240309'150405.007",
	}
	for pattern, want := range tests {
		assert.Equal(t, want, utc(t, pattern).Format(at), pattern)
	}
	for _, bad := range []string{"yyyy-MM-dd QQ", "'open"} {
		_, err := ParseDateFormat(bad)
		assert.ErrorIs(t, err, clitool.ErrUsage, bad)
	}
}
