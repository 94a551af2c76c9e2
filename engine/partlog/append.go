package partlog

import (
	"fmt"
	"math"
	"os"

	"github.com/strom-broker/strom/engine/internal/fsio"
	"github.com/strom-broker/strom/engine/record"
	"github.com/strom-broker/strom/engine/segment"
)

// AppendInfo describes a successful append.
type AppendInfo struct {
	// FirstOffset and LastOffset span the appended records.
	FirstOffset, LastOffset int64
	// LogAppendTime is the broker time stamped into the batches under
	// LogAppendTime, else -1.
	LogAppendTime int64
	// MaxTimestamp is the largest batch maxTimestamp appended, and
	// OffsetOfMaxTimestamp the last offset of the batch carrying it.
	MaxTimestamp, OffsetOfMaxTimestamp int64
	// Batches and Records count what was appended; Bytes its size.
	Batches, Records, Bytes int
	// LogStartOffset is the log start offset after the append.
	LogStartOffset int64
	// Duplicate is set when an idempotent producer resent a batch already
	// in the log: nothing was appended and the offsets are the original's.
	Duplicate bool
}

// Append is the leader's append. It validates every batch of the
// concatenation first (record.FromClient: sizes, magic, CRC, counts, and
// every record of uncompressed batches; each batch at most
// MaxMessageBytes) and leaves the log unchanged on any error. It then
// stamps offsets from the log end offset and leaderEpoch into the batches
// in place (and maxTimestamp under LogAppendTime), rolls the active segment
// if needed, writes all batches with one write, and publishes the new log
// end offset. With flush.messages / flush.ms due, it then waits for a
// group-commit fsync (without holding the writer lock).
//
// Errors: wrapped record errors (errors.Is(err, record.ErrCorrupt),
// record.ErrBatchTooLarge), ErrEmptyAppend, ErrClosed, producer-state
// errors for idempotent batches, or an I/O error.
func (l *Log) Append(batches []byte, leaderEpoch int32) (AppendInfo, error) {
	l.mu.Lock()
	info, flush, err := l.appendLocked(batches, leaderEpoch)
	l.mu.Unlock()
	if err != nil || !flush {
		return info, err
	}
	return info, l.flushTo(info.LastOffset + 1)
}

func (l *Log) appendLocked(batches []byte, leaderEpoch int32) (AppendInfo, bool, error) {
	if err := l.usableLocked(); err != nil {
		return AppendInfo{}, false, err
	}
	hs, records, err := l.validate(batches, record.FromClient)
	if err != nil {
		return AppendInfo{}, false, err
	}
	if info, dup, err := l.checkProducers(hs); err != nil || dup {
		return info, false, err
	}
	now := l.now().UnixMilli()
	info := AppendInfo{LogAppendTime: -1, MaxTimestamp: segment.NoTimestamp, Batches: len(hs), Records: records, Bytes: len(batches)}
	if l.cfg.MessageTimestampType == record.LogAppendTime {
		info.LogAppendTime = now
	}
	next := l.leo.Load()
	info.FirstOffset = next
	pos := 0
	for i := range hs {
		h := &hs[i]
		b := batches[pos : pos+h.Size()]
		record.SetBaseOffset(b, next)
		record.SetPartitionLeaderEpoch(b, leaderEpoch)
		h.BaseOffset, h.PartitionLeaderEpoch = next, leaderEpoch
		if info.LogAppendTime >= 0 {
			record.SetMaxTimestampAndType(b, now, record.LogAppendTime)
			h.MaxTimestamp = now
			h.Attributes |= record.TimestampTypeBit
		}
		if h.MaxTimestamp > info.MaxTimestamp {
			info.MaxTimestamp, info.OffsetOfMaxTimestamp = h.MaxTimestamp, h.LastOffset()
		}
		next = h.NextOffset()
		pos += h.Size()
	}
	info.LastOffset = next - 1
	if err := l.writeLocked(batches, hs); err != nil {
		return AppendInfo{}, false, l.fail(err)
	}
	l.updateProducers(hs)
	info.LogStartOffset = l.logStart.Load()
	return info, l.flushDue(records), nil
}

