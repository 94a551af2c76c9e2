package fuzz

import (
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strom-broker/strom/net/apis"
	"github.com/strom-broker/strom/tools/broker/brokertest"
)

// allocated returns the bytes the process allocated while fn ran. Other
// goroutines count too, so callers keep their bounds generous and stop
// background work (brokers) before measuring.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// servedRanges returns the API versions the real broker serves: it starts
// one, asks it, and stops it (so it allocates nothing while targets measure).
func servedRanges(tb testing.TB) []apis.Range {
	tb.Helper()
	b := brokertest.Start(tb)
	ranges := b.APIVersions()
	b.Stop()
	return ranges
}

// servedTable is servedRanges as a table.
func servedTable(tb testing.TB) apis.Table {
	tb.Helper()
	table, err := apis.NewTable(servedRanges(tb))
	require.NoError(tb, err)
	return table
}
