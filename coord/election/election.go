// Package election holds the controller's partition-state rules as pure
// functions on values: who leads a partition after brokers come and go
// (Initial, Next) and whether a leader's ISR change may be stored
// (CheckISRChange). No I/O, no clock, no store: the controller
// (coord/controller) applies them to what it reads from ZooKeeper, and the
// replication simulator (replication/sim) applies the very same functions
// to its model, so both run one set of rules.
//
// Rules (Kafka's, ZooKeeper mode; research/ZK_CLUSTER.md section 3):
//   - A new partition's leader is its first live replica (assignment order),
//     its ISR the live replicas, its leader epoch 0. With no live replica it
//     gets no state until one comes up.
//   - A replica that is not live leaves the ISR; if it was the leader the
//     partition needs a new one. The ISR is never emptied: the last member
//     stays listed, so it can lead cleanly when it returns.
//   - A clean election picks the first replica, in assignment order, that is
//     live and in the ISR. An unclean one (only if enabled) picks the first
//     live replica and makes it the whole ISR; records only the old ISR had
//     may be lost.
//   - Every change bumps the leader epoch by one.
package election

import (
	"errors"
	"fmt"
	"slices"
)

// NoLeader is the leader of a partition without one (Kafka's -1).
const NoLeader int32 = -1

// State is the part of a partition's state the rules decide on.
type State struct {
	Leader      int32
	LeaderEpoch int32
	ISR         []int32
}

// Kind says how a partition's leader was chosen by Next.
type Kind uint8

// Election outcomes.
const (
	// None: the leader did not change.
	None Kind = iota
	// Clean: a new leader from the ISR.
	Clean
	// Unclean: a new leader from outside the ISR.
	Unclean
	// Offline: no eligible replica; the partition has no leader.
	Offline
)

// String names the outcome as the controller logs it.
func (k Kind) String() string {
	switch k {
	case None:
		return "none"
	case Clean:
		return "clean"
	case Unclean:
		return "unclean"
	default:
		return "offline"
	}
}

// Initial returns the first state of a partition with the given replicas,
// or ok=false if no replica is live.
func Initial(replicas []int32, live func(int32) bool) (State, bool) {
	var isr []int32
	for _, r := range replicas {
		if live(r) {
			isr = append(isr, r)
		}
	}
	if len(isr) == 0 {
		return State{}, false
	}
	return State{Leader: isr[0], LeaderEpoch: 0, ISR: isr}, true
}

// Next applies the rules to cur given which brokers are live and whether
// unclean election is enabled. It returns the next state (cur itself when
// nothing changes), how the leader was chosen, and whether anything
// changed; a change always bumps the leader epoch by one.
func Next(replicas []int32, cur State, live func(int32) bool, unclean bool) (State, Kind, bool) {
	var liveISR []int32
	for _, r := range cur.ISR {
		if live(r) {
			liveISR = append(liveISR, r)
		}
	}
	next := State{Leader: cur.Leader, LeaderEpoch: cur.LeaderEpoch, ISR: slices.Clone(cur.ISR)}
	kind := None
	switch {
	case cur.Leader != NoLeader && live(cur.Leader) && slices.Contains(cur.ISR, cur.Leader):
		next.ISR = liveISR // contains the leader, so never empty
	case len(liveISR) > 0:
		// Only during a reassignment can the ISR hold a broker outside
		// the assignment; the ISR's order is the fallback.
		next.Leader = liveISR[0]
		for _, r := range replicas {
			if slices.Contains(liveISR, r) {
				next.Leader = r
				break
			}
		}
		next.ISR = liveISR
		kind = Clean
	default:
		firstLive := NoLeader
		for _, r := range replicas {
			if live(r) {
				firstLive = r
				break
			}
		}
		if unclean && firstLive != NoLeader {
			next.Leader = firstLive
			next.ISR = []int32{firstLive}
			kind = Unclean
			break
		}
		next.Leader = NoLeader
		// Keep one last in-sync replica: the old leader if it was in the
		// ISR, else the ISR as it was (already reduced to its last member
		// by an earlier transition).
		if cur.Leader != NoLeader && slices.Contains(cur.ISR, cur.Leader) {
			next.ISR = []int32{cur.Leader}
		} else if len(cur.ISR) > 1 {
			next.ISR = cur.ISR[:1]
		}
		kind = Offline
	}
	if next.Leader == cur.Leader && slices.Equal(next.ISR, cur.ISR) {
		return cur, None, false
	}
	next.LeaderEpoch = cur.LeaderEpoch + 1
	return next, kind, true
}

