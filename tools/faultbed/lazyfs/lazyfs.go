// Package lazyfs is a FUSE file system that loses what was not fsynced
// when the machine "crashes", as Jepsen's LazyFS does: a loopback view of
// a backing directory (every operation passes through to it at once) that
// remembers, for each file changed since its last fsync, its size and the
// bytes its unsynced writes overwrote. Crash unmounts it, puts every such
// file back as it was at its last fsync, and mounts it again, as a
// machine that lost power and rebooted would find its disk.
//
// # Semantics (what "durable" means here)
//
//   - File data and file size are volatile until fsync or fdatasync of
//     that file (through any descriptor). A crash reverts the file to its
//     contents and size at its last fsync: writes after it are undone,
//     and so are truncations (a truncated tail that was synced comes
//     back), O_TRUNC and fallocate.
//   - A file created and never fsynced survives a crash empty (its name
//     is durable, its data is not).
//   - The namespace is durable at once: create, mkdir, rename, link,
//     symlink, unlink and rmdir are never undone (a journaling file
//     system that commits metadata synchronously, like ext4 with
//     dirsync). So a file written, not fsynced and renamed over another
//     comes back empty or short after a crash, as on ext4 without
//     auto_da_alloc: the program must fsync before rename.
//   - fsync of a directory is accepted and changes nothing.
//   - fsync does not fsync the backing directory: it stands for the disk,
//     and the process serving the mount is not crashed.
//
// Pages are 4 KiB: a write to a synced page saves that page's synced
// bytes once (until the next fsync), so the memory held is the synced
// bytes overwritten since the last fsync, never the appended ones.
//
// # Invariants
//
// Under FS.mu: a file has an entry in FS.files iff it was changed since
// its last fsync; entry.size is its size at that fsync, and entry.pages
// holds the synced bytes of every page below that size that was changed
// since. Every change to a file's data or size records its entry before
// it reaches the backing file. Once crashed is set, no change reaches the
// backing directory until Crash has reverted it.
package lazyfs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

const pageSize = 4096

// Available returns nil if FUSE mounts can be tried here (/dev/fuse
// exists), else an error saying why not.
func Available() error {
	if _, err := os.Stat("/dev/fuse"); err != nil {
		return fmt.Errorf("lazyfs: no FUSE device: %w", err)
	}
	return nil
}

// fileID names a backing file (device and inode), stable across renames.
type fileID struct{ dev, ino uint64 }

// entry is what a file was at its last fsync.
type entry struct {
	size  int64            // size at the last fsync
	pages map[int64][]byte // page number -> synced bytes of that page
}

// FS is one mounted lazy file system.
type FS struct {
	backing, mountpoint string

	mu      sync.Mutex
	server  *fuse.Server
	files   map[fileID]*entry
	crashed bool
}

// Mount serves backing (an existing directory) at mountpoint (an existing
// empty directory) until Unmount.
func Mount(backing, mountpoint string) (*FS, error) {
	if err := Available(); err != nil {
		return nil, err
	}
	f := &FS{backing: backing, mountpoint: mountpoint, files: map[fileID]*entry{}}
	if err := f.mount(); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *FS) mount() error {
	lr := &gofs.LoopbackRoot{Path: f.backing, NewNode: f.newNode}
	var st syscall.Stat_t
	if err := syscall.Stat(f.backing, &st); err != nil {
		return fmt.Errorf("lazyfs: backing dir: %w", err)
	}
	lr.Dev = st.Dev
	lr.RootNode = f.newNode(lr, nil, "", &st)
	one := time.Second
	srv, err := gofs.Mount(f.mountpoint, lr.RootNode, &gofs.Options{
		EntryTimeout: &one, AttrTimeout: &one, NegativeTimeout: &one,
		MountOptions: fuse.MountOptions{DirectMount: true, FsName: "lazyfs:" + f.backing, Name: "lazyfs"},
	})
	if err != nil {
		return fmt.Errorf("lazyfs: mount %s: %w", f.mountpoint, err)
	}
	f.mu.Lock()
	f.server = srv
	f.mu.Unlock()
	return nil
}

// Unmount unmounts the file system, keeping unsynced writes (a clean
// shutdown: what was written is in the backing directory).
func (f *FS) Unmount() error {
	f.mu.Lock()
	srv := f.server
	f.server = nil
	f.mu.Unlock()
	if srv == nil {
		return nil
	}
	return unmount(srv, f.mountpoint)
}

