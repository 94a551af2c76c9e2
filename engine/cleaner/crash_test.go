package cleaner

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strom-broker/strom/engine/partlog"
	"github.com/strom-broker/strom/engine/segment"
)

var errCrash = errors.New("simulated crash")

// buildSmallSegments writes keyed records in several small rolled
// segments (all of them fit one cleaning group) plus an active one.
func buildSmallSegments(t *testing.T, l *partlog.Log, clk *testClock) {
	t.Helper()
	for seg := 0; seg < 5; seg++ {
		for i := 0; i < 6; i++ {
			appendKV(t, l, clk.Now().UnixMilli(),
				kv{k(fmt.Sprintf("k%d", i%4)), k(fmt.Sprintf("s%d-%d", seg, i))},
				kv{k(fmt.Sprintf("u%d", seg*10+i)), k("unique")})
		}
		require.NoError(t, l.Roll())
	}
	appendKV(t, l, clk.Now().UnixMilli(), kv{k("k0"), k("active")})
}

func renameSegment(t *testing.T, dir string, base int64, from, to string) {
	t.Helper()
	for _, suf := range []string{segment.IndexSuffix, segment.TimeIndexSuffix, segment.LogSuffix} {
		name := segment.FileName(dir, base, suf)
		require.NoError(t, os.Rename(name+from, name+to))
	}
}

func TestCrashDuringSwapRecovers(t *testing.T) {
	type state struct {
		name    string
		cleaned bool // the reopened log must hold the cleaned data
		mutate  func(t *testing.T, dir string, old []int64)
	}
	commit := func(t *testing.T, dir string, old []int64) {
		renameSegment(t, dir, old[0], partlog.CleanedSuffix, partlog.SwapSuffix)
	}
	states := []state{
		{"cleaned files left", false, func(*testing.T, string, []int64) {}},
		{"index committed, log not", false, func(t *testing.T, dir string, old []int64) {
			name := segment.FileName(dir, old[0], segment.IndexSuffix)
			require.NoError(t, os.Rename(name+partlog.CleanedSuffix, name+partlog.SwapSuffix))
		}},
		{"swap committed", true, commit},
		{"swap committed, one old segment deleted", true, func(t *testing.T, dir string, old []int64) {
			commit(t, dir, old)
			renameSegment(t, dir, old[2], "", segment.DeletedSuffix)
		}},
		{"swap committed, old segments deleted, indexes in place", true, func(t *testing.T, dir string, old []int64) {
			commit(t, dir, old)
			for _, b := range old {
				renameSegment(t, dir, b, "", segment.DeletedSuffix)
			}
			for _, suf := range []string{segment.IndexSuffix, segment.TimeIndexSuffix} {
				name := segment.FileName(dir, old[0], suf)
				require.NoError(t, os.Rename(name+partlog.SwapSuffix, name))
			}
		}},
	}
	for _, s := range states {
		t.Run(s.name, func(t *testing.T) {
			clk := newClock()
			cfg := compactConfig()
			cfg.SegmentBytes = 1 << 20

			twin := openLog(t, logDir(t), cfg, clk)
			buildSmallSegments(t, twin, clk)
			original, _, _ := readAll(t, twin)
			_, err := newCleaner(clk).CleanLog(tp0, twin, true)
			require.NoError(t, err)
			cleaned, _, _ := readAll(t, twin)
			require.NoError(t, twin.Close())
			require.Less(t, len(cleaned), len(original))

			dir := logDir(t)
			l := openLog(t, dir, cfg, clk)
			buildSmallSegments(t, l, clk)
			bases := l.SegmentBaseOffsets()
			old := bases[:len(bases)-1]
			c := newCleaner(clk)
			c.beforeSwap = func(int64) error { return errCrash }
			_, err = c.CleanLog(tp0, l, true)
			require.ErrorIs(t, err, errCrash)
			require.NoError(t, l.Close())
			s.mutate(t, dir, old)

			l = openLog(t, dir, cfg, clk, partlog.WithCleanShutdown(false))
			defer l.Close()
			got, _, _ := readAll(t, l)
			if s.cleaned {
				assert.Equal(t, cleaned, got)
				assert.Equal(t, []int64{old[0], bases[len(bases)-1]}, l.SegmentBaseOffsets())
			} else {
				assert.Equal(t, original, got)
				assert.Equal(t, bases, l.SegmentBaseOffsets())
			}
			des, err := os.ReadDir(dir)
			require.NoError(t, err)
			for _, de := range des {
				for _, suf := range []string{partlog.CleanedSuffix, partlog.SwapSuffix, segment.DeletedSuffix, partlog.CleanerStagingDir} {
					assert.False(t, strings.HasSuffix(de.Name(), suf), "leftover %s", de.Name())
				}
			}
			// The recovered log takes appends and cleans to the same result.
			appendKV(t, l, clk.Now().UnixMilli(), kv{k("after"), k("crash")})
			_, err = newCleaner(clk).CleanLog(tp0, l, true)
			require.NoError(t, err)
			final, _, _ := readAll(t, l)
			want := append(append([]rec(nil), cleaned...), final[len(final)-1])
			assert.Equal(t, want, final)
		})
	}
}

func TestSwapConflictWithTruncationAbandonsClean(t *testing.T) {
	clk := newClock()
	cfg := compactConfig()
	cfg.SegmentBytes = 1 << 20
	dir := logDir(t)
	l := openLog(t, dir, cfg, clk)
	defer l.Close()
	buildSmallSegments(t, l, clk)
	bases := l.SegmentBaseOffsets()
	before, _, _ := readAll(t, l)
	c := newCleaner(clk)
	c.beforeSwap = func(int64) error { return l.TruncateTo(bases[2]) }
	st, err := c.CleanLog(tp0, l, true)
	require.NoError(t, err)
	assert.True(t, st.Conflict)
	got, _, _ := readAll(t, l)
	var want []rec
	for _, r := range before {
		if r.Offset < bases[2] {
			want = append(want, r)
		}
	}
	assert.Equal(t, want, got, "the truncation wins; nothing of the clean is swapped in")
	des, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, de := range des {
		assert.False(t, strings.HasSuffix(de.Name(), partlog.CleanedSuffix), "leftover %s", de.Name())
	}
}