// Errors of CheckISRChange (the controller maps them to Kafka's codes).
var (
	// ErrNotLeader: the sender does not lead the partition
	// (NOT_LEADER_OR_FOLLOWER, 6).
	ErrNotLeader = errors.New("not the partition's leader")
	// ErrNewerState: the change names a leader epoch or partition epoch
	// newer than the stored one, so the deciding controller is behind
	// (NOT_CONTROLLER, 41).
	ErrNewerState = errors.New("request from a newer state")
	// ErrFencedLeaderEpoch: the request's leader epoch is older than the
	// stored one (FENCED_LEADER_EPOCH, 74).
	ErrFencedLeaderEpoch = errors.New("fenced leader epoch")
	// ErrInvalidUpdateVersion: the request's partition epoch is older
	// than the stored one (INVALID_UPDATE_VERSION, 95).
	ErrInvalidUpdateVersion = errors.New("invalid partition epoch")
	// ErrIneligibleReplica: the new ISR holds a broker that may not be in
	// it (INELIGIBLE_REPLICA, 107; OPERATION_NOT_ATTEMPTED, 55, before v2).
	ErrIneligibleReplica = errors.New("ineligible replica in the new ISR")
)

// ISRChange is what a leader asks the controller to store: the new ISR,
// made from the leader epoch and partition epoch it holds.
type ISRChange struct {
	Sender         int32
	LeaderEpoch    int32
	PartitionEpoch int32
	ISR            []int32
}

// CheckISRChange decides an AlterPartition change against the stored state
// cur (at version curVersion, the partition epoch), in Kafka's order
// (KafkaController.tryProcessAlterPartition): the sender must lead; a newer
// leader or partition epoch -> ErrNewerState; an older leader epoch ->
// ErrFencedLeaderEpoch; an ISR equal to the stored one is accepted as it is
// (already true: a retried request); an older partition epoch ->
// ErrInvalidUpdateVersion; an ISR without the leader, or naming a replica
// not assigned or not live -> ErrIneligibleReplica. With a nil error and
// already false the change is to be stored.
func CheckISRChange(ch ISRChange, cur State, curVersion int32, replicas []int32, live func(int32) bool) (already bool, err error) {
	switch {
	case cur.Leader != ch.Sender:
		return false, fmt.Errorf("led by %d: %w", cur.Leader, ErrNotLeader)
	case ch.LeaderEpoch > cur.LeaderEpoch || ch.PartitionEpoch > curVersion:
		return false, ErrNewerState
	case ch.LeaderEpoch < cur.LeaderEpoch:
		return false, fmt.Errorf("leader epoch %d < %d: %w", ch.LeaderEpoch, cur.LeaderEpoch, ErrFencedLeaderEpoch)
	case sameMembers(ch.ISR, cur.ISR):
		return true, nil
	case ch.PartitionEpoch < curVersion:
		return false, fmt.Errorf("partition epoch %d < %d: %w", ch.PartitionEpoch, curVersion, ErrInvalidUpdateVersion)
	}
	if !slices.Contains(ch.ISR, ch.Sender) {
		return false, fmt.Errorf("ISR %v without its leader: %w", ch.ISR, ErrIneligibleReplica)
	}
	for _, r := range ch.ISR {
		if !slices.Contains(replicas, r) || !live(r) {
			return false, fmt.Errorf("replica %d not assigned or not live: %w", r, ErrIneligibleReplica)
		}
	}
	return false, nil
}

// sameMembers reports whether a and b hold the same brokers.
func sameMembers(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}
