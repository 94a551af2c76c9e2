package segment

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fileEntries decodes the .index and .timeindex files of the segment at
// base in dir as they are on disk (not through the mapping): the entries
// up to the first all-zero one, and whether every byte after them is zero.
func fileEntries(t *testing.T, dir string, base int64) (idx [][2]int32, tidx []TimeEntry, zeroTail bool) {
	t.Helper()
	ib, err := os.ReadFile(FileName(dir, base, IndexSuffix))
	require.NoError(t, err)
	tb, err := os.ReadFile(FileName(dir, base, TimeIndexSuffix))
	require.NoError(t, err)
	i := 0
	for ; i+OffsetIndexEntrySize <= len(ib); i += OffsetIndexEntrySize {
		rel, pos := int32(binary.BigEndian.Uint32(ib[i:])), int32(binary.BigEndian.Uint32(ib[i+4:]))
		if pos == 0 && (i > 0 || rel == 0) {
			break
		}
		idx = append(idx, [2]int32{rel, pos})
	}
	j := 0
	for ; j+TimeIndexEntrySize <= len(tb); j += TimeIndexEntrySize {
		ts := int64(binary.BigEndian.Uint64(tb[j:]))
		if ts == 0 {
			break
		}
		tidx = append(tidx, TimeEntry{Timestamp: ts, RelOffset: int32(binary.BigEndian.Uint32(tb[j+8:]))})
	}
	zeroTail = allZero(ib[i:]) && allZero(tb[j:])
	return idx, tidx, zeroTail
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// copySegmentFiles copies the three files of the segment at base as they
// are on disk now: what a crash of the process (not of the machine) leaves.
func copySegmentFiles(t *testing.T, from, to string, base int64) {
	t.Helper()
	for _, suf := range []string{LogSuffix, IndexSuffix, TimeIndexSuffix} {
		b, err := os.ReadFile(FileName(from, base, suf))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(FileName(to, base, suf), b, 0o644))
	}
}

// Entries are written to the files (pwrite), not only into a mapping: the
// preallocated files of an active segment hold them, with zeros after.
func TestActiveIndexFilesHoldEntries(t *testing.T) {
	dir := t.TempDir()
	s, err := Create(dir, 0, testCfg)
	require.NoError(t, err)
	defer s.Retire(false, nil)
	appendN(t, s, 40)
	require.NotEmpty(t, s.OffsetIndex().Entries())

	idx, tidx, zeroTail := fileEntries(t, dir, 0)
	assert.Equal(t, s.OffsetIndex().Entries(), idx)
	assert.Equal(t, s.TimeIndex().Entries(), tidx)
	assert.True(t, zeroTail, "nothing but zeros after the entries")
	st, err := os.Stat(FileName(dir, 0, IndexSuffix))
	require.NoError(t, err)
	assert.Equal(t, int64(testCfg.MaxIndexBytes), st.Size(), "preallocated while active")
}

// Truncation zeroes the dropped entries in the files, so the preallocated
// tail never holds stale entries, and later appends land after the kept
// ones.
func TestTruncateZeroesIndexFiles(t *testing.T) {
	dir := t.TempDir()
	s, err := Create(dir, 0, testCfg)
	require.NoError(t, err)
	defer s.Retire(false, nil)
	appendN(t, s, 40)
	before := len(s.OffsetIndex().Entries())
	_, err = s.TruncateTo(30)
	require.NoError(t, err)
	kept := s.OffsetIndex().Entries()
	require.Less(t, len(kept), before)

	idx, tidx, zeroTail := fileEntries(t, dir, 0)
	assert.Equal(t, kept, idx)
	assert.Equal(t, s.TimeIndex().Entries(), tidx)
	assert.True(t, zeroTail, "dropped entries are zeroed")

	appendN(t, s, 20)
	idx, tidx, zeroTail = fileEntries(t, dir, 0)
	assert.Equal(t, s.OffsetIndex().Entries(), idx)
	assert.Equal(t, s.TimeIndex().Entries(), tidx)
	assert.True(t, zeroTail)
}

// A crash while the segment is active leaves preallocated index files
// with a zero tail, or (if the machine lost the last index writes but kept
// the log's) fewer entries than the log needs. Open rebuilds the indexes
// in both cases and ends up with the entries the live segment had.
func TestCrashWithActiveIndexes(t *testing.T) {
	live := t.TempDir()
	s, err := Create(live, 0, testCfg)
	require.NoError(t, err)
	defer s.Retire(false, nil)
	appendN(t, s, 60)
	wantIdx, wantTidx := s.OffsetIndex().Entries(), s.TimeIndex().Entries()
	wantNext, wantSize := s.NextOffset(), s.Size()
	require.Greater(t, len(wantIdx), 2)

	tests := []struct {
		name string
		tear func(dir string)
	}{
		{"process crash: preallocated files", func(string) {}},
		{"lost index writes", func(dir string) {
			for _, ix := range []struct {
				suf  string
				size int
			}{{IndexSuffix, OffsetIndexEntrySize}, {TimeIndexSuffix, TimeIndexEntrySize}} {
				require.NoError(t, os.Truncate(FileName(dir, 0, ix.suf), int64(len(wantIdx)/2*ix.size)))
			}
		}},
		{"torn index size", func(dir string) {
			require.NoError(t, os.Truncate(FileName(dir, 0, IndexSuffix), OffsetIndexEntrySize+3))
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "p")
			require.NoError(t, os.Mkdir(dir, 0o755))
			copySegmentFiles(t, live, dir, 0)
			tc.tear(dir)
			got, res, err := Open(dir, 0, testCfg, OpenOptions{})
			require.NoError(t, err)
			assert.True(t, res.Recovered, "an index short of the log is rebuilt, not trusted")
			assert.Zero(t, res.TruncatedBytes)
			assert.Equal(t, wantNext, got.NextOffset())
			assert.Equal(t, wantSize, got.Size())
			assert.Equal(t, wantIdx, got.OffsetIndex().Entries())
			assert.Equal(t, wantTidx, got.TimeIndex().Entries())
			require.NoError(t, got.Retire(false, nil))

			// Closed: trimmed to the entries, and trusted when reopened.
			idx, tidx, zeroTail := fileEntries(t, dir, 0)
			assert.Equal(t, wantIdx, idx)
			assert.Equal(t, wantTidx, tidx)
			assert.True(t, zeroTail)
			st, err := os.Stat(FileName(dir, 0, IndexSuffix))
			require.NoError(t, err)
			assert.Equal(t, int64(len(wantIdx)*OffsetIndexEntrySize), st.Size())
			again, res, err := Open(dir, 0, testCfg, OpenOptions{})
			require.NoError(t, err)
			assert.False(t, res.Recovered)
			assert.Equal(t, wantIdx, again.OffsetIndex().Entries())
			require.NoError(t, again.Retire(false, nil))
		})
	}
}
