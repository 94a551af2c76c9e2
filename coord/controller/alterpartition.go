package controller

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/strom-broker/strom/coord/election"
	"github.com/strom-broker/strom/coord/metacache"
	"github.com/strom-broker/strom/coord/store"
)

// This file is the controller's side of AlterPartition (key 56, KIP-497):
// a partition's leader asks the controller to store a new ISR (after
// shrinking or expanding it); the controller checks the request against the
// stored state, writes it with its fenced store by compare-and-set on the
// partition epoch (the state's version), and sends UpdateMetadata with the
// new ISR to every live broker. Leader and leader epoch do not change
// (research/ZK_CLUSTER.md 4.1 b). Checks, in Kafka's order
// (KafkaController.tryProcessAlterPartition):
//
//   - not the active controller -> ErrNotController (whole request);
//   - the sender not registered with brokerEpoch -> ErrStaleBrokerEpoch
//     (whole request);
//   - per partition: unknown -> ErrUnknownTopic/ErrUnknownPartition; the
//     sender not its leader -> ErrNotLeader; a leader epoch or partition
//     epoch newer than the stored one -> ErrNotController (this controller
//     is behind); an older leader epoch -> ErrFencedLeaderEpoch; the stored
//     ISR already equal -> success (a retried request); an older partition
//     epoch -> ErrInvalidUpdateVersion; an ISR that misses the leader,
//     names a replica not assigned, or a broker not live (or in a
//     controlled shutdown) ->
//     ErrIneligibleReplica.

// Errors of AlterPartition (Kafka's codes in parentheses); the per-change
// checks are coord/election's CheckISRChange.
var (
	// ErrStaleBrokerEpoch: the request's broker epoch is not the sender's
	// current registration (STALE_BROKER_EPOCH, 77).
	ErrStaleBrokerEpoch = errors.New("stale broker epoch")
	// ErrNotLeader: the sender does not lead the partition
	// (NOT_LEADER_OR_FOLLOWER, 6).
	ErrNotLeader = election.ErrNotLeader
	// ErrFencedLeaderEpoch: the request's leader epoch is older than the
	// stored one (FENCED_LEADER_EPOCH, 74).
	ErrFencedLeaderEpoch = election.ErrFencedLeaderEpoch
	// ErrInvalidUpdateVersion: the request's partition epoch is older
	// than the stored one (INVALID_UPDATE_VERSION, 95).
	ErrInvalidUpdateVersion = election.ErrInvalidUpdateVersion
	// ErrIneligibleReplica: the new ISR holds a broker that may not be in
	// it (INELIGIBLE_REPLICA, 107; OPERATION_NOT_ATTEMPTED, 55, before v2).
	ErrIneligibleReplica = election.ErrIneligibleReplica
)

// ISRChange is one partition of an AlterPartition request.
type ISRChange struct {
	Partition      store.TopicPartition
	LeaderEpoch    int32
	PartitionEpoch int32
	ISR            []int32
}

// ISRChangeResult answers one ISRChange: Err, or the stored state (its
// Version is the new partition epoch).
type ISRChangeResult struct {
	Err   error
	State store.PartitionState
}

