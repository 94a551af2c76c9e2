package segment

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/strom-broker/strom/engine/internal/fsio"
	"github.com/strom-broker/strom/engine/record"
)

// Translate finds the batch containing offset (the first batch whose last
// offset is >= offset) and returns its position and header. ok is false
// when the segment holds no such batch.
func (s *Segment) Translate(offset int64) (pos int64, h record.Header, ok bool, err error) {
	size, next := s.published()
	return s.translate(offset, size, next)
}

// translate is Translate within the published extent (size, next).
func (s *Segment) translate(offset, size, next int64) (pos int64, h record.Header, ok bool, err error) {
	if offset >= next || size == 0 {
		return 0, h, false, nil
	}
	if offset > s.base {
		pos = s.idx.lookup(int32(offset - s.base))
	}
	for pos < size {
		if h, err = s.headerAt(pos, size); err != nil {
			return 0, h, false, err
		}
		if h.LastOffset() >= offset {
			return pos, h, true, nil
		}
		pos += int64(h.Size())
	}
	return 0, h, false, nil
}

// ReadBoundary returns the end position of a read that starts at the batch
// at start: whole batches only, ending before the batch containing
// maxOffset (exclusive bound, e.g. the high watermark), and within maxBytes
// unless the first batch alone is larger (then exactly that batch, so a
// consumer always makes progress) when minOne is set. It returns start when
// nothing is readable.
func (s *Segment) ReadBoundary(start int64, maxBytes int, maxOffset int64, minOne bool) (int64, error) {
	end, next := s.published() // one load: the size and the offsets it holds
	if maxOffset < next {
		p, _, ok, err := s.translate(maxOffset, end, next)
		if err != nil {
			return start, err
		}
		if ok {
			end = p
		}
	}
	if end <= start {
		return start, nil
	}
	limit := start + int64(maxBytes)
	if end <= limit {
		return end, nil
	}
	pos := max(start, s.idx.lookupPosition(limit))
	for pos < end {
		h, err := s.headerAt(pos, end)
		if err != nil {
			return start, err
		}
		if pos+int64(h.Size()) > limit {
			if pos == start && minOne {
				pos += int64(h.Size())
			}
			break
		}
		pos += int64(h.Size())
	}
	return pos, nil
}

// FindOffsetByTimestamp returns the first offset >= minOffset whose record
// timestamp is >= ts, and that timestamp (Kafka's ListOffsets lookup). For
// compressed batches (never decompressed here) and LogAppendTime batches it
// returns the batch's first offset >= minOffset and its maxTimestamp. ok is
// false when no record in the segment qualifies.
func (s *Segment) FindOffsetByTimestamp(ts, minOffset int64) (offset, timestamp int64, ok bool, err error) {
	var pos int64
	if rel, ok := s.tidx.lookupBefore(ts); ok {
		pos = s.idx.lookup(rel)
	}
	if minOffset > s.base {
		pos = max(pos, s.idx.lookup(int32(min(minOffset-s.base, int64(1<<31-1)))))
	}
	var (
		buf    []byte
		r      record.Record
		errHit = errors.New("hit")
	)
	err = s.ScanHeaders(pos, func(h record.Header, pos int64) error {
		if h.MaxTimestamp < ts || h.LastOffset() < minOffset {
			return nil
		}
		if h.Compression() != record.CompressionNone || h.TimestampType() == record.LogAppendTime {
			offset, timestamp, ok = max(h.BaseOffset, minOffset), h.MaxTimestamp, true
			return errHit
		}
		var err error
		if buf, err = s.ReadBatch(buf, pos, h.Size()); err != nil {
			return err
		}
		it, err := record.Records(buf)
		if err != nil {
			return err
		}
		for it.Next(&r) {
			if r.Timestamp(h) >= ts && r.Offset(h) >= minOffset {
				offset, timestamp, ok = r.Offset(h), r.Timestamp(h), true
				return errHit
			}
		}
		return it.Err()
	})
	if err != nil && err != errHit {
		return 0, 0, false, err
	}
	return offset, timestamp, ok, nil
}

