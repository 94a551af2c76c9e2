package fsio

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNthFailsOnlyUnderItsRoot(t *testing.T) {
	dir, other := t.TempDir(), t.TempDir()
	x := &Nth{Ops: []Op{OpWrite}, N: 2, Partial: 3}
	defer Inject(dir, x)()
	f, err := OpenFile(filepath.Join(dir, "a"), os.O_RDWR|os.O_CREATE, 0o644)
	require.NoError(t, err)
	defer f.Close()
	g, err := OpenFile(filepath.Join(other, "b"), os.O_RDWR|os.O_CREATE, 0o644)
	require.NoError(t, err)
	defer g.Close()

	_, err = WriteAt(f, []byte("hello"), 0)
	require.NoError(t, err)
	_, err = WriteAt(g, []byte("hello"), 0) // other root: not counted
	require.NoError(t, err)
	n, err := WriteAt(f, []byte("world"), 5)
	assert.True(t, errors.Is(err, syscall.EIO), "%v", err)
	assert.Equal(t, 3, n)
	b, _ := os.ReadFile(filepath.Join(dir, "a"))
	assert.Equal(t, "hellowor", string(b), "the torn write leaves its prefix")
	_, err = WriteAt(f, []byte("!"), 8) // not sticky: the next one passes
	assert.NoError(t, err)
	assert.Equal(t, 3, x.Count())
	assert.Len(t, x.Hits(), 1)
}
