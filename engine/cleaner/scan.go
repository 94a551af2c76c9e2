package cleaner

import (
	"fmt"

	"github.com/strom-broker/strom/engine/partlog"
	"github.com/strom-broker/strom/engine/record"
	"github.com/strom-broker/strom/engine/segment"
)

// scanner reads the batches of a segment in large chunks (one ReadAt per
// chunk, not per batch). Invariant: buf is reused across calls; a batch
// slice handed to the callback is valid only during the call.
type scanner struct {
	buf []byte
}

func newScanner(size int) *scanner { return &scanner{buf: make([]byte, size)} }

// pinned runs fn with seg pinned against closing; a retired segment means
// the log changed under the pass (partlog.ErrCleanConflict).
func pinned(seg *segment.Segment, fn func() error) error {
	pin, ok := seg.Acquire()
	if !ok {
		return fmt.Errorf("%w: segment %d retired", partlog.ErrCleanConflict, seg.BaseOffset())
	}
	defer seg.Release(pin)
	return fn()
}

// each calls fn for every batch of seg, in order, with the batch's header,
// file position and bytes, with seg pinned.
func (sc *scanner) each(seg *segment.Segment, fn func(h record.Header, pos int64, batch []byte) error) error {
	return pinned(seg, func() error { return sc.eachPinned(seg, fn) })
}

func (sc *scanner) eachPinned(seg *segment.Segment, fn func(h record.Header, pos int64, batch []byte) error) error {
	size := seg.Size()
	f := seg.File()
	for pos := int64(0); pos < size; {
		n := int(min(int64(len(sc.buf)), size-pos))
		if _, err := f.ReadAt(sc.buf[:n], pos); err != nil {
			return fmt.Errorf("cleaner: segment %d: read at %d: %w", seg.BaseOffset(), pos, err)
		}
		off := 0
		for off+record.HeaderSize <= n {
			h, _ := record.ParseHeader(sc.buf[off:n])
			if h.BatchLength < record.MinBatchLength {
				return fmt.Errorf("cleaner: segment %d: bad batch at %d: %w", seg.BaseOffset(), pos+int64(off), segment.ErrCorruptLog)
			}
			if off+h.Size() > n {
				break
			}
			if err := fn(h, pos+int64(off), sc.buf[off:off+h.Size()]); err != nil {
				return err
			}
			off += h.Size()
		}
		if off == 0 {
			// The next batch is larger than the buffer: grow and reread.
			if n < record.HeaderSize {
				return fmt.Errorf("cleaner: segment %d: %d stray bytes at %d: %w", seg.BaseOffset(), n, pos, segment.ErrCorruptLog)
			}
			h, _ := record.ParseHeader(sc.buf[:n])
			if pos+int64(h.Size()) > size {
				return fmt.Errorf("cleaner: segment %d: batch at %d passes the end: %w", seg.BaseOffset(), pos, segment.ErrCorruptLog)
			}
			sc.buf = make([]byte, h.Size())
			continue
		}
		pos += int64(off)
	}
	return nil
}
