package controller

import (
	"github.com/strom-broker/strom/coord/election"
	"github.com/strom-broker/strom/coord/store"
)

// This file applies the partition-state transition rules of
// coord/election (pure, shared with the replication simulator) to the
// store's partition states: the rules decide leader, leader epoch and ISR;
// this file stamps the controller epoch.

// initialState returns the first state of a partition, or ok=false if no
// replica is live.
func initialState(replicas []int32, live func(int32) bool, controllerEpoch int32) (store.PartitionState, bool) {
	st, ok := election.Initial(replicas, live)
	if !ok {
		return store.PartitionState{}, false
	}
	return store.PartitionState{Leader: st.Leader, LeaderEpoch: st.LeaderEpoch, ISR: st.ISR, ControllerEpoch: controllerEpoch}, true
}

// Election says how a partition's leader was chosen by nextState.
type Election = election.Kind

// Election outcomes.
const (
	// ElectionNone: the leader did not change.
	ElectionNone = election.None
	// ElectionClean: a new leader from the ISR.
	ElectionClean = election.Clean
	// ElectionUnclean: a new leader from outside the ISR.
	ElectionUnclean = election.Unclean
	// ElectionOffline: no eligible replica; the partition has no leader.
	ElectionOffline = election.Offline
)

// nextState applies election.Next to cur given which brokers are live. It
// returns the state to write and whether anything changed.
func nextState(replicas []int32, cur store.PartitionState, live func(int32) bool, unclean bool, controllerEpoch int32) (store.PartitionState, Election, bool) {
	st, kind, changed := election.Next(replicas, election.State{Leader: cur.Leader, LeaderEpoch: cur.LeaderEpoch, ISR: cur.ISR}, live, unclean)
	if !changed {
		return cur, kind, false
	}
	next := cur.Clone()
	next.Leader, next.LeaderEpoch, next.ISR = st.Leader, st.LeaderEpoch, st.ISR
	next.ControllerEpoch = controllerEpoch
	return next, kind, true
}