// AlterPartition stores the ISR changes that broker brokerID (registered
// with brokerEpoch) asks for, as its partitions' leader. The request-level
// error is ErrNotController or ErrStaleBrokerEpoch; otherwise every change
// has its own result, in order.
func (c *Controller) AlterPartition(ctx context.Context, brokerID int32, brokerEpoch int64, changes []ISRChange) (_ []ISRChangeResult, err error) {
	defer c.operation(ctx)(&err)
	if err := c.checkActive(ctx); err != nil {
		return nil, err
	}
	sender, err := c.store.Broker(ctx, brokerID)
	if errors.Is(err, store.ErrUnknownBroker) || err == nil && sender.Epoch != brokerEpoch {
		return nil, fmt.Errorf("controller: AlterPartition from broker %d epoch %d: %w", brokerID, brokerEpoch, ErrStaleBrokerEpoch)
	}
	if err != nil {
		return nil, fmt.Errorf("controller: AlterPartition: %w", err)
	}
	live, err := c.liveBrokers(ctx, -1)
	if err != nil {
		return nil, err
	}
	out := make([]ISRChangeResult, len(changes))
	moving := map[string][]int32{} // reassigning partitions whose ISR changed
	for i, ch := range changes {
		st, reassigning, err := c.alterISR(ctx, brokerID, ch, live)
		if errors.Is(err, store.ErrControllerMoved) {
			return nil, err
		}
		out[i] = ISRChangeResult{Err: err, State: st}
		if err == nil && reassigning {
			moving[ch.Partition.Topic] = append(moving[ch.Partition.Topic], ch.Partition.Partition)
		}
	}
	// A new replica that caught up may complete its reassignment.
	for topic, ps := range moving {
		if err := c.completeTopic(ctx, topic, ps, live); err != nil {
			c.opts.Logger.Warn("completing reassignments", "topic", topic, "err", err)
		}
	}
	return out, nil
}

// alterISR checks and stores one change; reassigning says the partition
// is being reassigned.
// REQUIRES: c.mu is held and c is active.
func (c *Controller) alterISR(ctx context.Context, brokerID int32, ch ISRChange, live map[int32]bool) (_ store.PartitionState, reassigning bool, err error) {
	tp := ch.Partition
	a, err := c.store.Topic(ctx, tp.Topic)
	if err != nil {
		return store.PartitionState{}, false, err
	}
	replicas, ok := a.Partitions[tp.Partition]
	if !ok {
		return store.PartitionState{}, false, ErrUnknownPartition
	}
	cur, err := c.store.PartitionState(ctx, tp)
	if errors.Is(err, store.ErrNoPartitionState) {
		return store.PartitionState{}, false, ErrUnknownPartition
	}
	if err != nil {
		return store.PartitionState{}, false, err
	}
	already, err := election.CheckISRChange(election.ISRChange{Sender: brokerID, LeaderEpoch: ch.LeaderEpoch,
		PartitionEpoch: ch.PartitionEpoch, ISR: ch.ISR},
		election.State{Leader: cur.Leader, LeaderEpoch: cur.LeaderEpoch, ISR: cur.ISR}, cur.Version, replicas,
		func(id int32) bool {
			_, stopping := c.shuttingDown[id] // in controlled shutdown: not live for an ISR (Kafka's liveBrokerIds)
			return live[id] && !stopping
		})
	switch {
	case errors.Is(err, election.ErrNewerState):
		return store.PartitionState{}, false, fmt.Errorf("%s: %w: %w", tp, err, ErrNotController)
	case err != nil:
		return store.PartitionState{}, false, fmt.Errorf("%s: %w", tp, err)
	case already:
		return cur, false, nil
	}
	next := cur.Clone()
	next.ISR = slices.Clone(ch.ISR)
	v, err := c.fenced.SetPartitionState(ctx, tp, next, cur.Version)
	if err != nil {
		return store.PartitionState{}, false, err
	}
	next.Version = v
	c.opts.Logger.Info("ISR changed", "partition", tp.String(), "leader", brokerID, "old_isr", cur.ISR, "isr", next.ISR,
		"partition_epoch", v)
	if c.pending != nil {
		var offline []int32
		for _, r := range replicas {
			if !live[r] {
				offline = append(offline, r)
			}
		}
		all := make([]int32, 0, len(live))
		for id := range live {
			all = append(all, id)
		}
		c.pending.addUpdateMetadata(all, metacache.PartitionState{Topic: tp.Topic, Partition: tp.Partition,
			ControllerEpoch: next.ControllerEpoch, Leader: next.Leader, LeaderEpoch: next.LeaderEpoch,
			ISR: slices.Clone(next.ISR), PartitionEpoch: v, Replicas: slices.Clone(replicas), OfflineReplicas: offline}, a.ID)
	}
	return next, len(a.AddingReplicas[tp.Partition])+len(a.RemovingReplicas[tp.Partition]) > 0, nil
}
