package lazyfs_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strom-broker/strom/tools/faultbed/lazyfs"
)

// mount mounts a fresh lazyfs for t, skipping only when /dev/fuse is
// missing; it returns the file system and its mountpoint.
func mount(t *testing.T) (*lazyfs.FS, string) {
	t.Helper()
	if err := lazyfs.Available(); err != nil {
		t.Skipf("skipping: FUSE is not available here (%v)", err)
	}
	backing, mnt := t.TempDir(), t.TempDir()
	f, err := lazyfs.Mount(backing, mnt)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, f.Unmount()) })
	return f, mnt
}

func write(t *testing.T, p string, off int64, data []byte, sync bool) {
	t.Helper()
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644)
	require.NoError(t, err)
	defer f.Close()
	_, err = f.WriteAt(data, off)
	require.NoError(t, err)
	if sync {
		require.NoError(t, f.Sync())
	}
}

func crash(t *testing.T, f *lazyfs.FS) int {
	t.Helper()
	n, err := f.Crash()
	require.NoError(t, err)
	return n
}

// TestSyncedSurvivesUnsyncedIsLost: appends and overwrites after the last
// fsync are gone after a crash; what was fsynced is back byte for byte
// (an overwrite of synced bytes included).
func TestSyncedSurvivesUnsyncedIsLost(t *testing.T) {
	f, mnt := mount(t)
	p := filepath.Join(mnt, "log")
	synced := bytes.Repeat([]byte("s"), 10000) // spans 3 pages
	write(t, p, 0, synced, true)
	write(t, p, 10000, bytes.Repeat([]byte("u"), 5000), false) // append
	write(t, p, 4090, []byte("OVERWRITE"), false)              // across a page boundary
	got, err := os.ReadFile(p)
	require.NoError(t, err)
	require.Len(t, got, 15000, "before the crash the unsynced writes are visible")
	assert.Equal(t, 1, f.Unsynced())

	assert.Equal(t, 1, crash(t, f), "one file reverted")
	got, err = os.ReadFile(p)
	require.NoError(t, err)
	assert.Equal(t, synced, got, "exactly the synced contents")
	assert.Equal(t, 0, f.Unsynced())

	// Written and synced after the crash: survives the next one.
	write(t, p, 10000, []byte("more"), true)
	assert.Equal(t, 0, crash(t, f))
	got, err = os.ReadFile(p)
	require.NoError(t, err)
	assert.Equal(t, append(append([]byte{}, synced...), "more"...), got)
}

// TestNewFileComesBackEmpty: a created, never fsynced file keeps its name
// (the namespace is durable) and loses its contents.
func TestNewFileComesBackEmpty(t *testing.T) {
	f, mnt := mount(t)
	require.NoError(t, os.MkdirAll(filepath.Join(mnt, "dir", "sub"), 0o755))
	p := filepath.Join(mnt, "dir", "sub", "new")
	write(t, p, 0, []byte("never synced"), false)
	crash(t, f)
	got, err := os.ReadFile(p)
	require.NoError(t, err, "the name survives")
	assert.Empty(t, got, "the data does not")
}

// TestTruncateIsVolatile: a truncation after the last fsync is undone
// (the synced tail comes back); one before it is kept; O_TRUNC likewise.
func TestTruncateIsVolatile(t *testing.T) {
	f, mnt := mount(t)
	p := filepath.Join(mnt, "t")
	data := bytes.Repeat([]byte("0123456789"), 1000)
	write(t, p, 0, data, true)
	require.NoError(t, os.Truncate(p, 1234))
	crash(t, f)
	got, err := os.ReadFile(p)
	require.NoError(t, err)
	assert.Equal(t, data, got, "the unsynced truncation is undone")

	fh, err := os.OpenFile(p, os.O_RDWR, 0)
	require.NoError(t, err)
	require.NoError(t, fh.Truncate(1234))
	require.NoError(t, fh.Sync())
	require.NoError(t, fh.Close())
	fh, err = os.OpenFile(p, os.O_RDWR|os.O_TRUNC, 0)
	require.NoError(t, err)
	_, err = fh.Write([]byte("replaced"))
	require.NoError(t, err)
	require.NoError(t, fh.Close())
	crash(t, f)
	got, err = os.ReadFile(p)
	require.NoError(t, err)
	assert.Equal(t, data[:1234], got, "the synced truncation kept, O_TRUNC and the write undone")
}

// TestRenameIsDurable: the checkpoint pattern (write a temporary file,
// fsync, rename over the old one) survives a crash with the new contents;
// a rename of an unsynced file leaves the new name empty.
func TestRenameIsDurable(t *testing.T) {
	f, mnt := mount(t)
	final := filepath.Join(mnt, "checkpoint")
	write(t, final, 0, []byte("old"), true)
	tmp := final + ".tmp"
	write(t, tmp, 0, []byte("new contents"), true)
	require.NoError(t, os.Rename(tmp, final))
	crash(t, f)
	got, err := os.ReadFile(final)
	require.NoError(t, err)
	assert.Equal(t, "new contents", string(got))
	_, err = os.Stat(tmp)
	assert.True(t, os.IsNotExist(err), "the old name is gone for good")

	write(t, tmp, 0, []byte("not synced"), false)
	require.NoError(t, os.Rename(tmp, final))
	crash(t, f)
	got, err = os.ReadFile(final)
	require.NoError(t, err)
	assert.Empty(t, got, "renamed but never fsynced: empty, as on ext4 without auto_da_alloc")
}

// TestUnmountKeepsEverything: a clean unmount is not a crash; what was
// written is in the backing directory.
func TestUnmountKeepsEverything(t *testing.T) {
	if err := lazyfs.Available(); err != nil {
		t.Skipf("skipping: FUSE is not available here (%v)", err)
	}
	backing, mnt := t.TempDir(), t.TempDir()
	f, err := lazyfs.Mount(backing, mnt)
	require.NoError(t, err)
	write(t, filepath.Join(mnt, "x"), 0, []byte("kept"), false)
	require.NoError(t, f.Unmount())
	got, err := os.ReadFile(filepath.Join(backing, "x"))
	require.NoError(t, err)
	assert.Equal(t, "kept", string(got))
}
