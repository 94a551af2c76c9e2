package cleaner

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strom-broker/strom/engine/partlog"
	"github.com/strom-broker/strom/engine/record"
	"github.com/strom-broker/strom/engine/segment"
)

func TestTombstoneKeptUntilDeleteHorizon(t *testing.T) {
	clk := newClock()
	cfg := compactConfig()
	l := openLog(t, logDir(t), cfg, clk)
	defer l.Close()
	ts := clk.Now().UnixMilli()
	appendKV(t, l, ts, kv{k("gone"), k("v1")}, kv{k("keep"), k("v1")})
	tomb := appendKV(t, l, ts, kv{k("gone"), nil})
	appendKV(t, l, ts, kv{k("keep"), k("v2")})
	require.NoError(t, l.Roll())
	appendKV(t, l, ts, kv{k("active"), k("x")})

	c := newCleaner(clk)
	clean := func() Stats {
		t.Helper()
		st, err := c.CleanLog(tp0, l, true)
		require.NoError(t, err)
		return st
	}
	hasTomb := func() bool {
		recs, _, _ := readAll(t, l)
		for _, r := range recs {
			if r.Key == "gone" {
				require.Equal(t, tomb, r.Offset, "only the tombstone may remain for the key")
				require.Nil(t, r.Value)
				return true
			}
		}
		return false
	}
	st := clean()
	assert.True(t, hasTomb(), "first clean keeps the tombstone and stamps a horizon")
	assert.Zero(t, st.TombstonesDropped)
	_, _, hs := readAll(t, l)
	stamped := false
	for _, h := range hs {
		if h.BaseOffset == tomb {
			stamped = h.Attributes&record.DeleteHorizonBit != 0
			assert.Equal(t, clk.Now().UnixMilli()+cfg.DeleteRetentionMs, h.FirstTimestamp, "horizon = now + delete.retention.ms")
		}
	}
	assert.True(t, stamped)

	clk.Advance(time.Duration(cfg.DeleteRetentionMs-1) * time.Millisecond)
	clean()
	assert.True(t, hasTomb(), "kept before delete.retention.ms passed")

	clk.Advance(time.Millisecond)
	st = clean()
	assert.False(t, hasTomb(), "dropped once delete.retention.ms passed")
	assert.Equal(t, int64(1), st.TombstonesDropped)
	recs, _, _ := readAll(t, l)
	last := lastPerKey(recs)
	assert.Equal(t, "v2", string(last["keep"].Value))
	assert.Equal(t, "x", string(last["active"].Value))
}

func TestRecordTimestampsSurviveHorizonStamp(t *testing.T) {
	clk := newClock()
	l := openLog(t, logDir(t), compactConfig(), clk)
	defer l.Close()
	ts := clk.Now().UnixMilli() - 5000
	base := appendKV(t, l, ts, kv{k("a"), k("1")}, kv{k("b"), nil}, kv{k("c"), k("3")})
	require.NoError(t, l.Roll())
	_, err := newCleaner(clk).CleanLog(tp0, l, true)
	require.NoError(t, err)
	data, err := l.ReadBytes(base, 1<<20, l.LogEndOffset())
	require.NoError(t, err)
	h, err := record.ValidateMode(data, record.FromLog)
	require.NoError(t, err)
	require.NotZero(t, h.Attributes&record.DeleteHorizonBit)
	it, err := record.Records(data)
	require.NoError(t, err)
	var r record.Record
	i := int64(0)
	for it.Next(&r) {
		assert.Equal(t, ts+i, r.Timestamp(h), "record %d timestamp", i)
		i++
	}
	require.NoError(t, it.Err())
	assert.Equal(t, int64(3), i)
	assert.Equal(t, ts+2, h.MaxTimestamp)
}

func TestActiveSegmentUntouched(t *testing.T) {
	clk := newClock()
	dir := logDir(t)
	l := openLog(t, dir, compactConfig(), clk)
	defer l.Close()
	for i := 0; i < 300; i++ {
		appendKV(t, l, clk.Now().UnixMilli(), kv{k(fmt.Sprintf("k%d", i%3)), k(fmt.Sprintf("v%d", i))})
	}
	bases := l.SegmentBaseOffsets()
	active := segment.FileName(dir, bases[len(bases)-1], segment.LogSuffix)
	before, err := os.ReadFile(active)
	require.NoError(t, err)
	require.NotEmpty(t, before)
	st, err := newCleaner(clk).CleanLog(tp0, l, true)
	require.NoError(t, err)
	require.Positive(t, st.RecordsDropped)
	after, err := os.ReadFile(active)
	require.NoError(t, err)
	assert.Equal(t, before, after)
	// The active segment's duplicates are still there.
	recs, _, _ := readAll(t, l)
	n := 0
	for _, r := range recs {
		if r.Offset >= bases[len(bases)-1] {
			n++
		}
	}
	assert.Equal(t, int(l.LogEndOffset()-bases[len(bases)-1]), n)
}