func unmount(srv *fuse.Server, mountpoint string) error {
	var err error
	for range 50 { // a process that just died may still hold files briefly
		if err = srv.Unmount(); err == nil {
			srv.Wait()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Detach it: the kernel drops it once the last user is gone.
	if derr := syscall.Unmount(mountpoint, syscall.MNT_DETACH); derr != nil {
		return fmt.Errorf("lazyfs: unmount %s: %w (detach: %v)", mountpoint, err, derr)
	}
	return nil
}

// Crash simulates a power loss: from now on nothing written reaches the
// backing directory; the file system is unmounted (its kernel page cache
// goes with it), every file changed since its last fsync is put back as
// it was then, and it is mounted again at the same place. The processes
// that used it must be dead (kill -9 them first). It returns how many
// files it reverted.
func (f *FS) Crash() (int, error) {
	f.mu.Lock()
	f.crashed = true
	srv := f.server
	f.server = nil
	f.mu.Unlock()
	if srv != nil {
		if err := unmount(srv, f.mountpoint); err != nil {
			return 0, err
		}
	}
	f.mu.Lock()
	n, err := f.revertLocked()
	f.crashed = false
	f.mu.Unlock()
	if err != nil {
		return n, err
	}
	return n, f.mount()
}

// Unsynced returns how many files hold changes not fsynced.
func (f *FS) Unsynced() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.files)
}

// revertLocked puts every changed file back as it was at its last fsync.
// REQUIRES: f.mu is held.
func (f *FS) revertLocked() (int, error) {
	if len(f.files) == 0 {
		return 0, nil
	}
	paths := map[fileID]string{}
	err := filepath.WalkDir(f.backing, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			paths[fileID{uint64(st.Dev), st.Ino}] = p
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("lazyfs: crash: %w", err)
	}
	var errs []error
	n := 0
	for id, e := range f.files {
		p, ok := paths[id]
		if !ok {
			continue // unlinked since: nothing to revert
		}
		if err := revert(p, e); err != nil {
			errs = append(errs, err)
		}
		n++
	}
	f.files = map[fileID]*entry{}
	return n, errors.Join(errs...)
}

// revert writes a file's synced pages back and cuts it to its synced size.
func revert(p string, e *entry) error {
	file, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("lazyfs: crash: %w", err)
	}
	defer file.Close()
	for page, data := range e.pages {
		if _, err := file.WriteAt(data, page*pageSize); err != nil {
			return fmt.Errorf("lazyfs: crash: %w", err)
		}
	}
	if err := file.Truncate(e.size); err != nil {
		return fmt.Errorf("lazyfs: crash: %w", err)
	}
	return nil
}

// mutate runs op, which changes [off, end) of the file id at backing
// path p() (end < 0: everything from off, a truncation to off), after
// saving the synced bytes it overwrites. It runs under f.mu, so that an
// fsync never falls between the record and the change. It returns EIO
// once the machine has crashed.
func (f *FS) mutate(id fileID, p func() string, off, end int64, op func() syscall.Errno) syscall.Errno {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.crashed {
		return syscall.EIO
	}
	if errno := f.recordLocked(id, p, off, end); errno != 0 {
		return errno
	}
	return op()
}

// recordLocked saves what [off, end) holds of the file's synced state.
// REQUIRES: f.mu is held.
func (f *FS) recordLocked(id fileID, p func() string, off, end int64) syscall.Errno {
	e := f.files[id]
	if e == nil {
		var st syscall.Stat_t
		if err := syscall.Stat(p(), &st); err != nil {
			return gofs.ToErrno(err)
		}
		e = &entry{size: st.Size, pages: map[int64][]byte{}}
		f.files[id] = e
	}
	if end < 0 || end > e.size {
		end = e.size
	}
	if off >= end {
		return 0 // only bytes beyond the synced size change: the size reverts them
	}
	var file *os.File
	defer func() {
		if file != nil {
			file.Close()
		}
	}()
	for page := off / pageSize; page*pageSize < end; page++ {
		if _, saved := e.pages[page]; saved {
			continue
		}
		if file == nil {
			var err error
			if file, err = os.Open(p()); err != nil {
				return gofs.ToErrno(err)
			}
		}
		buf := make([]byte, min(pageSize, e.size-page*pageSize))
		if _, err := file.ReadAt(buf, page*pageSize); err != nil {
			return gofs.ToErrno(err)
		}
		e.pages[page] = buf
	}
	return 0
}

// synced forgets a file's saved state: its present contents are durable.
func (f *FS) synced(id fileID) syscall.Errno {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.crashed {
		return syscall.EIO
	}
	delete(f.files, id)
	return 0
}

// drop forgets a file whose last name is gone.
func (f *FS) drop(id fileID) {
	f.mu.Lock()
	delete(f.files, id)
	f.mu.Unlock()
}

// refuse returns EIO once crashed, for namespace changes.
func (f *FS) refuse() syscall.Errno {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.crashed {
		return syscall.EIO
	}
	return 0
}
