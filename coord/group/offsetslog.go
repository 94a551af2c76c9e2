package group

import (
	"context"
	"fmt"

	"github.com/strom-broker/strom/engine/partlog"
	"github.com/strom-broker/strom/engine/record"
)

// OffsetsLog is the coordinator's window on __consumer_offsets; the broker
// implements it over its replicated partitions.
type OffsetsLog interface {
	// Append appends one uncompressed v2 batch (base offset 0, built by the
	// coordinator) to this broker's log of partition p and returns at once,
	// without waiting for replication: the offset the batch got in the log,
	// and a function that waits until it is committed (acks=all semantics
	// for this broker) or ctx ends. The coordinator appends under a
	// partition's lock (so the log and its state change in the same order)
	// and waits without it. An implementation returns an error wrapping
	// ErrNotLeader (from Append or the wait) when this broker no longer
	// leads p.
	Append(ctx context.Context, p int32, batch []byte) (offset int64, wait func(ctx context.Context) error, err error)
	// ReadAll calls fn, in offset order, with every batch of partition p
	// from the log start offset up to the high watermark at the time of the
	// call. fn must not keep the slice. An error from fn stops the read and
	// is returned.
	ReadAll(ctx context.Context, p int32, fn func(batch []byte) error) error
}

// PartlogOffsets is an OffsetsLog over local engine partition logs with no
// replication (the high watermark is the log end offset). Single-broker
// setups and tests use it; a replicated broker implements OffsetsLog over
// its replicas instead.
type PartlogOffsets struct {
	lookup func(p int32) (*partlog.Log, error)
	epoch  func(p int32) int32
}

var _ OffsetsLog = (*PartlogOffsets)(nil)

// readChunk is how many bytes ReadAll reads from a log at a time.
const readChunk = 1 << 20

// NewPartlogOffsets returns an OffsetsLog whose partition p is the log that
// lookup returns. Appends are stamped with leader epoch 0 unless
// WithLeaderEpoch is used.
func NewPartlogOffsets(lookup func(p int32) (*partlog.Log, error)) *PartlogOffsets {
	return &PartlogOffsets{lookup: lookup, epoch: func(int32) int32 { return 0 }}
}

// WithLeaderEpoch sets the leader epoch stamped into appended batches.
func (o *PartlogOffsets) WithLeaderEpoch(epoch func(p int32) int32) *PartlogOffsets {
	o.epoch = epoch
	return o
}

// Append appends batch to partition p's log; with no replication it is
// committed at once.
func (o *PartlogOffsets) Append(ctx context.Context, p int32, batch []byte) (int64, func(context.Context) error, error) {
	if err := ctx.Err(); err != nil {
		return 0, nil, fmt.Errorf("%w: %w", errContextDone, err)
	}
	l, err := o.lookup(p)
	if err != nil {
		return 0, nil, fmt.Errorf("%s-%d: %w", OffsetsTopic, p, err)
	}
	info, err := l.Append(batch, o.epoch(p))
	if err != nil {
		return 0, nil, fmt.Errorf("%s-%d: append: %w", OffsetsTopic, p, err)
	}
	return info.FirstOffset, func(context.Context) error { return nil }, nil
}

// ReadAll reads partition p's log from its start to its end.
func (o *PartlogOffsets) ReadAll(ctx context.Context, p int32, fn func(batch []byte) error) error {
	l, err := o.lookup(p)
	if err != nil {
		return fmt.Errorf("%s-%d: %w", OffsetsTopic, p, err)
	}
	if err := ReadBatches(ctx, l, l.LogEndOffset(), fn); err != nil {
		return fmt.Errorf("%s-%d: %w", OffsetsTopic, p, err)
	}
	return nil
}

// ReadBatches calls fn, in offset order, with every batch of l from its log
// start offset up to end (exclusive; the high watermark). fn must not keep
// the slice. OffsetsLog implementations use it for ReadAll.
func ReadBatches(ctx context.Context, l *partlog.Log, end int64, fn func(batch []byte) error) error {
	for off := l.LogStartOffset(); off < end; {
		if err := ctx.Err(); err != nil {
			return err
		}
		chunk, err := l.ReadBytes(off, readChunk, end)
		if err != nil {
			return fmt.Errorf("read at %d: %w", off, err)
		}
		if len(chunk) == 0 {
			break
		}
		s := record.NewScanner(chunk, record.FromLog)
		for s.Next() {
			if err := fn(s.Batch()); err != nil {
				return err
			}
			off = s.Header().NextOffset()
		}
		if err := s.Err(); err != nil {
			return fmt.Errorf("batch at %d: %w", off, err)
		}
	}
	return nil
}