func TestGzipBatchesCleaned(t *testing.T) {
	clk := newClock()
	l := openLog(t, logDir(t), compactConfig(), clk)
	defer l.Close()
	ts := clk.Now().UnixMilli()
	var want []rec
	for round := 0; round < 4; round++ {
		var recs []kv
		for i := 0; i < 5; i++ {
			recs = append(recs, kv{k(fmt.Sprintf("k%d", i)), k(fmt.Sprintf("r%d", round))})
		}
		info, err := l.Append(gzipBatch(t, buildBatch(ts, recs)), 0)
		require.NoError(t, err)
		if round == 3 {
			for i := range recs {
				want = append(want, rec{Offset: info.FirstOffset + int64(i), Key: string(recs[i].Key), Value: recs[i].Value, HasKey: true})
			}
		}
	}
	// Overwrite k0 and k1 in the last round with an uncompressed batch.
	appendKV(t, l, ts, kv{k("k0"), k("plain")}, kv{k("k1"), k("plain")})
	require.NoError(t, l.Roll())
	st, err := newCleaner(clk).CleanLog(tp0, l, true)
	require.NoError(t, err)
	assert.Equal(t, int64(4*5-3), st.RecordsDropped)
	recs, _, hs := readAll(t, l)
	require.Len(t, recs, 5)
	assert.Equal(t, want[2:], recs[:3], "the surviving gzip records")
	assert.Equal(t, "plain", string(recs[3].Value))
	gz := 0
	for _, h := range hs {
		if h.Compression() == record.CompressionGzip {
			gz++
			assert.Equal(t, int32(3), h.RecordCount)
			assert.Equal(t, int32(4), h.LastOffsetDelta, "lastOffsetDelta kept")
		}
	}
	assert.Equal(t, 1, gz, "fully superseded gzip batches dropped, the last one rewritten and still gzip")
}

func TestUnreadableCodecBatchKeptWhole(t *testing.T) {
	clk := newClock()
	cfg := compactConfig()
	l := openLog(t, logDir(t), cfg, clk)
	defer l.Close()
	ts := clk.Now().UnixMilli()
	// A "snappy" batch: the cleaner cannot decompress it, so whatever it
	// holds (here two keyed records, stored raw) must survive untouched.
	plain := buildBatch(ts, []kv{{k("a"), k("old")}, {k("b"), k("old")}})
	snappy := withCodec(plain[:record.RecordsOffset], []byte("opaque snappy bytes"), record.CompressionSnappy)
	info, err := l.Append(snappy, 0)
	require.NoError(t, err)
	appendKV(t, l, ts, kv{k("a"), k("new")}, kv{k("b"), nil})
	require.NoError(t, l.Roll())
	appendKV(t, l, ts, kv{k("z"), k("active")})

	c := newCleaner(clk)
	for i := 0; i < 2; i++ { // the second pass is after the horizon
		_, err = c.CleanLog(tp0, l, true)
		require.NoError(t, err)
		clk.Advance(time.Duration(cfg.DeleteRetentionMs) * time.Millisecond)
	}
	recs, opaque, _ := readAll(t, l)
	require.Len(t, opaque, 1)
	stamped := append([]byte(nil), snappy...)
	record.SetBaseOffset(stamped, info.FirstOffset)
	record.SetPartitionLeaderEpoch(stamped, 0)
	assert.True(t, bytes.Equal(stamped, opaque[0]), "snappy batch byte for byte")
	last := lastPerKey(recs)
	assert.Equal(t, "new", string(last["a"].Value))
	b, ok := last["b"]
	assert.True(t, ok && b.Value == nil, "the expired tombstone stays: an unreadable batch before it may hold b")
}

func TestDirtyRatioGatesClean(t *testing.T) {
	clk := newClock()
	dir := logDir(t)
	cfg := compactConfig()
	cfg.MinCleanableDirtyRatio = 0.5
	l := openLog(t, dir, cfg, clk)
	defer l.Close()
	ts := clk.Now().UnixMilli()
	for i := 0; i < 40; i++ {
		appendKV(t, l, ts, kv{k(fmt.Sprintf("k%d", i)), bytes.Repeat([]byte("v"), 100)})
	}
	require.NoError(t, l.Roll())
	c := newCleaner(clk)
	st, err := c.CleanLog(tp0, l, false)
	require.NoError(t, err)
	require.True(t, st.Cleaned)
	assert.Equal(t, 1.0, st.DirtyRatio)
	clean := l.Size()

	// A little new data: ratio below 0.5, no pass.
	appendKV(t, l, ts, kv{k("k0"), k("x")})
	require.NoError(t, l.Roll())
	require.NoError(t, c.Clean(tp0, l))
	st, err = c.CleanLog(tp0, l, false)
	require.NoError(t, err)
	assert.False(t, st.Cleaned)
	assert.Less(t, st.DirtyRatio, 0.5)
	assert.Greater(t, st.DirtyRatio, 0.0)

	// As much dirty as clean: pass.
	for l.Size() < 2*clean+200 {
		appendKV(t, l, ts, kv{k("k1"), bytes.Repeat([]byte("w"), 100)})
	}
	require.NoError(t, l.Roll())
	st, err = c.CleanLog(tp0, l, false)
	require.NoError(t, err)
	assert.True(t, st.Cleaned)
	assert.GreaterOrEqual(t, st.DirtyRatio, 0.5)
	assert.Equal(t, l.SegmentBaseOffsets()[l.SegmentCount()-1], st.EndOffset)
}

func TestDeletePolicyIgnored(t *testing.T) {
	clk := newClock()
	cfg := compactConfig()
	cfg.CleanupPolicy = partlog.CleanupDelete
	l := openLog(t, logDir(t), cfg, clk)
	defer l.Close()
	for i := 0; i < 100; i++ {
		appendKV(t, l, clk.Now().UnixMilli(), kv{k("same"), k("v")})
	}
	size := l.Size()
	st, err := newCleaner(clk).CleanLog(tp0, l, true)
	require.NoError(t, err)
	assert.False(t, st.Cleaned)
	assert.Equal(t, size, l.Size())
	_, err = os.Stat(filepath.Join(filepath.Dir(l.Dir()), CheckpointFile))
	assert.True(t, os.IsNotExist(err))
}