// TruncateTo removes every batch that holds offset or a later one and
// returns how many bytes were cut. The segment is left active (indexes
// preallocated). REQUIRES: the writer lock, and no reader holding positions
// past the cut (see WaitForReaders).
func (s *Segment) TruncateTo(offset int64) (int64, error) {
	pos, h, ok, err := s.Translate(offset)
	if err != nil {
		return 0, err
	}
	size := s.Size()
	if !ok {
		return 0, s.Activate()
	}
	if err := fsio.Truncate(s.log, pos); err != nil {
		return 0, fmt.Errorf("segment %d: truncate to %d: %w", s.base, pos, err)
	}
	if err := errors.Join(s.idx.truncateFromPos(pos), s.tidx.truncateFromOffset(int32(h.BaseOffset-s.base))); err != nil {
		return 0, fmt.Errorf("segment %d: %w", s.base, err)
	}
	s.writer.maxTS, s.writer.maxTSRel, s.writer.firstTS = NoTimestamp, 0, NoTimestamp
	if err := s.loadTrusted(pos); err != nil {
		return 0, err
	}
	if err := s.Activate(); err != nil {
		return 0, err
	}
	return size - pos, nil
}

// lifecycle counts readers pinning a segment and runs the close/delete once
// the owner retired it and the last reader left. Readers are counted in two
// generations so WaitForReaders waits only for readers that pinned before
// it was called and cannot be starved by a stream of new ones.
type lifecycle struct {
	mu      sync.Mutex
	cond    sync.Cond
	readers [2]int
	gen     int
	retired bool
	done    bool
	onLast  func()
}

func (l *lifecycle) init() { l.cond.L = &l.mu }

// Pin is a reader's hold on a segment, returned by Acquire.
type Pin struct{ gen int }

// Acquire pins the segment for a reader; it fails once the segment is
// retired (the reader should reload the segment list).
func (s *Segment) Acquire() (Pin, bool) {
	s.life.mu.Lock()
	defer s.life.mu.Unlock()
	if s.life.retired {
		return Pin{}, false
	}
	s.life.readers[s.life.gen]++
	return Pin{s.life.gen}, true
}

// Release unpins a segment pinned by Acquire.
func (s *Segment) Release(p Pin) {
	s.life.mu.Lock()
	s.life.readers[p.gen]--
	var run func()
	if s.life.readers[p.gen] == 0 {
		s.life.cond.Broadcast()
		if s.life.retired && !s.life.done && s.life.readers[0]+s.life.readers[1] == 0 {
			s.life.done, run = true, s.life.onLast
		}
	}
	s.life.mu.Unlock()
	if run != nil {
		run()
	}
}

// WaitForReaders blocks until every reader that pinned the segment before
// the call has released it. REQUIRES: the writer lock (one caller at a time).
func (s *Segment) WaitForReaders() {
	s.life.mu.Lock()
	old := s.life.gen
	s.life.gen ^= 1
	for s.life.readers[old] > 0 {
		s.life.cond.Wait()
	}
	s.life.mu.Unlock()
}

// Retire ends the owner's use of the segment. With remove, the files are
// renamed to *.deleted at once (so a restart never loads them) and removed
// once the last reader released; without, they are sealed (indexes trimmed)
// and closed then. Readers pinning the segment keep valid file handles
// until they Release. onErr, if non-nil, receives a deferred close error.
func (s *Segment) Retire(remove bool, onErr func(error)) error {
	if !remove {
		err := s.Seal()
		s.retire(func() error { return s.closeFiles(true) }, onErr)
		return err
	}
	err := s.rename("", DeletedSuffix)
	s.retire(func() error {
		e := s.closeFiles(false)
		for _, suf := range []string{LogSuffix, IndexSuffix, TimeIndexSuffix} {
			if rerr := fsio.Remove(FileName(s.dir, s.base, suf) + DeletedSuffix); rerr != nil && !os.IsNotExist(rerr) {
				e = errors.Join(e, rerr)
			}
		}
		return e
	}, onErr)
	return err
}

// Drop ends the owner's use of the segment without writing to it: the
// files are closed as they are (indexes untrimmed) once the last reader
// released. For a log that an I/O error took offline.
func (s *Segment) Drop(onErr func(error)) {
	s.retire(func() error { return s.closeFiles(false) }, onErr)
}

// retire marks the segment retired (Acquire fails from now on) and runs
// last once no reader pins it.
func (s *Segment) retire(last func() error, onErr func(error)) {
	run := func() {
		if e := last(); e != nil && onErr != nil {
			onErr(e)
		}
	}
	s.life.mu.Lock()
	if s.life.retired {
		s.life.mu.Unlock()
		return
	}
	s.life.retired = true
	s.life.onLast = run
	now := s.life.readers[0]+s.life.readers[1] == 0 && !s.life.done
	if now {
		s.life.done = true
	}
	s.life.mu.Unlock()
	if now {
		run()
	}
}

// Abandon closes the files without sealing or flushing, as a crash would
// leave them (the page cache keeps every written byte). For tests.
func (s *Segment) Abandon() error {
	return errors.Join(s.idx.ix.close(false), s.tidx.ix.close(false), s.log.Close())
}
