package lazyfs

import (
	"context"
	"path/filepath"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// node is go-fuse's loopback node with every change to a file's data or
// size routed through FS.mutate, fsync through FS.synced, and namespace
// changes refused once crashed.
type node struct {
	gofs.LoopbackNode
	lfs *FS
	id  fileID
}

func (f *FS) newNode(r *gofs.LoopbackRoot, _ *gofs.Inode, _ string, st *syscall.Stat_t) gofs.InodeEmbedder {
	return &node{LoopbackNode: gofs.LoopbackNode{RootData: r}, lfs: f, id: fileID{uint64(st.Dev), st.Ino}}
}

// backingPath is the node's path in the backing directory.
func (n *node) backingPath() string {
	return filepath.Join(n.RootData.Path, n.Path(n.Root()))
}

// lastLink returns the id of the regular file at p if p is its only name.
func lastLink(p string) (fileID, bool) {
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil || st.Nlink > 1 || st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		return fileID{}, false
	}
	return fileID{uint64(st.Dev), st.Ino}, true
}

var (
	_ gofs.NodeOpener         = (*node)(nil)
	_ gofs.NodeCreater        = (*node)(nil)
	_ gofs.NodeWriter         = (*node)(nil)
	_ gofs.NodeWritever       = (*node)(nil)
	_ gofs.NodeFsyncer        = (*node)(nil)
	_ gofs.NodeSetattrer      = (*node)(nil)
	_ gofs.NodeAllocater      = (*node)(nil)
	_ gofs.NodeCopyFileRanger = (*node)(nil)
	_ gofs.NodeUnlinker       = (*node)(nil)
	_ gofs.NodeRenamer        = (*node)(nil)
)

// Open opens the file; O_TRUNC is a truncation to 0.
func (n *node) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	var fh gofs.FileHandle
	var ff uint32
	open := func() (errno syscall.Errno) {
		fh, ff, errno = n.LoopbackNode.Open(ctx, flags)
		return errno
	}
	var errno syscall.Errno
	if flags&syscall.O_TRUNC != 0 {
		errno = n.lfs.mutate(n.id, n.backingPath, 0, -1, open)
	} else if errno = n.lfs.refuse(); errno == 0 {
		errno = open()
	}
	if errno != 0 {
		return nil, 0, errno
	}
	return wrap(fh), ff, 0
}

// Create creates (or opens) a file; the name is durable at once, the
// contents of a new file are not (it comes back empty after a crash).
func (n *node) Create(ctx context.Context, name string, flags, mode uint32, out *fuse.EntryOut) (*gofs.Inode, gofs.FileHandle, uint32, syscall.Errno) {
	var ch *gofs.Inode
	var fh gofs.FileHandle
	var ff uint32
	create := func() (errno syscall.Errno) {
		ch, fh, ff, errno = n.LoopbackNode.Create(ctx, name, flags, mode, out)
		return errno
	}
	p := filepath.Join(n.backingPath(), name)
	var errno syscall.Errno
	var st syscall.Stat_t
	if flags&syscall.O_TRUNC != 0 && syscall.Lstat(p, &st) == nil {
		errno = n.lfs.mutate(fileID{uint64(st.Dev), st.Ino}, func() string { return p }, 0, -1, create)
	} else if errno = n.lfs.refuse(); errno == 0 {
		errno = create()
	}
	if errno != 0 {
		return nil, nil, 0, errno
	}
	return ch, wrap(fh), ff, 0
}

// Tmpfile (O_TMPFILE) is not supported.
func (n *node) Tmpfile(context.Context, uint32, uint32, *fuse.EntryOut) (*gofs.Inode, gofs.FileHandle, uint32, syscall.Errno) {
	return nil, nil, 0, syscall.EOPNOTSUPP
}

// Write writes data at off, volatile until fsync.
func (n *node) Write(ctx context.Context, fh gofs.FileHandle, data []byte, off int64) (uint32, syscall.Errno) {
	w, ok := fh.(gofs.FileWriter)
	if !ok {
		return 0, syscall.EBADF
	}
	var written uint32
	errno := n.lfs.mutate(n.id, n.backingPath, off, off+int64(len(data)), func() (errno syscall.Errno) {
		written, errno = w.Write(ctx, data, off)
		return errno
	})
	return written, errno
}

// Writev is Write of the concatenated slices.
func (n *node) Writev(ctx context.Context, fh gofs.FileHandle, data [][]byte, off int64) (uint32, syscall.Errno) {
	var all []byte
	for _, d := range data {
		all = append(all, d...)
	}
	return n.Write(ctx, fh, all, off)
}

// Fsync makes the file's present contents durable (fsync and fdatasync
// alike; of a directory: nothing, the namespace is durable already).
func (n *node) Fsync(context.Context, gofs.FileHandle, uint32) syscall.Errno {
	if n.StableAttr().Mode&syscall.S_IFMT == syscall.S_IFDIR {
		return n.lfs.refuse()
	}
	return n.lfs.synced(n.id)
}

// Setattr changes attributes; a size change is a volatile truncation.
func (n *node) Setattr(ctx context.Context, fh gofs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	set := func() syscall.Errno { return n.LoopbackNode.Setattr(ctx, fh, in, out) }
	if sz, ok := in.GetSize(); ok {
		return n.lfs.mutate(n.id, n.backingPath, int64(sz), -1, set)
	}
	if errno := n.lfs.refuse(); errno != 0 {
		return errno
	}
	return set()
}

