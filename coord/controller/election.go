package controller

import (
	"slices"

	"github.com/strom-broker/strom/coord/store"
)

// This file is the partition-state transition function: pure, no I/O, so
// every election rule is tested on values.
//
// Rules (Kafka's, ZooKeeper mode):
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
//   - Every change bumps the leader epoch by one and stamps the controller
//     epoch.

// initialState returns the first state of a partition, or ok=false if no
// replica is live.
func initialState(replicas []int32, live func(int32) bool, controllerEpoch int32) (store.PartitionState, bool) {
	var isr []int32
	for _, r := range replicas {
		if live(r) {
			isr = append(isr, r)
		}
	}
	if len(isr) == 0 {
		return store.PartitionState{}, false
	}
	return store.PartitionState{Leader: isr[0], LeaderEpoch: 0, ISR: isr, ControllerEpoch: controllerEpoch}, true
}

// Election says how a partition's leader was chosen by nextState.
type Election uint8

// Election outcomes.
const (
	// ElectionNone: the leader did not change.
	ElectionNone Election = iota
	// ElectionClean: a new leader from the ISR.
	ElectionClean
	// ElectionUnclean: a new leader from outside the ISR.
	ElectionUnclean
	// ElectionOffline: no eligible replica; the partition has no leader.
	ElectionOffline
)

// nextState applies the rules above to cur given which brokers are live. It
// returns the state to write and whether anything changed.
func nextState(replicas []int32, cur store.PartitionState, live func(int32) bool, unclean bool, controllerEpoch int32) (store.PartitionState, Election, bool) {
	var liveISR []int32
	for _, r := range cur.ISR {
		if live(r) {
			liveISR = append(liveISR, r)
		}
	}
	next := cur.Clone()
	election := ElectionNone
	switch {
	case cur.Leader != store.NoLeader && live(cur.Leader) && slices.Contains(cur.ISR, cur.Leader):
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
		election = ElectionClean
	default:
		var firstLive int32 = store.NoLeader
		for _, r := range replicas {
			if live(r) {
				firstLive = r
				break
			}
		}
		if unclean && firstLive != store.NoLeader {
			next.Leader = firstLive
			next.ISR = []int32{firstLive}
			election = ElectionUnclean
			break
		}
		next.Leader = store.NoLeader
		// Keep one last in-sync replica: the old leader if it was in the
		// ISR, else the ISR as it was (already reduced to its last member
		// by an earlier transition).
		if cur.Leader != store.NoLeader && slices.Contains(cur.ISR, cur.Leader) {
			next.ISR = []int32{cur.Leader}
		} else if len(cur.ISR) > 1 {
			next.ISR = cur.ISR[:1]
		}
		election = ElectionOffline
	}
	if next.Leader == cur.Leader && slices.Equal(next.ISR, cur.ISR) {
		return cur, ElectionNone, false
	}
	next.LeaderEpoch = cur.LeaderEpoch + 1
	next.ControllerEpoch = controllerEpoch
	return next, election, true
}
