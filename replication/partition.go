// Package replication owns this broker's replica of a partition: as leader
// it keeps the high watermark and the in-sync replica set (ISR, changed
// through the controller: isr.go), makes acks=all producers wait until
// their records are committed, and wakes long-polling fetchers when
// committed data arrives; as follower it is filled by a fetcher
// (fetcher.go) that copies the leader and truncates by leader epoch
// (truncation.go). README.md has the rules.
//
// Every produce and fetch goes through a Partition, even on a single broker
// (a leader whose ISR is itself, so the high watermark equals the log end
// offset); adding followers changes no request handler.
//
// # Invariants
//
// Kept by Partition under mu, and as published through hw:
//
//	logStartOffset <= hw <= log end offset of this replica;
//	on the leader, hw advances to min(log end, fetch offset of every
//	maximal-ISR member) (committed ISR ∪ the ISR change in flight);
//	hw never moves backwards while this replica stays leader of one epoch;
//	the leader is always in its own ISR;
//	with durable acks (durable.go), the leader counts its own log only up
//	to its recovery point (what it has fsynced), and a follower reports
//	(fetches at) only offsets it has fsynced, so hw <= the fsynced end of
//	every maximal-ISR member.
//
// # Concurrency
//
// A *Partition is safe for concurrent use. Appends are serialised by the
// partition log; role changes and follower updates take mu. High-watermark
// waiters (acks=all producers, long-polling fetchers) wait on a channel that
// is closed and replaced each time the high watermark advances, so no waiter
// is ever left behind and none spins.
package replication

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strom-broker/strom/engine/partlog"
)

// Errors returned by Partition; the broker maps them to Kafka error codes.
var (
	// ErrNotLeader is NOT_LEADER_OR_FOLLOWER: this replica does not lead the
	// partition.
	ErrNotLeader = errors.New("replication: not the leader")
	// ErrNotEnoughReplicas is NOT_ENOUGH_REPLICAS: acks=all with an ISR
	// smaller than min.insync.replicas; nothing was appended.
	ErrNotEnoughReplicas = errors.New("replication: not enough in-sync replicas")
	// ErrNotEnoughReplicasAfterAppend is NOT_ENOUGH_REPLICAS_AFTER_APPEND:
	// the ISR shrank below min.insync.replicas while waiting.
	ErrNotEnoughReplicasAfterAppend = errors.New("replication: not enough in-sync replicas after append")
	// ErrFencedLeaderEpoch is FENCED_LEADER_EPOCH: a request carried an
	// older leader epoch than this replica knows.
	ErrFencedLeaderEpoch = errors.New("replication: fenced leader epoch")
	// ErrUnknownLeaderEpoch is UNKNOWN_LEADER_EPOCH: a request carried a
	// newer leader epoch than this replica knows.
	ErrUnknownLeaderEpoch = errors.New("replication: unknown leader epoch")
	// ErrNotAssignedReplica: a follower fetch named a replica id that is
	// not one of the partition's followers. Kafka answers
	// UNKNOWN_LEADER_EPOCH when the fetch carried a leader epoch, else
	// NOT_LEADER_OR_FOLLOWER (Partition.followerReplicaOrThrow).
	ErrNotAssignedReplica = errors.New("replication: not an assigned replica")
)

// Acks values of a produce request.
const (
	AcksNone   = 0
	AcksLeader = 1
	AcksAll    = -1
)

// Partition is this broker's replica of one partition.
type Partition struct {
	topic   string
	index   int32
	localID int32
	log     *partlog.Log
	now     func() time.Time

	hw atomic.Int64 // published high watermark

	durable atomic.Bool // durable acks (durable.go)
	syncing atomic.Bool // a background fsync round is running (durable.go)

	mu          sync.Mutex
	leader      int32 // -1 when unknown
	leaderEpoch int32
	// partitionEpoch is the version of the partition's state record the
	// ISR was read at (Kafka's zkVersion); AlterPartition names it.
	partitionEpoch int32
	// epochStart is the log end offset when this replica became leader of
	// leaderEpoch: a follower must reach it to join the ISR.
	epochStart int64
	replicas   []int32
	// isr is the committed ISR (as the controller stored it). pending is
	// the ISR change sent to the controller and not answered yet (nil:
	// none); while one is in flight no other is proposed, and the high
	// watermark uses the maximal ISR, isr ∪ pending.ISR.
	isr        []int32
	pending    *ISRChange
	retryAfter time.Time                   // no new proposal before this (after a refusal)
	followers  map[int32]*FollowerProgress // leader only
	hwChanged  chan struct{}               // closed and replaced when hw advances or the role changes
	onISR      func(*Partition)            // told of every new pending ISR change
}

// New returns the replica of topic/partition on broker localID, backed by
// log. It starts with no role; call MakeLeader. The high watermark starts at
// initialHW (from replication-offset-checkpoint), clamped to the log.
func New(topic string, partition, localID int32, log *partlog.Log, initialHW int64, now func() time.Time) *Partition {
	if now == nil {
		now = time.Now
	}
	p := &Partition{
		topic: topic, index: partition, localID: localID, log: log, now: now,
		leader: -1, hwChanged: make(chan struct{}),
	}
	p.hw.Store(min(max(initialHW, log.LogStartOffset()), log.LogEndOffset()))
	return p
}

