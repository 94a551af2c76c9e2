package replication

import (
	"errors"
	"slices"
	"time"

	"github.com/strom-broker/strom/net/kerr"
)

// This file holds the leader's side of ISR changes. The leader never
// changes its ISR on its own: it proposes a change (ShrinkISR, or
// FollowerFetch for an expansion), the broker sends it to the controller
// (AlterPartition, KIP-497), and CompleteISRChange applies the answer.
// While the change is in flight (research/ZK_CLUSTER.md 4.1):
//
//   - no other change is proposed;
//   - the high watermark uses the maximal ISR (committed ∪ proposed), so a
//     shrink cannot let the high watermark pass a record that a replica
//     still in the stored ISR — one the controller may elect — lacks;
//   - acks=all and min.insync.replicas check the committed ISR before the
//     append and the maximal ISR once the record committed.

// ISRRetryBackoff is how long a leader waits after a refused ISR change
// before proposing another.
const ISRRetryBackoff = time.Second

// ISRChange is an ISR change a leader proposes to the controller.
type ISRChange struct {
	Topic     string
	Partition int32
	// LeaderEpoch and PartitionEpoch are those the leader holds; the
	// controller refuses a change made from an older state.
	LeaderEpoch    int32
	PartitionEpoch int32
	// ISR is the proposed in-sync replica set.
	ISR []int32
}

// proposeLocked makes isr the pending change unless one is in flight or a
// refusal is too recent, and reports whether it did.
// REQUIRES: p.mu is held and this replica leads.
func (p *Partition) proposeLocked(isr []int32) bool {
	if !MayPropose(p.pending, p.now(), p.retryAfter) {
		return false
	}
	p.pending = &ISRChange{Topic: p.topic, Partition: p.index, LeaderEpoch: p.leaderEpoch,
		PartitionEpoch: p.partitionEpoch, ISR: slices.Clone(isr)}
	return true
}

// PendingISRChange returns the ISR change in flight, if any.
func (p *Partition) PendingISRChange() (ISRChange, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pending == nil || p.leader != p.localID {
		return ISRChange{}, false
	}
	c := *p.pending
	c.ISR = slices.Clone(c.ISR)
	return c, true
}

// CompleteISRChange applies the controller's answer to change: with ok the
// controller stored isr at partitionEpoch and it becomes the committed ISR
// (the high watermark may advance); without, the change is dropped, the
// committed ISR stays, and no new change is proposed for ISRRetryBackoff.
// An answer to a change that is no longer pending (the replica's role or
// epoch changed since) is ignored. It reports whether it applied.
func (p *Partition) CompleteISRChange(change ISRChange, ok bool, isr []int32, partitionEpoch int32) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pending == nil || p.leader != p.localID || p.leaderEpoch != change.LeaderEpoch ||
		p.pending.PartitionEpoch != change.PartitionEpoch || !slices.Equal(p.pending.ISR, change.ISR) {
		return false
	}
	p.pending = nil
	if !ok {
		p.retryAfter = p.now().Add(ISRRetryBackoff)
		p.maybeAdvanceHWLocked()
		return true
	}
	p.isr = slices.Clone(isr)
	if !slices.Contains(p.isr, p.localID) {
		p.isr = append(p.isr, p.localID) // the controller never drops the leader
	}
	p.partitionEpoch = partitionEpoch
	p.maybeAdvanceHWLocked()
	p.wakeLocked()
	return true
}

// RefusalResetsISR reports whether the controller's per-partition refusal
// err of an ISR change means the change was not applied, so the leader may
// go back to its committed ISR (CompleteISRChange without ok):
// INELIGIBLE_REPLICA and OPERATION_NOT_ATTEMPTED. Any other refusal
// (FENCED_LEADER_EPOCH, INVALID_UPDATE_VERSION, NOT_LEADER_OR_FOLLOWER,
// ...) may answer a resend of a change an earlier send stored (its answer
// lost, or the controller moved), so the change stays pending and the high
// watermark keeps counting the proposed ISR until the controller's next
// LeaderAndIsr (Kafka's Partition.handleAlterPartitionError). The
// simulator (sim/) and tools/broker's isrSender decide with it.
func RefusalResetsISR(err error) bool {
	return errors.Is(err, kerr.IneligibleReplica) || errors.Is(err, kerr.OperationNotAttempted)
}
