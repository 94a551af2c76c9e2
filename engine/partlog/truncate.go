package partlog

import (
	"fmt"
	"sort"

	"github.com/strom-broker/strom/engine/segment"
)

// TruncateTo removes every record at offset or above (replication: a
// follower cutting its divergent tail). Whole batches only: a batch holding
// offset goes entirely, so the new log end offset may be below offset.
// Segments with a base above offset are deleted; the segment holding
// offset is cut after its readers of the old tail released. A target below
// the log start offset empties the log and restarts it at offset. A target
// at or above the log end offset cuts no record; it only drops leader-epoch
// entries that start at the log end (an epoch begun and left empty).
func (l *Log) TruncateTo(offset int64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usableLocked(); err != nil {
		return err
	}
	if leo := l.leo.Load(); offset >= leo {
		// Nothing to cut, but an epoch begun at the log end and left
		// empty (this replica led it and appended nothing) goes, as
		// Kafka's UnifiedLog.truncateTo does: a follower must not keep
		// answering for an epoch the leader never saw.
		if err := l.epochs.TruncateFromEnd(leo); err != nil {
			return l.fail(err)
		}
		l.latestEpoch = -1
		if e, ok := l.epochs.LatestEpoch(); ok {
			l.latestEpoch = e
		}
		return nil
	}
	if err := l.truncateToLocked(offset); err != nil {
		return l.fail(err)
	}
	if l.onTruncate != nil {
		return l.fail(l.onTruncate())
	}
	return nil
}

// truncateToLocked is TruncateTo. REQUIRES: l.mu.
// REQUIRES: offset below the LEO.
func (l *Log) truncateToLocked(offset int64) error {
	if offset < l.logStart.Load() {
		return l.truncateFullyLocked(offset)
	}
	segs := l.segments()
	i := sort.Search(len(segs), func(i int) bool { return segs[i].BaseOffset() > offset })
	keep, drop := segs[:i], segs[i:]
	seg := keep[len(keep)-1]
	// Stop new readers before the cut, then wait for the old ones. Order
	// matters: the LEO is lowered before truncations moves, so a reader
	// that sees the new count also sees the lower LEO; a reader that saw
	// the old LEO either pinned before WaitForReaders (and is waited for)
	// or sees truncations move at its final check and retries.
	l.setLEO(min(l.leo.Load(), offset))
	l.truncations.Add(1)
	l.publish(append([]*segment.Segment(nil), keep...))
	for _, s := range drop {
		if err := s.Retire(true, l.logCloseErr); err != nil {
			return err
		}
	}
	seg.WaitForReaders()
	cut, err := seg.TruncateTo(offset)
	if err != nil {
		return err
	}
	leo := seg.NextOffset()
	if leo < l.logStart.Load() {
		// The cut removed the batch holding the log start: the start moves
		// back to the batch boundary so a follower can refetch that batch.
		l.logStart.Store(leo)
	}
	l.setLEO(leo)
	l.activeCreated = l.now()
	l.flush.lower(leo)
	if len(drop) > 0 || cut > 0 {
		l.logger.Info("partition log truncated", "offset", offset, "leo", leo, "segmentsDeleted", len(drop), "bytesCut", cut)
	}
	if err := l.epochs.TruncateFromEnd(leo); err != nil {
		return err
	}
	l.latestEpoch = -1
	if e, ok := l.epochs.LatestEpoch(); ok {
		l.latestEpoch = e
	}
	return l.truncateProducers(leo)
}

// truncateFullyLocked deletes every segment and restarts the log empty at
// offset (log start = LEO = offset). REQUIRES: l.mu (or Open).
func (l *Log) truncateFullyLocked(offset int64) error {
	old := l.segments()
	l.setLEO(offset)
	l.truncations.Add(1)
	for _, s := range old {
		if err := s.Retire(true, l.logCloseErr); err != nil {
			return err
		}
	}
	seg, err := segment.Create(l.dir, offset, l.cfg.segmentConfig())
	if err != nil {
		return err
	}
	l.publish([]*segment.Segment{seg})
	l.logStart.Store(offset)
	l.activeCreated = l.now()
	l.flush.lower(offset)
	if err := l.epochs.Clear(); err != nil {
		return err
	}
	l.latestEpoch = -1
	return l.resetProducers()
}