// SetISRListener sets fn to be called (without locks held, on the
// goroutine that proposed it) each time this leader proposes an ISR change;
// fn sends it to the controller and reports back with CompleteISRChange.
// fn must not block.
func (p *Partition) SetISRListener(fn func(*Partition)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.onISR = fn
}

// Topic returns the partition's topic.
func (p *Partition) Topic() string { return p.topic }

// Index returns the partition number.
func (p *Partition) Index() int32 { return p.index }

// Log returns the partition log.
func (p *Partition) Log() *partlog.Log { return p.log }

// HighWatermark returns the offset below which records are committed.
func (p *Partition) HighWatermark() int64 { return p.hw.Load() }

// State describes a replica's role.
type State struct {
	Leader         int32
	LeaderEpoch    int32
	PartitionEpoch int32
	Replicas       []int32
	// ISR is the committed ISR (leader only).
	ISR []int32
}

// State returns the replica's current role.
func (p *Partition) State() State {
	p.mu.Lock()
	defer p.mu.Unlock()
	return State{Leader: p.leader, LeaderEpoch: p.leaderEpoch, PartitionEpoch: p.partitionEpoch,
		Replicas: slices.Clone(p.replicas), ISR: slices.Clone(p.isr)}
}

// IsLeader reports whether this replica leads the partition.
func (p *Partition) IsLeader() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.leader == p.localID
}

// MakeLeader makes this replica the leader for epoch with the given replicas
// and ISR (which must contain this broker), read at partitionEpoch. As
// Kafka's Partition.makeLeader, the new epoch is recorded in the
// leader-epoch cache at the log end at once (so OffsetForLeaderEpoch
// answers followers that are ahead of this log), and every follower's
// state is reset: those in the ISR count as caught up now.
func (p *Partition) MakeLeader(epoch int32, replicas, isr []int32, partitionEpoch int32) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	leo := p.log.LogEndOffset()
	if latest, ok := p.log.EpochCache().LatestEpoch(); !ok || latest < epoch {
		if err := p.log.EpochCache().Assign(epoch, leo); err != nil {
			return err
		}
	}
	p.leader = p.localID
	p.leaderEpoch = epoch
	p.partitionEpoch = partitionEpoch
	p.epochStart = leo
	p.replicas = slices.Clone(replicas)
	p.isr = slices.Clone(isr)
	p.pending = nil
	p.retryAfter = time.Time{}
	if !slices.Contains(p.isr, p.localID) {
		p.isr = append(p.isr, p.localID)
	}
	now := p.now()
	p.followers = make(map[int32]*FollowerProgress)
	for _, r := range replicas {
		if r != p.localID {
			f := NewFollowerProgress(p.hw.Load(), slices.Contains(p.isr, r), now)
			p.followers[r] = &f
		}
	}
	p.maybeAdvanceHWLocked()
	p.wakeLocked()
	p.kickSync() // a former follower's last appends may not be on disk yet
	return nil
}

// MakeFollower makes this replica a follower of leader for epoch. Pending
// acks=all waiters and long polls wake up and see they are no longer served
// by a leader.
func (p *Partition) MakeFollower(epoch, leader int32, replicas []int32) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.leader = leader
	p.leaderEpoch = epoch
	p.replicas = slices.Clone(replicas)
	p.isr = nil
	p.pending = nil
	p.followers = nil
	if plants.hwTruncate {
		// The planted bug: cut to the high watermark at once, as Kafka
		// did before KIP-101 (makeFollowers), instead of asking the leader.
		_ = p.log.TruncateTo(min(p.hw.Load(), p.log.LogEndOffset()))
	}
	p.wakeLocked()
}

// CheckEpoch validates a client's current leader epoch (-1 = not given).
func (p *Partition) CheckEpoch(epoch int32) error {
	if epoch < 0 {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case epoch < p.leaderEpoch:
		return ErrFencedLeaderEpoch
	case epoch > p.leaderEpoch:
		return ErrUnknownLeaderEpoch
	}
	return nil
}

// Append appends a produce request's batches as leader. With acks=all it
// first checks the ISR against minISR; the caller then waits for
// commitment with WaitCommitted. The returned info is the partition log's.
func (p *Partition) Append(batches []byte, acks int16, minISR int) (partlog.AppendInfo, error) {
	p.mu.Lock()
	if p.leader != p.localID {
		p.mu.Unlock()
		return partlog.AppendInfo{}, ErrNotLeader
	}
	if err := CheckBeforeAppend(acks, len(p.isr), minISR); err != nil {
		p.mu.Unlock()
		return partlog.AppendInfo{}, err
	}
	epoch := p.leaderEpoch
	p.mu.Unlock()

	info, err := p.log.Append(batches, epoch)
	if err != nil {
		return info, err
	}
	p.kickSync()
	p.mu.Lock()
	p.maybeAdvanceHWLocked()
	p.mu.Unlock()
	return info, nil
}

