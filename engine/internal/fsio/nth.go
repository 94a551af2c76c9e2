package fsio

import (
	"strings"
	"sync"
	"syscall"
)

// Nth is an Injector for tests: it counts the calls of the chosen ops on
// paths containing Match (every path when empty) and fails call number N
// (1-based; 0 fails none) with Err (default EIO). With Partial > 0 a failed
// write first writes that many bytes (a torn write). With Sticky every
// matching call from the Nth on fails, as on a full or dead disk.
type Nth struct {
	Ops     []Op
	Match   string
	N       int
	Err     error
	Partial int
	Sticky  bool

	mu    sync.Mutex
	count int
	hit   []string // "op path" of every failed call
}

// Fault implements Injector.
func (x *Nth) Fault(op Op, path string, size int) Fault {
	if !x.matches(op, path) {
		return Fault{}
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	x.count++
	if x.N <= 0 || x.count < x.N || (x.count > x.N && !x.Sticky) {
		return Fault{}
	}
	x.hit = append(x.hit, op.String()+" "+path)
	err := x.Err
	if err == nil {
		err = syscall.EIO
	}
	return Fault{Err: err, Partial: x.Partial}
}

func (x *Nth) matches(op Op, path string) bool {
	if x.Match != "" && !strings.Contains(path, x.Match) {
		return false
	}
	if len(x.Ops) == 0 {
		return true
	}
	for _, o := range x.Ops {
		if o == op {
			return true
		}
	}
	return false
}

// Count returns how many matching calls were seen.
func (x *Nth) Count() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.count
}

// Hits returns the failed calls as "op path".
func (x *Nth) Hits() []string {
	x.mu.Lock()
	defer x.mu.Unlock()
	return append([]string(nil), x.hit...)
}
