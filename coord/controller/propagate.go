package controller

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/strom-broker/strom/coord/metacache"
	"github.com/strom-broker/strom/coord/store"
)

// This file pushes the controller's decisions to the brokers through
// Options.Sender, as Kafka's controller does (research/ZK_CLUSTER.md 2.4):
//
//   - a partition state the controller writes is sent as LeaderAndIsr to
//     its live replicas and as UpdateMetadata to every live broker;
//   - on fail-over every live broker gets every partition: LeaderAndIsr for
//     the replicas it hosts, UpdateMetadata for all;
//   - a broker that joins gets the full metadata and LeaderAndIsr for its
//     replicas; the others get the new broker list;
//   - a deleted topic's replicas get StopReplica with delete, and every
//     broker an UpdateMetadata removing its partitions.
//
// Each operation (one public method call) collects its requests in one
// batch, sent when the operation ends, successful or not: what was written
// to the store is sent. With no Sender nothing is collected.

// operation starts one controller operation (every exported method that
// reads or writes the store): it takes c.mu and starts collecting the
// operation's requests, and returns the function that ends it — it sends
// the requests, steps down if a fenced write found another controller
// (deposed), and releases c.mu. Use: defer c.operation(ctx)(&err).
func (c *Controller) operation(ctx context.Context) func(*error) {
	c.mu.Lock()
	c.beginBatch()
	return func(err *error) {
		c.endBatch(ctx)
		*err = c.deposed(*err)
		c.mu.Unlock()
	}
}

// beginBatch starts collecting an operation's requests.
// REQUIRES: c.mu is held.
func (c *Controller) beginBatch() {
	if c.opts.Sender != nil {
		c.pending = newBatch()
	}
}

// endBatch sends the operation's requests to the live brokers.
// REQUIRES: c.mu is held.
func (c *Controller) endBatch(ctx context.Context) {
	b := c.pending
	c.pending = nil
	if b == nil || b.empty() || !c.active {
		return
	}
	brokers, err := c.store.Brokers(ctx)
	if err != nil {
		c.opts.Logger.Warn("control requests not sent: cannot read live brokers", "err", err)
		return
	}
	b.send(c.opts.Sender, c.brokerID, c.epoch, brokers, c.brokerEpochs(brokers))
}

// brokerEpochs returns the epochs of brokers (Kafka's czxid of each
// registration); brokers whose epoch is unknown are left out (sent as -1).
func (c *Controller) brokerEpochs(brokers []store.BrokerInfo) map[int32]int64 {
	out := make(map[int32]int64, len(brokers))
	for _, b := range brokers {
		if b.Epoch > 0 {
			out[b.ID] = b.Epoch
		}
	}
	return out
}

// queueState queues a partition state the controller just wrote (or, on
// fail-over and broker start, found): LeaderAndIsr to toBrokers (nil: every
// live replica) and UpdateMetadata to every live broker.
// REQUIRES: c.mu is held.
func (c *Controller) queueState(a store.TopicAssignment, p int32, st store.PartitionState, version int32, isNew bool, live map[int32]bool, toBrokers []int32) {
	if c.pending == nil {
		return
	}
	replicas := a.Partitions[p]
	var liveReplicas, offline []int32
	for _, r := range replicas {
		if live[r] {
			liveReplicas = append(liveReplicas, r)
		} else {
			offline = append(offline, r)
		}
	}
	if toBrokers == nil {
		toBrokers = liveReplicas
	}
	c.pending.addLeaderAndIsr(toBrokers, LeaderAndIsrPartition{
		Topic: a.Name, TopicID: a.ID, Partition: p, ControllerEpoch: st.ControllerEpoch,
		Leader: st.Leader, LeaderEpoch: st.LeaderEpoch, ISR: slices.Clone(st.ISR),
		PartitionEpoch: version, Replicas: slices.Clone(replicas), IsNew: isNew,
	}, offline, slices.Sorted(maps.Keys(live)))
}

// queueDeletion queues the requests that delete topic a everywhere.
// REQUIRES: c.mu is held.
func (c *Controller) queueDeletion(a store.TopicAssignment, live map[int32]bool) {
	if c.pending == nil {
		return
	}
	all := slices.Sorted(maps.Keys(live))
	for _, p := range slices.Sorted(maps.Keys(a.Partitions)) {
		for _, r := range a.Partitions[p] {
			c.pending.addStopReplica(r, StopReplicaPartition{Topic: a.Name, Partition: p,
				LeaderEpoch: metacache.LeaderDuringDelete, Delete: true})
		}
		c.pending.addUpdateMetadata(all, metacache.PartitionState{Topic: a.Name, Partition: p,
			Leader: metacache.LeaderDuringDelete, ControllerEpoch: c.epoch}, store.UUID{})
	}
}

// queueFullState queues every partition with a state: LeaderAndIsr to
// the live replicas that laiTo accepts and UpdateMetadata to every live
// broker. Used on fail-over (laiTo accepts all) and when brokers join
// (laiTo accepts the new ones). Kafka sends the joining brokers the full
// metadata and the others only the new broker list; sending everything to
// everyone is simpler and costs one message per broker per join.
// REQUIRES: c.mu is held.
func (c *Controller) queueFullState(ctx context.Context, live map[int32]bool, laiTo func(int32) bool) error {
	if c.pending == nil {
		return nil
	}
	topics, err := c.store.Topics(ctx)
	if err != nil {
		return fmt.Errorf("controller: full state: %w", err)
	}
	for _, name := range topics {
		var a store.TopicAssignment
		var states map[int32]store.PartitionState
		if view := c.seenView(name); view != nil {
			a, states = view.a, view.states // read (and written) by this operation already
		} else {
			a, err = c.store.Topic(ctx, name)
			if errors.Is(err, store.ErrUnknownTopic) || c.skipCorrupt(name, err) {
				continue
			}
			if err != nil {
				return fmt.Errorf("controller: full state: %w", err)
			}
			states, err = c.store.PartitionStates(ctx, name)
			if errors.Is(err, store.ErrUnknownTopic) || c.skipCorrupt(name, err) {
				continue
			}
			if err != nil {
				return fmt.Errorf("controller: full state: %w", err)
			}
		}
		for _, p := range slices.Sorted(maps.Keys(states)) {
			if _, assigned := a.Partitions[p]; !assigned {
				continue
			}
			to := []int32{} // not nil: nil would mean every live replica
			for _, r := range a.Partitions[p] {
				if live[r] && laiTo(r) {
					to = append(to, r)
				}
			}
			st := states[p]
			c.queueState(a, p, st, st.Version, false, live, to)
		}
	}
	c.pending.addUpdateMetadata(slices.Sorted(maps.Keys(live)), metacache.PartitionState{}, store.UUID{})
	return nil
}
