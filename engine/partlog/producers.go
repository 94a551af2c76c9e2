package partlog

import (
	"errors"
	"fmt"
	"math"

	"github.com/strom-broker/strom/engine/producer"
	"github.com/strom-broker/strom/engine/record"
	"github.com/strom-broker/strom/engine/segment"
)

// Producer state (idempotent producers) is kept in l.producers:
//
//   - Append (leader) checks every batch with a producer id before writing;
//     a duplicate single-batch append returns the original offsets with
//     AppendInfo.Duplicate and appends nothing; a sequence gap or stale
//     epoch fails with producer.ErrOutOfOrderSequence /
//     producer.ErrInvalidProducerEpoch and the log is unchanged.
//   - Every appended batch (leader or follower) is recorded with Update.
//     Control batches (transaction markers) are not recorded here.
//   - Snapshots "<offset>.snapshot" are written on roll (at the new base)
//     and on Close (at the LEO). Open loads the newest snapshot at or below
//     the LEO and replays the batches after it, taking them from the
//     recovery scan where segments are rescanned.
//   - TruncateTo forgets batches at or above the new LEO and deletes later
//     snapshots. Moving the log start (retention, DeleteRecords) keeps the
//     producer state, as Kafka does since KAFKA-7190 (an active producer
//     whose records were all deleted keeps its sequences, so its retries
//     are still recognised); it only deletes snapshots below the first
//     segment. Producers are forgotten by expiry (ProducerState).

// ProducerState returns the partition's idempotent-producer state (for
// expiry and transaction markers by the broker).
func (l *Log) ProducerState() *producer.State { return l.producers }

func batchMeta(h *record.Header) producer.BatchMeta {
	return producer.BatchMeta{
		ProducerID:    h.ProducerID,
		ProducerEpoch: h.ProducerEpoch,
		BaseSequence:  h.BaseSequence,
		LastSequence:  h.LastSequence(),
		FirstOffset:   h.BaseOffset,
		LastOffset:    h.LastOffset(),
		MaxTimestamp:  h.MaxTimestamp,
		Transactional: h.IsTransactional(),
	}
}

// ErrDuplicateInMultiBatch is returned when an append of several batches
// holds a retried batch; producers send one batch per partition, so this
// is not expected from real clients.
var ErrDuplicateInMultiBatch = errors.New("partlog: duplicate batch inside a multi-batch append")

// checkProducers runs the idempotence check for every batch with a
// producer id. dup reports an exact duplicate (info then holds the
// original offsets). REQUIRES: l.mu.
func (l *Log) checkProducers(hs []record.Header) (info AppendInfo, dup bool, err error) {
	for i := range hs {
		h := &hs[i]
		if !h.HasProducerID() || h.IsControl() {
			continue
		}
		if prev := lastOfProducer(hs[:i], h.ProducerID); prev != nil {
			// A later batch of the same producer in the same append must
			// follow the earlier one (state is updated only after writing).
			if prev.ProducerEpoch != h.ProducerEpoch || !followsSeq(prev.LastSequence(), h.BaseSequence) {
				return info, false, fmt.Errorf("partlog: batch %d: %w", i, producer.ErrOutOfOrderSequence)
			}
			continue
		}
		v, err := l.producers.Check(batchMeta(h))
		if err != nil {
			return info, false, fmt.Errorf("partlog: batch %d: %w", i, err)
		}
		if v.Duplicate {
			if len(hs) > 1 {
				return info, false, ErrDuplicateInMultiBatch
			}
			return AppendInfo{
				FirstOffset: v.Original.FirstOffset, LastOffset: v.Original.LastOffset,
				LogAppendTime: -1, MaxTimestamp: v.Original.Timestamp, OffsetOfMaxTimestamp: v.Original.LastOffset,
				LogStartOffset: l.logStart.Load(), Duplicate: true,
			}, true, nil
		}
	}
	return info, false, nil
}

func lastOfProducer(hs []record.Header, pid int64) *record.Header {
	for i := len(hs) - 1; i >= 0; i-- {
		if hs[i].ProducerID == pid && !hs[i].IsControl() {
			return &hs[i]
		}
	}
	return nil
}

func followsSeq(last, next int32) bool {
	return int64(next) == int64(last)+1 || (next == 0 && last == math.MaxInt32)
}

// updateProducers records appended batches. REQUIRES: l.mu.
func (l *Log) updateProducers(hs []record.Header) {
	for i := range hs {
		if hs[i].HasProducerID() && !hs[i].IsControl() {
			l.producers.Update(batchMeta(&hs[i]))
		}
	}
}

// loadProducerSnapshot loads the newest snapshot and returns the offset
// from which batches must be replayed. REQUIRES: Open.
func (l *Log) loadProducerSnapshot() (int64, error) {
	loaded, err := producer.LoadLatestSnapshot(l.dir)
	if err != nil {
		return 0, err
	}
	for _, p := range loaded.Deleted {
		l.logger.Warn("partition log deleted a corrupt producer snapshot", "file", p)
	}
	l.producers = loaded.State
	if !loaded.Found {
		return 0, nil
	}
	return loaded.Offset, nil
}

// replayProducers applies the batches of seg from offset from onward. It
// applies nothing unless the whole segment's headers parse (a trusted
// segment that does not is recovered by the caller and replayed then).
func (l *Log) replayProducers(seg *segment.Segment, from int64) error {
	if seg.NextOffset() <= from {
		return nil
	}
	var metas []producer.BatchMeta
	err := seg.ScanHeaders(0, func(h record.Header, _ int64) error {
		if h.BaseOffset >= from && h.HasProducerID() && !h.IsControl() {
			metas = append(metas, batchMeta(&h))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, m := range metas {
		l.producers.Update(m)
	}
	return nil
}

// snapshotProducers writes a snapshot at offset. REQUIRES: l.mu.
func (l *Log) snapshotProducers(offset int64) error {
	_, err := l.producers.WriteSnapshot(l.dir, offset)
	return err
}

// truncateProducers applies a truncation of the log end. REQUIRES: l.mu.
func (l *Log) truncateProducers(leo int64) error {
	l.producers.TruncateTo(leo)
	return producer.DeleteSnapshotsAfter(l.dir, leo)
}

// resetProducers empties the state after a full truncation. REQUIRES: l.mu.
func (l *Log) resetProducers() error {
	l.producers.TruncateTo(math.MinInt64)
	return producer.DeleteSnapshotsAfter(l.dir, -1)
}

// truncateProducersHead applies a new log start offset: the state stays
// (see the list above), older snapshots go. REQUIRES: l.mu.
func (l *Log) truncateProducersHead() error {
	return producer.DeleteSnapshotsBefore(l.dir, l.segments()[0].BaseOffset())
}
