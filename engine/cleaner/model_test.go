package cleaner

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strom-broker/strom/engine/partlog"
)

// TestRandomizedAgainstModel runs random keyed appends (some gzip, some
// tombstones, some null keys), rolls, reopens, clock advances and cleaning
// passes against a model of every write, and checks after each pass that
// offsets and contents are unchanged, the latest value per key survives,
// and below the pass's end offset no key appears twice.
func TestRandomizedAgainstModel(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3, uint64(time.Now().UnixNano())} {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { runModel(t, seed) })
	}
}

func runModel(t *testing.T, seed uint64) {
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	clk := newClock()
	cfg := compactConfig()
	cfg.SegmentBytes = 2048
	cfg.MinCleanableDirtyRatio = 0.3
	dir := logDir(t)
	l := openLog(t, dir, cfg, clk)
	defer func() { l.Close() }()
	c := newCleaner(clk, WithMaxMapEntries(8+rng.IntN(30)))

	var passes, dropped, tombs int64
	written := map[int64]rec{}
	var order []rec // every write, offset order
	for step := 0; step < 400; step++ {
		switch x := rng.IntN(100); {
		case x < 70:
			n := 1 + rng.IntN(5)
			recs := make([]kv, n)
			for i := range recs {
				var key, val []byte
				if rng.IntN(20) > 0 {
					key = k(fmt.Sprintf("k%d", rng.IntN(20)))
				}
				if rng.IntN(7) > 0 {
					val = k(fmt.Sprintf("v%d", step))
				}
				recs[i] = kv{key, val}
			}
			batch := buildBatch(clk.Now().UnixMilli(), recs)
			if rng.IntN(5) == 0 {
				batch = gzipBatch(t, batch)
			}
			info, err := l.Append(batch, 0)
			require.NoError(t, err)
			for i, r := range recs {
				w := rec{Offset: info.FirstOffset + int64(i), Key: string(r.Key), Value: r.Value, HasKey: r.Key != nil}
				written[w.Offset] = w
				order = append(order, w)
			}
		case x < 78:
			require.NoError(t, l.Roll())
		case x < 83:
			clk.Advance(time.Duration(rng.IntN(40_000)) * time.Millisecond)
		case x < 86:
			require.NoError(t, l.Close())
			l = openLog(t, dir, cfg, clk, partlog.WithCleanShutdown(rng.IntN(2) == 0))
		default:
			st, err := c.CleanLog(tp0, l, rng.IntN(3) == 0)
			require.NoError(t, err, "step %d", step)
			checkModel(t, l, written, order, st)
			if st.Cleaned {
				passes++
			}
			dropped += st.RecordsDropped
			tombs += st.TombstonesDropped
		}
	}
	t.Logf("passes %d, records dropped %d, tombstones dropped %d", passes, dropped, tombs)
	require.Positive(t, passes)
	require.Positive(t, dropped)
}

func checkModel(t *testing.T, l *partlog.Log, written map[int64]rec, order []rec, st Stats) {
	t.Helper()
	recs, _, _ := readAll(t, l)
	prev := int64(-1)
	for _, r := range recs {
		require.Equal(t, written[r.Offset], r, "record at %d changed", r.Offset)
		require.Greater(t, r.Offset, prev)
		prev = r.Offset
	}
	// Latest value per key survives; a latest tombstone survives or is
	// gone with every older value.
	latest := lastPerKey(order)
	got := lastPerKey(recs)
	for key, w := range latest {
		g, ok := got[key]
		if w.Value == nil && !ok {
			continue
		}
		require.True(t, ok, "key %s lost (latest %v)", key, w)
		require.Equal(t, w, g, "latest of key %s", key)
	}
	// Null-key records are never dropped.
	n := 0
	for _, w := range order {
		if !w.HasKey {
			n++
		}
	}
	for _, r := range recs {
		if !r.HasKey {
			n--
		}
	}
	require.Zero(t, n, "null-key records dropped")
	if !st.Cleaned || st.Conflict {
		return
	}
	// Below the end of the pass each key is its latest write below there.
	below := map[string]rec{}
	for _, w := range order {
		if w.Offset < st.EndOffset && w.HasKey {
			below[w.Key] = w
		}
	}
	seen := map[string]bool{}
	for _, r := range recs {
		if r.Offset >= st.EndOffset || !r.HasKey {
			continue
		}
		require.False(t, seen[r.Key], "key %s twice below %d", r.Key, st.EndOffset)
		seen[r.Key] = true
		require.Equal(t, below[r.Key], r, "stale record below %d", st.EndOffset)
	}
}
