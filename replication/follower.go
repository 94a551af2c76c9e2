package replication

import (
	"errors"
	"fmt"

	"github.com/strom-broker/strom/engine/partlog"
	"github.com/strom-broker/strom/engine/record"
)

// This file is the follower's side of a Partition: what the fetcher
// (fetcher.go) does to the local replica. Every method checks that the
// replica still follows in the leader epoch the fetcher works for, under
// p.mu, so that nothing a fetcher received for an older epoch (or after
// this replica became leader) reaches the log.

// ErrStaleFetch is returned when the replica's role or leader epoch
// changed since the fetcher's request: the data is dropped.
var ErrStaleFetch = errors.New("replication: replica no longer follows in this leader epoch")

// followsLocked reports whether this replica follows in epoch.
// REQUIRES: p.mu is held.
func (p *Partition) followsLocked(epoch int32) error {
	if p.leader == p.localID || p.leaderEpoch != epoch {
		return fmt.Errorf("%w (epoch %d)", ErrStaleFetch, epoch)
	}
	return nil
}

// AppendFromLeader appends batches fetched from the leader of epoch,
// keeping their offsets and epochs (partlog.AppendAsFollower validates
// them: CRCs, sizes, offsets not below the log end). With durable acks it
// starts an fsync round; FetchOffset waits for it.
func (p *Partition) AppendFromLeader(epoch int32, batches []byte) (partlog.AppendInfo, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.followsLocked(epoch); err != nil {
		return partlog.AppendInfo{}, err
	}
	info, err := p.log.AppendAsFollower(batches)
	defer p.kickSync() // durable acks: fsync in the background at once (durable.go)
	if errors.Is(err, partlog.ErrUnexpectedOffset) {
		// The leader's log start lies inside its first batch (DeleteRecords)
		// and this log is empty from that start: restart the log at the
		// batch's base and append again (Kafka's
		// Partition.appendRecordsToFollowerOrFutureReplica).
		leo := p.log.LogEndOffset()
		if h, herr := record.ParseHeader(batches); herr == nil && leo == p.log.LogStartOffset() &&
			h.BaseOffset < leo && h.LastOffset() >= leo {
			if err := p.log.TruncateFullyAndStartAt(h.BaseOffset); err != nil {
				return partlog.AppendInfo{}, err
			}
			p.clampHWLocked()
			return p.log.AppendAsFollower(batches)
		}
	}
	return info, err
}

// UpdateFromLeader takes the leader's high watermark, clamped to this
// log's end (a follower never claims records it lacks) and never moving
// back, and the leader's log start offset, deleting local records below it
// (research/ZK_CLUSTER.md 5.2).
func (p *Partition) UpdateFromLeader(epoch int32, leaderHW, leaderLogStart int64) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.followsLocked(epoch); err != nil {
		return err
	}
	leo := p.log.LogEndOffset()
	if hw := min(leaderHW, leo); hw > p.hw.Load() {
		p.hw.Store(hw)
	}
	if start := min(leaderLogStart, leo); start > p.log.LogStartOffset() {
		if _, err := p.log.DeleteRecordsBefore(start); err != nil {
			return err
		}
	}
	return nil
}

// TruncateTo removes this follower's records at offset and above (its
// divergent tail) and lowers the high watermark to the new log end if it
// was above.
func (p *Partition) TruncateTo(epoch int32, offset int64) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.followsLocked(epoch); err != nil {
		return err
	}
	if err := p.log.TruncateTo(offset); err != nil {
		return err
	}
	p.clampHWLocked()
	return nil
}

// TruncateFullyAndStartAt empties this follower's log and restarts it at
// offset (the leader's log starts beyond everything this replica has).
func (p *Partition) TruncateFullyAndStartAt(epoch int32, offset int64) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.followsLocked(epoch); err != nil {
		return err
	}
	if err := p.log.TruncateFullyAndStartAt(offset); err != nil {
		return err
	}
	p.hw.Store(offset)
	return nil
}

// clampHWLocked keeps the high watermark within the log.
// REQUIRES: p.mu is held.
func (p *Partition) clampHWLocked() {
	leo := p.log.LogEndOffset()
	if p.hw.Load() > leo {
		p.hw.Store(leo)
	}
	if start := p.log.LogStartOffset(); p.hw.Load() < start {
		p.hw.Store(start)
	}
}