// AppendAsFollower appends batches fetched from the leader, keeping their
// offsets and leader epochs. The batches are validated as log data
// (record.FromLog); the first base offset must be >= the log end offset and
// offsets must increase (gaps, as in compacted logs, are allowed).
func (l *Log) AppendAsFollower(batches []byte) (AppendInfo, error) {
	l.mu.Lock()
	info, flush, err := l.appendFollowerLocked(batches)
	l.mu.Unlock()
	if err != nil || !flush {
		return info, err
	}
	return info, l.flushTo(info.LastOffset + 1)
}

func (l *Log) appendFollowerLocked(batches []byte) (AppendInfo, bool, error) {
	if err := l.usableLocked(); err != nil {
		return AppendInfo{}, false, err
	}
	hs, records, err := l.validate(batches, record.FromLog)
	if err != nil {
		return AppendInfo{}, false, err
	}
	next := l.leo.Load()
	info := AppendInfo{LogAppendTime: -1, MaxTimestamp: segment.NoTimestamp, Batches: len(hs), Records: records, Bytes: len(batches), FirstOffset: hs[0].BaseOffset}
	for i := range hs {
		h := &hs[i]
		if h.BaseOffset < next {
			return AppendInfo{}, false, fmt.Errorf("%w: batch %d has base offset %d, expected >= %d", ErrUnexpectedOffset, i, h.BaseOffset, next)
		}
		if h.MaxTimestamp > info.MaxTimestamp {
			info.MaxTimestamp, info.OffsetOfMaxTimestamp = h.MaxTimestamp, h.LastOffset()
		}
		next = h.NextOffset()
	}
	info.LastOffset = next - 1
	if err := l.writeLocked(batches, hs); err != nil {
		return AppendInfo{}, false, l.fail(err)
	}
	l.updateProducers(hs)
	info.LogStartOffset = l.logStart.Load()
	return info, l.flushDue(records), nil
}

// validate checks every batch and fills l.hs. REQUIRES: l.mu.
func (l *Log) validate(batches []byte, mode record.Mode) ([]record.Header, int, error) {
	s := record.NewScanner(batches, mode)
	s.SetMaxBatchBytes(l.cfg.MaxMessageBytes)
	hs := l.hs[:0]
	records := 0
	for s.Next() {
		h := s.Header()
		hs = append(hs, h)
		records += int(h.RecordCount)
	}
	l.hs = hs
	if err := s.Err(); err != nil {
		return nil, 0, fmt.Errorf("partlog: append rejected: %w", err)
	}
	if len(hs) == 0 {
		return nil, 0, ErrEmptyAppend
	}
	if int64(len(batches)) > l.cfg.SegmentBytes {
		return nil, 0, fmt.Errorf("partlog: append of %d bytes exceeds segment.bytes %d: %w", len(batches), l.cfg.SegmentBytes, record.ErrBatchTooLarge)
	}
	return hs, records, nil
}

// writeLocked records new leader epochs, then writes the stamped batches
// (rolling where needed) and publishes the LEO. Batches whose offsets span
// more than a segment's 32-bit relative offsets (a follower's append over
// a compacted gap) go to consecutive segments. Any error is an I/O error:
// the caller takes the log offline. The epochs go first so that a failed
// checkpoint write leaves the segment untouched (a restart drops epoch
// entries past the log end). REQUIRES: l.mu; hs describe batches.
func (l *Log) writeLocked(batches []byte, hs []record.Header) error {
	for i := range hs {
		if err := l.observeEpoch(hs[i].PartitionLeaderEpoch, hs[i].BaseOffset); err != nil {
			return err
		}
	}
	for len(hs) > 0 {
		n, size := 1, hs[0].Size()
		for n < len(hs) && hs[n].LastOffset()-hs[0].BaseOffset <= math.MaxInt32 {
			size += hs[n].Size()
			n++
		}
		if err := l.maybeRoll(int64(size), hs[:n]); err != nil {
			return err
		}
		if err := l.active().Append(batches[:size], hs[:n]); err != nil {
			return err
		}
		batches, hs = batches[size:], hs[n:]
	}
	l.setLEO(l.active().NextOffset())
	return nil
}