// Allocate is fallocate: volatile like a write of the range.
func (n *node) Allocate(ctx context.Context, fh gofs.FileHandle, off, size uint64, mode uint32) syscall.Errno {
	a, ok := fh.(gofs.FileAllocater)
	if !ok {
		return syscall.EBADF
	}
	return n.lfs.mutate(n.id, n.backingPath, int64(off), int64(off+size), func() syscall.Errno {
		return a.Allocate(ctx, off, size, mode)
	})
}

// CopyFileRange is refused, so that the kernel falls back to reads and
// writes, which go through Write.
func (n *node) CopyFileRange(context.Context, gofs.FileHandle, uint64, *gofs.Inode, gofs.FileHandle, uint64, uint64, uint64) (uint32, syscall.Errno) {
	return 0, syscall.EOPNOTSUPP
}

// Unlink removes a name (durable at once).
func (n *node) Unlink(ctx context.Context, name string) syscall.Errno {
	if errno := n.lfs.refuse(); errno != 0 {
		return errno
	}
	id, last := lastLink(filepath.Join(n.backingPath(), name))
	errno := n.LoopbackNode.Unlink(ctx, name)
	if errno == 0 && last {
		n.lfs.drop(id)
	}
	return errno
}

// Rename renames (durable at once); a file replaced at the new name is
// gone for good.
func (n *node) Rename(ctx context.Context, name string, newParent gofs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	if errno := n.lfs.refuse(); errno != 0 {
		return errno
	}
	var id fileID
	var last bool
	if np, ok := newParent.(*node); ok && flags&unixRenameExchange == 0 {
		id, last = lastLink(filepath.Join(np.backingPath(), newName))
	}
	errno := n.LoopbackNode.Rename(ctx, name, newParent, newName, flags)
	if errno == 0 && last {
		n.lfs.drop(id)
	}
	return errno
}

// Mkdir creates a directory (durable at once).
func (n *node) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	if errno := n.lfs.refuse(); errno != 0 {
		return nil, errno
	}
	return n.LoopbackNode.Mkdir(ctx, name, mode, out)
}

// Rmdir removes a directory (durable at once).
func (n *node) Rmdir(ctx context.Context, name string) syscall.Errno {
	if errno := n.lfs.refuse(); errno != 0 {
		return errno
	}
	return n.LoopbackNode.Rmdir(ctx, name)
}

const unixRenameExchange = 1 << 1 // RENAME_EXCHANGE

// handle is go-fuse's loopback file handle without its passthrough file
// descriptor (the kernel would then write to the backing file directly,
// past lazyfs) and without Writev (Write is routed by the node).
type handle struct{ lf *gofs.LoopbackFile }

func wrap(fh gofs.FileHandle) gofs.FileHandle {
	if lf, ok := fh.(*gofs.LoopbackFile); ok {
		return &handle{lf: lf}
	}
	return fh
}

// Read reads from the backing file.
func (h *handle) Read(ctx context.Context, buf []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	return h.lf.Read(ctx, buf, off)
}

// Write writes to the backing file (called by node.Write only).
func (h *handle) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	return h.lf.Write(ctx, data, off)
}

// Release closes the backing file.
func (h *handle) Release(ctx context.Context) syscall.Errno { return h.lf.Release(ctx) }

// Flush is close(2)'s flush.
func (h *handle) Flush(ctx context.Context) syscall.Errno { return h.lf.Flush(ctx) }

// Getattr stats the backing file.
func (h *handle) Getattr(ctx context.Context, out *fuse.AttrOut) syscall.Errno {
	return h.lf.Getattr(ctx, out)
}

// Setattr changes the backing file (called by node.Setattr only).
func (h *handle) Setattr(ctx context.Context, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	return h.lf.Setattr(ctx, in, out)
}

// Lseek is SEEK_DATA / SEEK_HOLE on the backing file.
func (h *handle) Lseek(ctx context.Context, off uint64, whence uint32) (uint64, syscall.Errno) {
	return h.lf.Lseek(ctx, off, whence)
}

// Allocate is fallocate on the backing file (called by node.Allocate only).
func (h *handle) Allocate(ctx context.Context, off, size uint64, mode uint32) syscall.Errno {
	return h.lf.Allocate(ctx, off, size, mode)
}

// Getlk, Setlk and Setlkw are file locks (flock included) on the backing file.
func (h *handle) Getlk(ctx context.Context, owner uint64, lk *fuse.FileLock, flags uint32, out *fuse.FileLock) syscall.Errno {
	return h.lf.Getlk(ctx, owner, lk, flags, out)
}

// Setlk sets a lock without waiting.
func (h *handle) Setlk(ctx context.Context, owner uint64, lk *fuse.FileLock, flags uint32) syscall.Errno {
	return h.lf.Setlk(ctx, owner, lk, flags)
}

// Setlkw sets a lock, waiting for it.
func (h *handle) Setlkw(ctx context.Context, owner uint64, lk *fuse.FileLock, flags uint32) syscall.Errno {
	return h.lf.Setlkw(ctx, owner, lk, flags)
}
