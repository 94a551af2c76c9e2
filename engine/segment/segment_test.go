package segment

import (
	"bytes"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strom-broker/strom/engine/record"
)

var testCfg = Config{IndexIntervalBytes: 256, MaxIndexBytes: 4096}

// appendN appends n batches of 3 records each starting at the segment's
// next offset; batch i has timestamps 1000+10*i .. +2.
func appendN(t *testing.T, s *Segment, n int) [][]byte {
	t.Helper()
	var out [][]byte
	for i := 0; i < n; i++ {
		b := record.NewBuilder(s.NextOffset())
		for j := 0; j < 3; j++ {
			b.Add(1000+10*((s.NextOffset()-s.BaseOffset())/3)+int64(j), nil, bytes.Repeat([]byte{byte(i)}, 40))
		}
		batch := b.Build()
		h, err := record.Validate(batch)
		require.NoError(t, err)
		require.NoError(t, s.Append(batch, []record.Header{h}))
		out = append(out, batch)
	}
	return out
}

func TestAppendTranslateBoundary(t *testing.T) {
	dir := t.TempDir()
	s, err := Create(dir, 100, testCfg)
	require.NoError(t, err)
	batches := appendN(t, s, 50)
	assert.Equal(t, int64(250), s.NextOffset())
	assert.NotEmpty(t, s.OffsetIndex().Entries())

	var pos int64
	for i, b := range batches {
		for off := int64(100 + 3*i); off < int64(103+3*i); off++ {
			p, h, ok, err := s.Translate(off)
			require.NoError(t, err)
			require.True(t, ok)
			assert.Equal(t, pos, p, "offset %d", off)
			assert.Equal(t, int64(100+3*i), h.BaseOffset)
		}
		pos += int64(len(b))
	}
	_, _, ok, err := s.Translate(250)
	require.NoError(t, err)
	assert.False(t, ok)

	size := int64(len(batches[0]))
	end, err := s.ReadBoundary(0, int(3*size)+5, 1<<62, true)
	require.NoError(t, err)
	assert.Equal(t, 3*size, end)
	end, err = s.ReadBoundary(size, 1, 1<<62, true)
	require.NoError(t, err)
	assert.Equal(t, 2*size, end, "at least one batch")
	end, err = s.ReadBoundary(size, 1, 1<<62, false)
	require.NoError(t, err)
	assert.Equal(t, size, end, "nothing without minOne")
	end, err = s.ReadBoundary(0, 1<<20, 106, true)
	require.NoError(t, err)
	assert.Equal(t, 2*size, end, "stops before the batch holding maxOffset")
	end, err = s.ReadBoundary(0, 1<<20, 107, true)
	require.NoError(t, err)
	assert.Equal(t, 2*size, end, "a batch straddling maxOffset is excluded")

	off, ts, ok, err := s.FindOffsetByTimestamp(1000+10*20+1, 0)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, int64(161), off)
	assert.Equal(t, int64(1201), ts)
	off, _, ok, err = s.FindOffsetByTimestamp(1000, 162)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, int64(162), off, "records below minOffset are skipped")
	_, _, ok, err = s.FindOffsetByTimestamp(1<<40, 0)
	require.NoError(t, err)
	assert.False(t, ok)

	n := len(s.OffsetIndex().Entries())
	require.NoError(t, s.Retire(false, nil))
	st, err := os.Stat(FileName(dir, 100, IndexSuffix))
	require.NoError(t, err)
	assert.Equal(t, int64(n*OffsetIndexEntrySize), st.Size(), "trimmed on close")
}

func TestReopenTrustedAndRecovered(t *testing.T) {
	dir := t.TempDir()
	s, err := Create(dir, 0, testCfg)
	require.NoError(t, err)
	appendN(t, s, 40)
	wantIdx := s.OffsetIndex().Entries()
	wantNext, wantSize := s.NextOffset(), s.Size()
	require.NoError(t, s.Retire(false, nil))

	for _, recover := range []bool{false, true} {
		s, res, err := Open(dir, 0, testCfg, OpenOptions{Recover: recover})
		require.NoError(t, err)
		assert.Equal(t, recover, res.Recovered)
		assert.Zero(t, res.TruncatedBytes)
		assert.Equal(t, wantNext, s.NextOffset())
		assert.Equal(t, wantSize, s.Size())
		assert.Equal(t, wantIdx, s.OffsetIndex().Entries())
		require.NoError(t, s.Retire(false, nil))
	}

	// Garbage index: rebuilt, not trusted.
	require.NoError(t, os.WriteFile(FileName(dir, 0, IndexSuffix), bytes.Repeat([]byte{0xff}, 64), 0o644))
	s, res, err := Open(dir, 0, testCfg, OpenOptions{})
	require.NoError(t, err)
	assert.True(t, res.Recovered)
	assert.Equal(t, wantIdx, s.OffsetIndex().Entries())
	require.NoError(t, s.Abandon())

	// Garbage at the end of the log: cut.
	f, err := os.OpenFile(FileName(dir, 0, LogSuffix), os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.Write([]byte("garbage bytes"))
	require.NoError(t, err)
	require.NoError(t, f.Close())
	s, res, err = Open(dir, 0, testCfg, OpenOptions{Recover: true})
	require.NoError(t, err)
	assert.Equal(t, int64(13), res.TruncatedBytes)
	assert.Equal(t, wantNext, s.NextOffset())
	require.NoError(t, s.Retire(false, nil))
}

func TestTruncateAndReaders(t *testing.T) {
	dir := t.TempDir()
	s, err := Create(dir, 0, testCfg)
	require.NoError(t, err)
	batches := appendN(t, s, 30)
	cut, err := s.TruncateTo(31) // batch [30..32] goes
	require.NoError(t, err)
	assert.Equal(t, int64(20*len(batches[0])), cut)
	assert.Equal(t, int64(30), s.NextOffset())
	for _, e := range s.OffsetIndex().Entries() {
		assert.Less(t, int64(e[1]), s.Size())
	}
	appendN(t, s, 2)
	assert.Equal(t, int64(36), s.NextOffset())

	pin, ok := s.Acquire()
	require.True(t, ok)
	require.NoError(t, s.Retire(true, nil))
	// Renamed at once, still readable by the pinned reader.
	_, err = os.Stat(FileName(dir, 0, LogSuffix))
	assert.True(t, os.IsNotExist(err))
	buf := make([]byte, 10)
	_, err = s.File().ReadAt(buf, 0)
	require.NoError(t, err)
	_, ok = s.Acquire()
	assert.False(t, ok, "retired segments cannot be pinned")
	s.Release(pin)
	_, err = os.Stat(FileName(dir, 0, LogSuffix) + DeletedSuffix)
	assert.True(t, os.IsNotExist(err), "deleted after the last reader")
}
