package partlog

import (
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/strom-broker/strom/engine/segment"
)

// FileSlice is a run of whole batches in a segment file: Len bytes at Pos.
// Send it with sendfile (explicit offset) or read it with ReadAt; never
// seek the shared *os.File.
type FileSlice struct {
	File     *os.File
	Pos, Len int64
}

// ReadResult is what Read returns. The slices stay valid (their files open
// and their bytes unchanged) until Release.
type ReadResult struct {
	// Slices are consecutive batches, in offset order, possibly spanning
	// segments. Empty when nothing is readable.
	Slices []FileSlice
	// LogStartOffset and LogEndOffset as seen by the read.
	LogStartOffset, LogEndOffset int64

	pins []pinned
}

type pinned struct {
	seg *segment.Segment
	pin segment.Pin
}

// Size returns the total bytes of the slices.
func (r *ReadResult) Size() int64 {
	var n int64
	for _, s := range r.Slices {
		n += s.Len
	}
	return n
}

// Release unpins the segments; the slices must not be used afterwards.
// Calling it twice is harmless.
func (r *ReadResult) Release() {
	for _, p := range r.pins {
		p.seg.Release(p.pin)
	}
	r.pins = nil
}

// WriteTo copies the slices' bytes to w (through user space; a network
// writer should sendfile the slices instead).
func (r *ReadResult) WriteTo(w io.Writer) (int64, error) {
	var n int64
	for _, s := range r.Slices {
		m, err := io.Copy(w, io.NewSectionReader(s.File, s.Pos, s.Len))
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// Read returns file slices of whole batches starting with the batch that
// contains offset: at most maxBytes (but at least one whole batch, even a
// larger one, so a consumer always progresses), and only batches that end
// below maxOffset (the high watermark; pass LogEndOffset for no bound).
// offset == LEO (or >= maxOffset) gives an empty result. offset below the
// log start or above the LEO is ErrOffsetOutOfRange. The caller must call
// Release on the result.
func (l *Log) Read(offset int64, maxBytes int, maxOffset int64) (*ReadResult, error) {
	for {
		// Checked on every round: after Close, or once the log went
		// offline, the published segments may all be retired and the
		// retry below would spin forever.
		if err := l.usable(); err != nil {
			return nil, err
		}
		gen := l.truncations.Load()
		leo := l.leo.Load()
		segs := l.segments()
		start := l.logStart.Load()
		res := &ReadResult{LogStartOffset: start, LogEndOffset: leo}
		if offset < start || offset > leo {
			return res, fmt.Errorf("%w: offset %d, log [%d, %d]", ErrOffsetOutOfRange, offset, start, leo)
		}
		bound := min(maxOffset, leo)
		if offset >= bound {
			return res, nil
		}
		retry, err := l.collect(res, segs, offset, maxBytes, bound)
		if retry || l.truncations.Load() != gen {
			res.Release()
			continue
		}
		if err != nil {
			res.Release()
			return nil, err
		}
		return res, nil
	}
}

// collect fills res from segs; retry is true when a segment was retired
// under the reader (the caller reloads the segment list).
func (l *Log) collect(res *ReadResult, segs []*segment.Segment, offset int64, maxBytes int, bound int64) (retry bool, err error) {
	i := sort.Search(len(segs), func(i int) bool { return segs[i].BaseOffset() > offset }) - 1
	if i < 0 {
		i = 0
	}
	left := int64(maxBytes)
	for ; i < len(segs) && offset < bound; i++ {
		seg := segs[i]
		pin, ok := seg.Acquire()
		if !ok {
			return true, nil
		}
		res.pins = append(res.pins, pinned{seg, pin})
		pos, _, found, err := seg.Translate(offset)
		if err != nil {
			return false, err
		}
		if !found {
			continue
		}
		end, err := seg.ReadBoundary(pos, int(min(left, 1<<31-1)), bound, len(res.Slices) == 0)
		if err != nil {
			return false, err
		}
		if end == pos {
			break
		}
		res.Slices = append(res.Slices, FileSlice{File: seg.File(), Pos: pos, Len: end - pos})
		left -= end - pos
		if left <= 0 || end < seg.Size() {
			break
		}
		offset = seg.NextOffset()
	}
	return false, nil
}

// ReadBytes is Read followed by a copy of the bytes; for callers that want
// a []byte (tools, the cleaner, tests).
func (l *Log) ReadBytes(offset int64, maxBytes int, maxOffset int64) ([]byte, error) {
	res, err := l.Read(offset, maxBytes, maxOffset)
	if err != nil {
		return nil, err
	}
	defer res.Release()
	out := make([]byte, 0, res.Size())
	for _, s := range res.Slices {
		n := len(out)
		out = out[:n+int(s.Len)]
		if _, err := s.File.ReadAt(out[n:], s.Pos); err != nil {
			return nil, fmt.Errorf("partlog: read %s at %d: %w", s.File.Name(), s.Pos, err)
		}
	}
	return out, nil
}

// Special timestamps of ListOffsets.
const (
	LatestTimestamp       = -1
	EarliestTimestamp     = -2
	MaxTimestampTimestamp = -3
)

// TimestampOffset is an answer of OffsetForTimestamp.
type TimestampOffset struct {
	Offset, Timestamp int64
}

// OffsetForTimestamp answers ListOffsets: for ts >= 0 the first offset at or
// above the log start whose record timestamp is >= ts (ok false when none); EarliestTimestamp gives the
// log start offset, LatestTimestamp the log end offset (timestamp -1), and
// MaxTimestampTimestamp the offset of the record with the largest
// timestamp. Compressed batches are not decompressed: within one, the
// batch's base offset stands for its records.
func (l *Log) OffsetForTimestamp(ts int64) (TimestampOffset, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usableLocked(); err != nil {
		return TimestampOffset{}, false, err
	}
	start := l.logStart.Load()
	switch ts {
	case EarliestTimestamp:
		return TimestampOffset{start, -1}, true, nil
	case LatestTimestamp:
		return TimestampOffset{l.leo.Load(), -1}, true, nil
	case MaxTimestampTimestamp:
		return l.maxTimestampOffset()
	}
	if ts < 0 {
		return TimestampOffset{}, false, fmt.Errorf("partlog: invalid timestamp %d", ts)
	}
	for _, seg := range l.segments() {
		if seg.NextOffset() <= start || seg.MaxTimestamp() < ts {
			continue
		}
		off, t, ok, err := seg.FindOffsetByTimestamp(ts, start)
		if err != nil {
			return TimestampOffset{}, false, err
		}
		if ok {
			return TimestampOffset{off, t}, true, nil
		}
	}
	return TimestampOffset{-1, -1}, false, nil
}

// maxTimestampOffset finds the first record carrying the largest timestamp.
// REQUIRES: l.mu.
func (l *Log) maxTimestampOffset() (TimestampOffset, bool, error) {
	var best *segment.Segment
	for _, seg := range l.segments() {
		if seg.Size() > 0 && (best == nil || seg.MaxTimestamp() > best.MaxTimestamp()) {
			best = seg
		}
	}
	if best == nil {
		return TimestampOffset{-1, -1}, false, nil
	}
	off, t, ok, err := best.FindOffsetByTimestamp(best.MaxTimestamp(), 0)
	if err != nil || !ok {
		return TimestampOffset{-1, -1}, false, err
	}
	if t < best.MaxTimestamp() { // records disagree with the header
		t = best.MaxTimestamp()
	}
	return TimestampOffset{max(off, l.logStart.Load()), t}, true, nil
}
