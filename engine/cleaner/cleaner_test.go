package cleaner

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strom-broker/strom/engine/checkpoint"
	"github.com/strom-broker/strom/engine/record"
)

func TestNewestValuePerKeyKeptAcrossSegments(t *testing.T) {
	clk := newClock()
	dir := logDir(t)
	l := openLog(t, dir, compactConfig(), clk)
	defer l.Close()
	written := map[int64]rec{}
	for round := 0; round < 200; round++ {
		var batch []kv
		for i := 0; i < 4; i++ {
			key := fmt.Sprintf("k%d", (round*4+i)%10)
			batch = append(batch, kv{k(key), k(fmt.Sprintf("v%d-%s", round, key))})
		}
		base := appendKV(t, l, clk.Now().UnixMilli(), batch...)
		for i, r := range batch {
			written[base+int64(i)] = rec{Offset: base + int64(i), Key: string(r.Key), Value: r.Value, HasKey: true}
		}
	}
	require.Greater(t, l.SegmentCount(), 3)
	before, _, _ := readAll(t, l)
	activeBase := l.SegmentBaseOffsets()[l.SegmentCount()-1]

	c := newCleaner(clk)
	st, err := c.CleanLog(tp0, l, false)
	require.NoError(t, err)
	require.True(t, st.Cleaned, "dirty ratio %v", st.DirtyRatio)
	assert.Equal(t, activeBase, st.EndOffset)
	assert.Positive(t, st.RecordsDropped)

	after, _, _ := readAll(t, l)
	assert.Equal(t, lastPerKey(before), lastPerKey(after), "latest value per key")
	assert.Less(t, len(after), len(before))
	seen := map[string]bool{}
	prev := int64(-1)
	for _, r := range after {
		assert.Equal(t, written[r.Offset], r, "record keeps its offset and content")
		assert.Greater(t, r.Offset, prev, "offsets increase")
		prev = r.Offset
		if r.Offset < st.EndOffset {
			assert.False(t, seen[r.Key], "key %s twice in the cleaned section", r.Key)
			seen[r.Key] = true
		}
	}
	cps, err := checkpoint.Read(filepath.Join(filepath.Dir(dir), CheckpointFile))
	require.NoError(t, err)
	assert.Equal(t, st.EndOffset, cps[tp0])

	// Reading from a removed offset returns the next record.
	kept := map[int64]bool{}
	for _, r := range after {
		kept[r.Offset] = true
	}
	for off := int64(0); off < st.EndOffset; off++ {
		if kept[off] {
			continue
		}
		data, err := l.ReadBytes(off, 1, l.LogEndOffset())
		require.NoError(t, err)
		require.NotEmpty(t, data)
		h, err := record.ParseHeader(data)
		require.NoError(t, err)
		assert.GreaterOrEqual(t, h.LastOffset(), off, "batch served for removed offset %d", off)
		next := off
		for !kept[next] {
			next++
		}
		assert.LessOrEqual(t, h.BaseOffset, next)
		break
	}
	// Nothing left behind by the swap.
	des, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, de := range des {
		assert.NotContains(t, de.Name(), ".cleaned")
		assert.NotContains(t, de.Name(), ".swap")
		assert.NotEqual(t, "cleaner-staging", de.Name())
	}
}
