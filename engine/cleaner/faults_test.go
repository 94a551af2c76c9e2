package cleaner

import (
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strom-broker/strom/engine/internal/fsio"
	"github.com/strom-broker/strom/engine/partlog"
)

// TestCleanWithInjectedFaults is compaction's part of the error-injection
// test of issue #11: a cleaning pass over several segments fails at every
// file-system call it makes, in turn (create, write, torn write, fsync,
// truncate, rename, remove, mkdir). Whatever fails, the log reopened
// after it (uncleanly, with the fault disarmed) holds exactly the records
// before the clean or exactly those after it, never a mix and never
// less; a failure after the swap was committed takes the log offline
// (partlog.ErrStorage) rather than leaving it half swapped.
func TestCleanWithInjectedFaults(t *testing.T) {
	clk := newClock()
	cfg := compactConfig()
	cfg.SegmentBytes = 1 << 20
	build := func(t *testing.T) (string, *partlog.Log) {
		dir := logDir(t)
		l := openLog(t, dir, cfg, clk)
		buildSmallSegments(t, l, clk)
		return dir, l
	}
	dir, twin := build(t)
	original, _, _ := readAll(t, twin)
	count := &fsio.Nth{}
	disarm := fsio.Inject(dir, count)
	_, err := newCleaner(clk).CleanLog(tp0, twin, true)
	disarm()
	require.NoError(t, err)
	cleaned, _, _ := readAll(t, twin)
	require.NoError(t, twin.Close())
	require.Less(t, len(cleaned), len(original))
	calls := count.Count()
	require.Greater(t, calls, 5)

	// make test: about 15 call sites per variant; FAULT_STRIDE=1 (make
	// engine-faults) every one.
	stride := max(1, calls/15)
	if v, err := strconv.Atoi(os.Getenv("FAULT_STRIDE")); err == nil && v > 0 {
		stride = v
	}
	t.Logf("%d file-system calls in a cleaning pass; failing every %d", calls, stride)
	for _, partial := range []int{0, 9} {
		for n := 1 + partial%stride; n <= calls; n += stride {
			t.Run(fmt.Sprintf("partial=%d/n=%d", partial, n), func(t *testing.T) {
				dir, l := build(t)
				inj := &fsio.Nth{N: n, Partial: partial}
				disarm := fsio.Inject(dir, inj)
				_, cerr := newCleaner(clk).CleanLog(tp0, l, true)
				disarm()
				if cerr != nil {
					assert.NotEmpty(t, inj.Hits(), "clean failed with no fault: %v", cerr)
				}
				if f := l.Failure(); f != nil {
					_, err := l.Read(0, 100, l.LogEndOffset())
					assert.ErrorIs(t, err, partlog.ErrStorage)
				}
				_ = l.Close()
				l = openLog(t, dir, cfg, clk, partlog.WithCleanShutdown(false))
				defer l.Close()
				got, _, _ := readAll(t, l)
				if len(got) == len(original) {
					assert.Equal(t, original, got, "faults %v", inj.Hits())
				} else {
					assert.Equal(t, cleaned, got, "faults %v", inj.Hits())
				}
			})
		}
	}
}
