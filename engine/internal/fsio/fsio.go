// Package fsio is the engine's file layer: every call that changes a file
// or a directory (create, write, fsync, truncate, rename, remove, mkdir) goes
// through one of its functions, so that tests can fail any one of them.
//
// Production code never arms an injector; then each function is the plain
// os call after one atomic load. A test arms an Injector for a directory
// tree with Inject (and disarms it with the returned func); every call on a
// path under that root asks the injector first, which may fail it before it
// runs, or (for writes) let only a prefix of the buffer reach the file and
// then fail, as a full disk does.
//
// Injectors are keyed by directory, not held in a package-global switch:
// tests running in parallel on their own temporary directories do not see
// each other's faults.
package fsio

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
)

// Op names a kind of file-system call.
type Op int

// The operations an Injector sees.
const (
	OpCreate   Op = iota // open with O_CREATE (a new segment, index, checkpoint temp file)
	OpWrite              // write or pwrite
	OpSync               // fsync of a file or directory
	OpTruncate           // ftruncate
	OpRename             // rename
	OpRemove             // unlink / remove a tree
	OpMkdir              // mkdir
	numOps
)

var opNames = [...]string{"create", "write", "sync", "truncate", "rename", "remove", "mkdir"}

func (o Op) String() string { return opNames[o] }

// Ops lists every Op, for tests that iterate over them.
func Ops() []Op {
	out := make([]Op, numOps)
	for i := range out {
		out[i] = Op(i)
	}
	return out
}

// Fault is an injector's answer. A zero Fault lets the call run.
type Fault struct {
	// Err, if non-nil, fails the call with it.
	Err error
	// Partial, for OpWrite with Err set, is how many bytes of the buffer
	// are written before the call fails (0: none).
	Partial int
}

// Injector decides the fate of one call: op on path, with size bytes for
// writes (0 otherwise). It is called concurrently.
type Injector interface {
	Fault(op Op, path string, size int) Fault
}

type armed struct {
	root string // cleaned, with a trailing separator
	inj  Injector
}

var (
	mu       sync.Mutex
	injected atomic.Pointer[[]armed] // nil when no test armed an injector
)

// Inject arms inj for every path under root until the returned func is
// called. For tests.
func Inject(root string, inj Injector) (disarm func()) {
	a := armed{root: filepath.Clean(root) + string(filepath.Separator), inj: inj}
	mu.Lock()
	defer mu.Unlock()
	var list []armed
	if p := injected.Load(); p != nil {
		list = append(list, *p...)
	}
	list = append(list, a)
	injected.Store(&list)
	var once sync.Once
	return func() { once.Do(func() { unarm(a) }) }
}

// unarm removes a from the armed injectors.
func unarm(a armed) {
	mu.Lock()
	defer mu.Unlock()
	var rest []armed
	for _, x := range *injected.Load() {
		if x != a {
			rest = append(rest, x)
		}
	}
	if len(rest) == 0 {
		injected.Store(nil)
	} else {
		injected.Store(&rest)
	}
}

// fault asks the injector armed for path, if any.
func fault(op Op, path string, size int) Fault {
	p := injected.Load()
	if p == nil {
		return Fault{}
	}
	for _, a := range *p {
		if strings.HasPrefix(path, a.root) || path+string(filepath.Separator) == a.root {
			return a.inj.Fault(op, path, size)
		}
	}
	return Fault{}
}

// OpenFile is os.OpenFile; with O_CREATE it is an OpCreate.
func OpenFile(name string, flag int, perm os.FileMode) (*os.File, error) {
	if flag&os.O_CREATE != 0 {
		if f := fault(OpCreate, name, 0); f.Err != nil {
			return nil, &os.PathError{Op: "open", Path: name, Err: f.Err}
		}
	}
	return os.OpenFile(name, flag, perm)
}

// WriteAt is f.WriteAt.
func WriteAt(f *os.File, b []byte, off int64) (int, error) {
	if ft := fault(OpWrite, f.Name(), len(b)); ft.Err != nil {
		n := 0
		if ft.Partial > 0 {
			n, _ = f.WriteAt(b[:min(ft.Partial, len(b))], off)
		}
		return n, &os.PathError{Op: "write", Path: f.Name(), Err: ft.Err}
	}
	return f.WriteAt(b, off)
}

// Write is f.Write.
func Write(f *os.File, b []byte) (int, error) {
	if ft := fault(OpWrite, f.Name(), len(b)); ft.Err != nil {
		n := 0
		if ft.Partial > 0 {
			n, _ = f.Write(b[:min(ft.Partial, len(b))])
		}
		return n, &os.PathError{Op: "write", Path: f.Name(), Err: ft.Err}
	}
	return f.Write(b)
}

// Sync is f.Sync.
func Sync(f *os.File) error {
	if ft := fault(OpSync, f.Name(), 0); ft.Err != nil {
		return &os.PathError{Op: "sync", Path: f.Name(), Err: ft.Err}
	}
	return f.Sync()
}

// SyncDir fsyncs a directory so that entries created, renamed or removed
// in it persist.
func SyncDir(dir string) error {
	if ft := fault(OpSync, dir, 0); ft.Err != nil {
		return &os.PathError{Op: "sync", Path: dir, Err: ft.Err}
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// Truncate is f.Truncate.
func Truncate(f *os.File, size int64) error {
	if ft := fault(OpTruncate, f.Name(), 0); ft.Err != nil {
		return &os.PathError{Op: "truncate", Path: f.Name(), Err: ft.Err}
	}
	return f.Truncate(size)
}

// Rename is os.Rename.
func Rename(from, to string) error {
	if ft := fault(OpRename, from, 0); ft.Err != nil {
		return &os.LinkError{Op: "rename", Old: from, New: to, Err: ft.Err}
	}
	return os.Rename(from, to)
}

// Remove is os.Remove.
func Remove(name string) error {
	if ft := fault(OpRemove, name, 0); ft.Err != nil {
		return &os.PathError{Op: "remove", Path: name, Err: ft.Err}
	}
	return os.Remove(name)
}

// RemoveAll is os.RemoveAll.
func RemoveAll(name string) error {
	if ft := fault(OpRemove, name, 0); ft.Err != nil {
		return &os.PathError{Op: "remove", Path: name, Err: ft.Err}
	}
	return os.RemoveAll(name)
}

// Mkdir is os.Mkdir.
func Mkdir(name string, perm os.FileMode) error {
	if ft := fault(OpMkdir, name, 0); ft.Err != nil {
		return &os.PathError{Op: "mkdir", Path: name, Err: ft.Err}
	}
	return os.Mkdir(name, perm)
}

// MkdirAll is os.MkdirAll.
func MkdirAll(name string, perm os.FileMode) error {
	if ft := fault(OpMkdir, name, 0); ft.Err != nil {
		return &os.PathError{Op: "mkdir", Path: name, Err: ft.Err}
	}
	return os.MkdirAll(name, perm)
}
