package epoch

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strom-broker/strom/engine/checkpoint"
)

// ent builds an Entry.
func ent(epoch int32, start int64) Entry {
	return Entry{Epoch: epoch, StartOffset: start}
}

// openWith opens a cache in a fresh directory and assigns entries.
func openWith(t *testing.T, entries ...Entry) *Cache {
	t.Helper()
	c, err := Open(t.TempDir())
	require.NoError(t, err)
	for _, e := range entries {
		require.NoError(t, c.Assign(e.Epoch, e.StartOffset))
	}
	return c
}

// onDisk reads the cache's checkpoint file.
func onDisk(t *testing.T, c *Cache) []Entry {
	t.Helper()
	es, err := checkpoint.ReadEpochs(c.Path())
	require.NoError(t, err)
	return es
}

func TestAssign(t *testing.T) {
	tests := []struct {
		name   string
		start  []Entry
		assign Entry
		want   []Entry
	}{
		{"first", nil, ent(0, 0), []Entry{ent(0, 0)}},
		{"append new epoch", []Entry{ent(0, 0)}, ent(2, 10), []Entry{ent(0, 0), ent(2, 10)}},
		{"same epoch later offset ignored", []Entry{ent(2, 10)}, ent(2, 15), []Entry{ent(2, 10)}},
		{"same epoch same offset ignored", []Entry{ent(2, 10)}, ent(2, 10), []Entry{ent(2, 10)}},
		{"same epoch earlier offset replaces", []Entry{ent(1, 0), ent(2, 10)}, ent(2, 5), []Entry{ent(1, 0), ent(2, 5)}},
		{"new epoch at same offset replaces empty epoch", []Entry{ent(1, 0), ent(2, 10)}, ent(3, 10), []Entry{ent(1, 0), ent(3, 10)}},
		{"new epoch below existing start removes conflicts", []Entry{ent(1, 0), ent(2, 10), ent(3, 20)}, ent(4, 15), []Entry{ent(1, 0), ent(2, 10), ent(4, 15)}},
		{"older epoch removes later epochs", []Entry{ent(1, 0), ent(3, 10)}, ent(2, 15), []Entry{ent(1, 0), ent(2, 15)}},
		{"older epoch lower offset removes all", []Entry{ent(5, 10), ent(6, 20)}, ent(1, 0), []Entry{ent(1, 0)}},
		{"epoch gap is fine", []Entry{ent(0, 0)}, ent(7, 3), []Entry{ent(0, 0), ent(7, 3)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := openWith(t, tc.start...)
			require.NoError(t, c.Assign(tc.assign.Epoch, tc.assign.StartOffset))
			assert.Equal(t, tc.want, c.Entries())
			if len(tc.want) > 0 {
				assert.Equal(t, tc.want, onDisk(t, c), "persisted")
			}
		})
	}
}

func TestAssignRejectsNegative(t *testing.T) {
	c := openWith(t)
	assert.ErrorIs(t, c.Assign(-1, 0), ErrInvalidEntry)
	assert.ErrorIs(t, c.Assign(0, -1), ErrInvalidEntry)
	assert.Empty(t, c.Entries())
}

func TestAssignUnchangedDoesNotWrite(t *testing.T) {
	c := openWith(t, ent(3, 7))
	require.NoError(t, os.Remove(c.Path()))
	require.NoError(t, c.Assign(3, 9))
	_, err := os.Stat(c.Path())
	assert.ErrorIs(t, err, os.ErrNotExist, "a no-op assign must not rewrite the file")
}

func TestEndOffsetFor(t *testing.T) {
	const leo = 100
	gappy := []Entry{ent(1, 0), ent(3, 10), ent(6, 40)}
	tests := []struct {
		name      string
		entries   []Entry
		requested int32
		wantEpoch int32
		wantEnd   int64
	}{
		{"empty cache", nil, 0, UndefinedEpoch, UndefinedEpochOffset},
		{"empty cache undefined", nil, UndefinedEpoch, UndefinedEpoch, UndefinedEpochOffset},
		{"undefined requested", gappy, UndefinedEpoch, UndefinedEpoch, UndefinedEpochOffset},
		{"latest epoch gives LEO", gappy, 6, 6, leo},
		{"above latest", gappy, 7, UndefinedEpoch, UndefinedEpochOffset},
		{"below first epoch", gappy, 0, 0, 0},
		{"exact older epoch", gappy, 1, 1, 10},
		{"exact middle epoch", gappy, 3, 3, 40},
		{"gap returns floor epoch", gappy, 2, 1, 10},
		{"gap before latest", gappy, 5, 3, 40},
		{"single entry latest", []Entry{ent(4, 20)}, 4, 4, leo},
		{"single entry below", []Entry{ent(4, 20)}, 2, 2, 20},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := openWith(t, tc.entries...)
			e, off := c.EndOffsetFor(tc.requested, leo)
			assert.Equal(t, tc.wantEpoch, e, "epoch")
			assert.Equal(t, tc.wantEnd, off, "end offset")
		})
	}
}

func TestEpochForOffset(t *testing.T) {
	c := openWith(t, ent(1, 5), ent(3, 10))
	for _, tc := range []struct {
		off  int64
		want int32
		ok   bool
	}{{0, UndefinedEpoch, false}, {4, UndefinedEpoch, false}, {5, 1, true}, {9, 1, true}, {10, 3, true}, {1000, 3, true}} {
		e, ok := c.EpochForOffset(tc.off)
		assert.Equal(t, tc.ok, ok, "offset %d", tc.off)
		assert.Equal(t, tc.want, e, "offset %d", tc.off)
	}
}

