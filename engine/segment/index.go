package segment

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/edsrzf/mmap-go"

	"github.com/strom-broker/strom/engine/internal/fsio"
)

// ErrIndexFull is returned by an index append when the preallocated file
// has no room left; the log rolls before that happens.
var ErrIndexFull = errors.New("segment: index full")

// errIndexInvalid marks an index that failed its sanity check; the segment
// rebuilds it from the log.
var errIndexInvalid = errors.New("segment: index invalid")

// mmapIndex is a file of fixed-size entries. Lookups read them through a
// read-only shared mapping of the file; entries are written with pwrite,
// never through the mapping, and the mapping sees them at once (one page
// cache). The first store into a page of a sparse, preallocated file
// through a writable mapping costs a page fault that allocates the block
// under the file system's journal, measured at milliseconds per page on
// ext4; pwrite of the same bytes costs microseconds, and so does trimming
// the file afterwards.
//
// Invariants: the file is exactly len(mm) bytes; entries [0, n) are valid;
// bytes from n*entrySize to the end of the file are zero (never written,
// or zeroed when entries are dropped); len(mm) is a multiple of entrySize;
// n*entrySize <= len(mm).
//
// Concurrency: mu guards mm and n. Lookups hold it shared; appends,
// truncation and remapping (resize, trim) hold it exclusively, so a lookup
// never touches an unmapped region.
type mmapIndex struct {
	mu        sync.RWMutex
	path      string
	f         *os.File
	mm        mmap.MMap
	entrySize int
	n         int
}

// openIndex opens or creates path. An existing file's entries are the whole
// file; a size that is not a multiple of entrySize is errIndexInvalid.
func openIndex(path string, entrySize int) (*mmapIndex, error) {
	f, err := fsio.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	ix := &mmapIndex{path: path, f: f, entrySize: entrySize}
	if st.Size()%int64(entrySize) != 0 {
		f.Close()
		return nil, fmt.Errorf("%s: size %d not a multiple of %d: %w", path, st.Size(), entrySize, errIndexInvalid)
	}
	if err := ix.mapFile(int(st.Size())); err != nil {
		f.Close()
		return nil, err
	}
	ix.n = len(ix.mm) / entrySize
	return ix, nil
}

// remap sets the file length to size and maps it. REQUIRES: mu held
// exclusively (or the index not yet shared).
func (ix *mmapIndex) remap(size int) error {
	old := len(ix.mm) // the file's size (invariant)
	if ix.mm != nil {
		if err := ix.mm.Unmap(); err != nil {
			return fmt.Errorf("%s: unmap: %w", ix.path, err)
		}
		ix.mm = nil
	}
	if size != old {
		// A size change is a metadata update under the file system's
		// journal: skip it when there is none (a new, empty index).
		if err := fsio.Truncate(ix.f, int64(size)); err != nil {
			return fmt.Errorf("%s: resize: %w", ix.path, err)
		}
	}
	return ix.mapFile(size)
}

// mapFile maps the first size bytes of the file, which has exactly that
// size. REQUIRES: as remap; ix.mm is nil.
func (ix *mmapIndex) mapFile(size int) error {
	if size == 0 {
		return nil
	}
	mm, err := mmap.MapRegion(ix.f, size, mmap.RDONLY, 0, 0)
	if err != nil {
		return fmt.Errorf("%s: mmap: %w", ix.path, err)
	}
	ix.mm = mm
	return nil
}

// preallocate grows the file to maxBytes rounded down to whole entries, for
// an active segment (Kafka's segment.index.bytes).
func (ix *mmapIndex) preallocate(maxBytes int) error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	size := maxBytes / ix.entrySize * ix.entrySize
	if size < (ix.n+1)*ix.entrySize {
		size = (ix.n + 1) * ix.entrySize
	}
	if size == len(ix.mm) {
		return nil
	}
	return ix.remap(size)
}

// trim shrinks the file to its entries, as Kafka leaves a closed segment's
// index.
func (ix *mmapIndex) trim() error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if len(ix.mm) == ix.n*ix.entrySize {
		return nil
	}
	return ix.remap(ix.n * ix.entrySize)
}

// reset drops every entry.
func (ix *mmapIndex) reset() error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return ix.truncateLocked(0)
}

// truncateLocked keeps the first n entries and zeroes the dropped ones, so
// the preallocated tail never holds stale entries: it cuts the file after
// the kept entries and extends it back to its size, which leaves a hole
// that reads as zeros (no data is written, blocks are freed).
// REQUIRES: mu held exclusively, so no lookup touches the mapping while
// the file is shorter than it.
func (ix *mmapIndex) truncateLocked(n int) error {
	if n >= ix.n {
		return nil
	}
	ix.n = n // even on error: entries past n are no longer valid
	err := fsio.Truncate(ix.f, int64(n*ix.entrySize))
	if err == nil {
		err = fsio.Truncate(ix.f, int64(len(ix.mm)))
	}
	if err == nil {
		return nil
	}
	// Keep the file and the mapping the same length: map what is left.
	err = errors.Join(fmt.Errorf("%s: drop entries: %w", ix.path, err), ix.remap(n*ix.entrySize))
	if ix.mm == nil {
		ix.n = 0
	}
	return err
}

// appendLocked writes entry e (entrySize bytes) after the last entry.
// REQUIRES: mu held exclusively, !fullLocked(0).
func (ix *mmapIndex) appendLocked(e []byte) error {
	if _, err := fsio.WriteAt(ix.f, e, int64(ix.n*ix.entrySize)); err != nil {
		return fmt.Errorf("%s: write entry %d: %w", ix.path, ix.n, err)
	}
	ix.n++
	return nil
}

// truncate keeps the first n entries.
func (ix *mmapIndex) truncate(n int) error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return ix.truncateLocked(n)
}

// free returns how many more entries fit the file.
func (ix *mmapIndex) free() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return len(ix.mm)/ix.entrySize - ix.n
}

// ensureFree grows the file (at least doubling it) so that k more entries
// fit; a no-op when they do. Recovery and oversized multi-batch appends
// use it: index capacity is never a reason to refuse or cut valid data.
func (ix *mmapIndex) ensureFree(k int) error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	need := (ix.n + k) * ix.entrySize
	if need <= len(ix.mm) {
		return nil
	}
	return ix.remap(max(need, 2*len(ix.mm)))
}

// entries returns the entry count.
func (ix *mmapIndex) entries() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.n
}

// full reports whether fewer than reserve+1 free slots remain.
// REQUIRES: mu held.
func (ix *mmapIndex) fullLocked(reserve int) bool {
	return (ix.n+1+reserve)*ix.entrySize > len(ix.mm)
}

// entry returns entry i. REQUIRES: mu held, i < n.
func (ix *mmapIndex) entry(i int) []byte {
	return ix.mm[i*ix.entrySize : (i+1)*ix.entrySize]
}

// flush makes the written entries durable.
func (ix *mmapIndex) flush() error {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if err := fsio.Sync(ix.f); err != nil {
		return fmt.Errorf("%s: fsync: %w", ix.path, err)
	}
	return nil
}

// close unmaps and closes, optionally trimming first.
func (ix *mmapIndex) close(trim bool) error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	var err error
	size := len(ix.mm) // the file's size (invariant)
	if ix.mm != nil {
		err = ix.mm.Unmap()
		ix.mm = nil
	}
	if trim && size != ix.n*ix.entrySize {
		err = errors.Join(err, fsio.Truncate(ix.f, int64(ix.n*ix.entrySize)))
	}
	ix.n = 0
	return errors.Join(err, ix.f.Close())
}