// maybeRoll rolls the active segment before appending hs (size bytes) when
// the append would pass segment.bytes, when segment.ms elapsed (measured,
// as in Kafka, from the first batch's timestamp to the new batch's, or by
// the clock when timestamps are missing), when the indexes lack the slots
// the append needs, or when the new offsets do not fit the segment's
// 32-bit relative offsets. REQUIRES: l.mu.
func (l *Log) maybeRoll(size int64, hs []record.Header) error {
	first, lastOffset := hs[0], hs[len(hs)-1].LastOffset()
	seg := l.active()
	if seg.Size() == 0 {
		if seg.CanHold(lastOffset) && first.BaseOffset == seg.BaseOffset() {
			return nil
		}
		// Empty active segment at the wrong base (a follower's gap):
		// replace it.
		return l.rollLocked(first.BaseOffset)
	}
	waited := l.now().Sub(l.activeCreated).Milliseconds()
	if ts := seg.FirstBatchTimestamp(); ts >= 0 && first.MaxTimestamp >= 0 {
		waited = first.MaxTimestamp - ts
	}
	if seg.Size()+size > l.cfg.SegmentBytes || waited > l.cfg.SegmentMs || !seg.IndexRoomFor(hs) || !seg.CanHold(lastOffset) {
		return l.rollLocked(first.BaseOffset)
	}
	return nil
}

// Roll seals the active segment and starts a new one at the log end
// offset; a no-op when the active segment is empty.
func (l *Log) Roll() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usableLocked(); err != nil {
		return err
	}
	if l.active().Size() == 0 {
		return nil
	}
	return l.fail(l.rollLocked(l.leo.Load()))
}

// rollLocked starts a new active segment at base (an empty active segment
// is replaced rather than kept) and schedules a background flush of the
// old one, as Kafka does. REQUIRES: l.mu.
func (l *Log) rollLocked(base int64) error {
	segs := l.segments()
	old := segs[len(segs)-1]
	keep := segs
	if old.Size() > 0 {
		if err := old.Seal(); err != nil {
			return err
		}
	}
	// Create before retiring an empty old segment: if the create fails,
	// the published list still holds only live segments (a reader never
	// spins on a retired one).
	seg, err := segment.Create(l.dir, base, l.cfg.segmentConfig())
	if err != nil {
		return err
	}
	if old.Size() == 0 {
		keep = segs[:len(segs)-1]
		l.publish(append(append([]*segment.Segment(nil), keep...), seg))
		if err := old.Retire(true, l.logCloseErr); err != nil {
			return err
		}
	}
	l.publish(append(append([]*segment.Segment(nil), keep...), seg))
	if err := l.snapshotProducers(base); err != nil {
		return err
	}
	l.activeCreated = l.now()
	l.flush.markDir()
	if l.flush.flushedOffset() < base && !l.closed {
		l.bg.Add(1)
		go func() {
			defer l.bg.Done()
			if err := l.flushBefore(base); err != nil {
				l.logger.Error("partition log: flush after roll failed", "err", err)
			}
		}()
	}
	return nil
}

// flushDue counts appended records and reports whether flush.messages or
// flush.ms asks for an fsync now. REQUIRES: l.mu.
func (l *Log) flushDue(records int) bool {
	l.unflushed += int64(records)
	now := l.now()
	if l.unflushed >= l.cfg.FlushMessages || now.Sub(l.lastFlush).Milliseconds() >= l.cfg.FlushMs {
		l.unflushed, l.lastFlush = 0, now
		return true
	}
	return false
}

// syncDir fsyncs a directory so created, renamed and removed files persist.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = fsio.Sync(d)
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