func TestTruncateFromEnd(t *testing.T) {
	base := []Entry{ent(1, 0), ent(2, 10), ent(3, 20)}
	tests := []struct {
		name string
		end  int64
		want []Entry
	}{
		{"beyond all", 30, base},
		{"inside last", 21, base},
		{"at last start", 20, []Entry{ent(1, 0), ent(2, 10)}},
		{"inside middle", 15, []Entry{ent(1, 0), ent(2, 10)}},
		{"at middle start", 10, []Entry{ent(1, 0)}},
		{"to zero", 0, []Entry{}},
		{"negative ignored", -1, base},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := openWith(t, base...)
			require.NoError(t, c.TruncateFromEnd(tc.end))
			assert.Equal(t, tc.want, c.Entries())
			assert.ElementsMatch(t, tc.want, onDisk(t, c))
		})
	}
}

func TestTruncateFromStart(t *testing.T) {
	base := []Entry{ent(1, 0), ent(2, 10), ent(3, 20)}
	tests := []struct {
		name  string
		start int64
		want  []Entry
	}{
		{"at zero", 0, base},
		{"inside first", 5, []Entry{ent(1, 5), ent(2, 10), ent(3, 20)}},
		{"at second start", 10, []Entry{ent(2, 10), ent(3, 20)}},
		{"inside second", 12, []Entry{ent(2, 12), ent(3, 20)}},
		{"beyond last start", 25, []Entry{ent(3, 25)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := openWith(t, base...)
			require.NoError(t, c.TruncateFromStart(tc.start))
			assert.Equal(t, tc.want, c.Entries())
			assert.Equal(t, tc.want, onDisk(t, c))
		})
	}
	c := openWith(t, ent(4, 50))
	require.NoError(t, c.TruncateFromStart(10))
	assert.Equal(t, []Entry{ent(4, 50)}, c.Entries(), "start before every entry changes nothing")
}

func TestLatestAndEarliest(t *testing.T) {
	c := openWith(t)
	_, ok := c.LatestEpoch()
	assert.False(t, ok)
	_, ok = c.EarliestEntry()
	assert.False(t, ok)
	require.NoError(t, c.Assign(2, 3))
	require.NoError(t, c.Assign(5, 8))
	e, ok := c.LatestEpoch()
	assert.True(t, ok)
	assert.Equal(t, int32(5), e)
	first, ok := c.EarliestEntry()
	assert.True(t, ok)
	assert.Equal(t, ent(2, 3), first)
}

func TestReopenAndClear(t *testing.T) {
	dir := t.TempDir()
	c, err := Open(dir)
	require.NoError(t, err)
	require.NoError(t, c.Assign(0, 0))
	require.NoError(t, c.Assign(4, 33))
	// A torn tmp file from a crash is ignored.
	require.NoError(t, os.WriteFile(c.Path()+checkpoint.TmpSuffix, []byte("0\n3\n9"), 0o644))

	again, err := Open(dir)
	require.NoError(t, err)
	assert.Equal(t, []Entry{ent(0, 0), ent(4, 33)}, again.Entries())

	require.NoError(t, again.Clear())
	third, err := Open(dir)
	require.NoError(t, err)
	assert.Empty(t, third.Entries())
}

func TestOpenRepairsNonMonotonicFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, checkpoint.LeaderEpochFile)
	require.NoError(t, os.WriteFile(path, []byte("0\n3\n1 0\n3 20\n2 10\n"), 0o644))
	c, err := Open(dir)
	require.NoError(t, err)
	assert.Equal(t, []Entry{ent(1, 0), ent(2, 10)}, c.Entries())
}

func TestOpenCorrupt(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, checkpoint.LeaderEpochFile), []byte("0\n2\n1 0\n"), 0o644))
	c, err := Open(dir)
	require.ErrorIs(t, err, checkpoint.ErrMalformed)
	require.NotNil(t, c, "the caller can Clear and rebuild")
	require.NoError(t, c.Clear())
	again, err := Open(dir)
	require.NoError(t, err)
	assert.Empty(t, again.Entries())
}

func TestPersistFailureIsReported(t *testing.T) {
	dir := t.TempDir()
	c, err := Open(dir)
	require.NoError(t, err)
	// Block the tmp path with a directory so the write fails.
	require.NoError(t, os.Mkdir(c.Path()+checkpoint.TmpSuffix, 0o755))
	require.Error(t, c.Assign(1, 0))
	assert.Equal(t, []Entry{ent(1, 0)}, c.Entries(), "memory mirrors the log even when the write failed")
}

func TestConcurrentUse(t *testing.T) {
	c := openWith(t)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 50 {
				if w == 0 {
					assert.NoError(t, c.Assign(int32(i), int64(i*10)))
				} else {
					c.EndOffsetFor(int32(i), 1000)
					c.Entries()
					c.LatestEpoch()
				}
			}
		})
	}
	wg.Wait()
	es := c.Entries()
	require.Len(t, es, 50)
	for i := 1; i < len(es); i++ {
		assert.Less(t, es[i-1].Epoch, es[i].Epoch)
		assert.Less(t, es[i-1].StartOffset, es[i].StartOffset)
	}
	assert.Equal(t, es, onDisk(t, c))
}