// DeleteRecordsBefore advances the log start offset to offset (Kafka's
// DeleteRecords) and deletes the segments wholly below it; the active
// segment is kept. It returns the new log start offset. offset above the
// log end offset is ErrOffsetOutOfRange; one at or below the current start
// changes nothing.
func (l *Log) DeleteRecordsBefore(offset int64) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usableLocked(); err != nil {
		return 0, err
	}
	if leo := l.leo.Load(); offset > leo {
		return l.logStart.Load(), fmt.Errorf("%w: delete records before %d, log end %d", ErrOffsetOutOfRange, offset, leo)
	}
	if offset <= l.logStart.Load() {
		return l.logStart.Load(), nil
	}
	l.logStart.Store(offset)
	segs := l.segments()
	n := 0
	for n+1 < len(segs) && segs[n+1].BaseOffset() <= offset {
		n++
	}
	return offset, l.fail(l.deleteOldestLocked(n))
}

// EnforceRetention deletes the oldest segments that retention.ms (by the
// segment's largest timestamp) or retention.bytes condemn, never the
// active segment, and only when cleanup.policy includes "delete". It
// returns how many segments were deleted.
func (l *Log) EnforceRetention() (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usableLocked(); err != nil {
		return 0, err
	}
	if !l.cfg.deletes() {
		return 0, nil
	}
	segs := l.segments()
	n := 0
	if l.cfg.RetentionMs >= 0 {
		now := l.now().UnixMilli()
		for n < len(segs)-1 {
			ts, err := segs[n].RetentionTimestamp()
			if err != nil {
				return 0, l.fail(err)
			}
			if now-ts <= l.cfg.RetentionMs {
				break
			}
			n++
		}
	}
	if l.cfg.RetentionBytes >= 0 {
		excess := -l.cfg.RetentionBytes
		for _, s := range segs {
			excess += s.Size()
		}
		m := 0
		for m < len(segs)-1 && excess >= segs[m].Size() {
			excess -= segs[m].Size()
			m++
		}
		n = max(n, m)
	}
	if n == 0 {
		return 0, nil
	}
	if base := segs[n].BaseOffset(); base > l.logStart.Load() {
		l.logStart.Store(base)
	}
	return n, l.fail(l.deleteOldestLocked(n))
}

// deleteOldestLocked retires the n oldest segments and trims the epoch
// cache and producer snapshots to the log start offset. REQUIRES: l.mu,
// n < segment count.
func (l *Log) deleteOldestLocked(n int) error {
	segs := l.segments()
	start := l.logStart.Load()
	if n > 0 {
		l.publish(append([]*segment.Segment(nil), segs[n:]...))
		for _, s := range segs[:n] {
			l.logger.Info("partition log deleted a segment", "segment", s.BaseOffset(), "logStartOffset", start)
			if err := s.Retire(true, l.logCloseErr); err != nil {
				return err
			}
		}
		l.flush.markDir()
	}
	if err := l.epochs.TruncateFromStart(start); err != nil {
		return err
	}
	return l.truncateProducersHead()
}

// TruncateFullyAndStartAt deletes every segment and restarts the log empty
// at offset: log start = log end = offset, whether offset is below or
// beyond the current log (replication: a follower whose whole log lies
// below the leader's log start, Kafka's truncateFullyAndStartAt). The
// leader-epoch cache and producer state are emptied.
func (l *Log) TruncateFullyAndStartAt(offset int64) error {
	if offset < 0 {
		return fmt.Errorf("%w: truncate fully and start at %d", ErrOffsetOutOfRange, offset)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usableLocked(); err != nil {
		return err
	}
	if err := l.truncateFullyLocked(offset); err != nil {
		return l.fail(err)
	}
	if l.onTruncate != nil {
		return l.fail(l.onTruncate())
	}
	return nil
}