// WaitCommitted blocks until the high watermark passes offset (the record
// at offset is committed), ctx ends, or this replica stops leading. It
// returns nil once committed, ctx.Err() on timeout, ErrNotLeader if
// leadership moved, and ErrNotEnoughReplicasAfterAppend if, once the
// record committed, the maximal ISR is smaller than minISR (Kafka's
// Partition.checkEnoughReplicasReachOffset).
func (p *Partition) WaitCommitted(ctx context.Context, offset int64, minISR int) error {
	for {
		p.mu.Lock()
		switch {
		case p.leader != p.localID:
			p.mu.Unlock()
			return ErrNotLeader
		case p.hw.Load() > offset || plants.ackEarly:
			n := len(p.maximalISRLocked())
			p.mu.Unlock()
			return CheckAfterCommit(n, minISR)
		}
		ch := p.hwChanged
		p.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Changed returns a channel closed the next time the high watermark advances
// or the role changes. Long-polling fetchers wait on it.
func (p *Partition) Changed() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.hwChanged
}

// ReadCommitted reads committed records (below the high watermark) starting
// at offset, as a consumer fetch does. The result must be released.
func (p *Partition) ReadCommitted(offset int64, maxBytes int) (*partlog.ReadResult, error) {
	return p.log.Read(offset, maxBytes, p.hw.Load())
}

// FollowerFetch reads up to the log end from fetchOffset for follower
// replica and then, if the read succeeded, records that it holds
// everything below fetchOffset: its lag state (research/ZK_CLUSTER.md
// 4.2), the high watermark, and an ISR expansion once it has caught up
// (4.3). A replica id that is not an assigned follower gets
// ErrNotAssignedReplica: it reads nothing (records above the high
// watermark are for replicas only) and changes nothing. It reports whether
// an ISR expansion was proposed.
func (p *Partition) FollowerFetch(replica int32, fetchOffset int64, maxBytes int) (*partlog.ReadResult, bool, error) {
	p.mu.Lock()
	leader := p.leader == p.localID
	_, assigned := p.followers[replica]
	p.mu.Unlock()
	switch {
	case !leader:
		return nil, false, ErrNotLeader
	case !assigned:
		return nil, false, ErrNotAssignedReplica
	}
	res, err := p.log.Read(fetchOffset, maxBytes, p.log.LogEndOffset())
	if err != nil {
		return res, false, err
	}
	p.mu.Lock()
	f, ok := p.followers[replica]
	if p.leader != p.localID || !ok {
		p.mu.Unlock()
		return res, false, nil
	}
	f.RecordFetch(fetchOffset, p.log.LogEndOffset(), p.now())
	proposed := false
	if !slices.Contains(p.maximalISRLocked(), replica) && MayJoinISR(fetchOffset, p.hw.Load(), p.epochStart) {
		proposed = p.proposeLocked(append(slices.Clone(p.isr), replica))
	}
	p.maybeAdvanceHWLocked()
	notify := p.onISR
	p.mu.Unlock()
	if proposed && notify != nil {
		notify(p)
	}
	return res, proposed, nil
}

// ShrinkISR proposes removing the followers that are out of sync: not at
// the log end and not caught up within maxLag (Kafka's
// getOutOfSyncReplicas; the leader itself is never removed). It returns the
// proposed ISR, if it proposed one.
func (p *Partition) ShrinkISR(maxLag time.Duration) ([]int32, bool) {
	p.mu.Lock()
	if p.leader != p.localID || p.pending != nil {
		p.mu.Unlock()
		return nil, false
	}
	out := ShrunkISR(p.isr, p.log.LogEndOffset(), p.now(), maxLag, p.progressLocked)
	if len(out) == len(p.isr) || !p.proposeLocked(out) {
		p.mu.Unlock()
		return nil, false
	}
	notify := p.onISR
	p.mu.Unlock()
	if notify != nil {
		notify(p)
	}
	return slices.Clone(out), true
}

// maximalISRLocked is the committed ISR with the pending change's members
// added. REQUIRES: p.mu is held.
func (p *Partition) maximalISRLocked() []int32 {
	return MaximalISR(p.isr, p.pending)
}

// progressLocked returns the leader's view of follower r.
// REQUIRES: p.mu is held.
func (p *Partition) progressLocked(r int32) (FollowerProgress, bool) {
	f, ok := p.followers[r]
	if !ok {
		return FollowerProgress{}, false
	}
	return *f, true
}

// maybeAdvanceHWLocked sets hw to the smallest log end offset in the
// maximal ISR if that is larger; with durable acks the leader's own counts
// only up to its recovery point. REQUIRES: p.mu is held.
func (p *Partition) maybeAdvanceHWLocked() {
	if p.leader != p.localID {
		return
	}
	// localEnd: the log end, or with durable acks what is fsynced.
	if hw := HighWatermark(p.localEnd(), p.maximalISRLocked(), p.progressLocked); hw > p.hw.Load() {
		p.hw.Store(hw)
		p.wakeLocked()
	}
}

// wakeLocked wakes every waiter. REQUIRES: p.mu is held.
func (p *Partition) wakeLocked() {
	close(p.hwChanged)
	p.hwChanged = make(chan struct{})
}
