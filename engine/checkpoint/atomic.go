package checkpoint

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/strom-broker/strom/engine/internal/fsio"
)

// TmpSuffix is appended to a path to name the temporary file WriteFileAtomic
// writes before renaming it into place. Readers ignore such files.
const TmpSuffix = ".tmp"

// WriteFileAtomic replaces the file at path with data so that a crash at any
// moment leaves either the complete old content or the complete new content:
// it writes path+TmpSuffix, fsyncs it, renames it over path and fsyncs the
// containing directory so the rename itself is durable.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp := path + TmpSuffix
	f, err := fsio.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return fmt.Errorf("checkpoint: create %s: %w", tmp, err)
	}
	if _, err := fsio.Write(f, data); err != nil {
		_ = f.Close()
		return fmt.Errorf("checkpoint: write %s: %w", tmp, err)
	}
	if err := fsio.Sync(f); err != nil {
		_ = f.Close()
		return fmt.Errorf("checkpoint: fsync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("checkpoint: close %s: %w", tmp, err)
	}
	if err := fsio.Rename(tmp, path); err != nil {
		return fmt.Errorf("checkpoint: rename %s: %w", tmp, err)
	}
	return SyncDir(filepath.Dir(path))
}

// SyncDir fsyncs a directory so that renames, creations and deletions of its
// entries survive a crash.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("checkpoint: open dir %s: %w", dir, err)
	}
	err = fsio.Sync(d)
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("checkpoint: fsync dir %s: %w", dir, err)
	}
	return nil
}
