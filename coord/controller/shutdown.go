package controller

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/strom-broker/strom/coord/store"
)

// This file is Kafka's controlled shutdown, the controller's side
// (KafkaController.doControlledShutdown, ZooKeeper mode): a broker about to
// stop asks the controller to move its work away first, so that clients
// see one quick leader change instead of a session timeout.
//
// Rules, per partition with more than one replica assigned to the
// shutting-down broker (RF 1 partitions stay where they are; a topic being
// deleted is left alone):
//   - it leads the partition: the new leader is the first replica in
//     assignment order that is live, in the ISR and not shutting down
//     itself (Kafka's ControlledShutdownPartitionLeaderElection); the new
//     ISR is the old one without the brokers shutting down. With no such
//     replica nothing changes and the partition is reported as remaining;
//   - it follows: it leaves the ISR, unless it is the ISR's last member
//     (Kafka's OfflineReplica transition).
//
// Each change bumps the leader epoch, is written through the fenced store
// (one atomic write per maxStatesPerWrite partitions) and sent as
// LeaderAndIsr to the partition's other live replicas, UpdateMetadata to
// every live broker, and StopReplica (without delete) to the broker
// shutting down, which stops replicating the partition at once. (Kafka
// instead makes it a follower of the partitions it led; it would fetch for
// the moment it has left and ask, in vain, to rejoin the ISR.)
//
// From the request until its registration goes (or changes epoch) the
// broker is "shutting down": AlterPartition may not add it to an ISR, and
// a second request moves what the first could not. The answer is the
// partitions it still leads (Kafka's RemainingPartitions); the broker
// retries while that is not empty.
//
// Invariant: c.shuttingDown only holds brokers registered with the epoch
// recorded (joinedBrokers prunes it at every broker change).

// ErrBrokerNotAvailable: the broker asking for a controlled shutdown is not
// registered (BROKER_NOT_AVAILABLE, 8).
var ErrBrokerNotAvailable = errors.New("broker not available")

// UnknownBrokerEpoch is the broker epoch of a ControlledShutdown request
// older than v2 (Kafka's AbstractControlRequest.UNKNOWN_BROKER_EPOCH): it
// is not checked.
const UnknownBrokerEpoch int64 = -1

// ControlledShutdown moves leaderships and ISR memberships off broker id,
// which is about to stop, and returns the partitions it still leads
// (sorted). Request-level errors: ErrNotController, ErrBrokerNotAvailable,
// ErrStaleBrokerEpoch (brokerEpoch older than the broker's registration;
// UnknownBrokerEpoch is not checked).
func (c *Controller) ControlledShutdown(ctx context.Context, id int32, brokerEpoch int64) (_ []store.TopicPartition, err error) {
	defer c.operation(ctx)(&err)
	if err := c.checkActive(ctx); err != nil {
		return nil, err
	}
	reg, err := c.store.Broker(ctx, id)
	if errors.Is(err, store.ErrUnknownBroker) {
		return nil, fmt.Errorf("controller: controlled shutdown of broker %d: %w", id, ErrBrokerNotAvailable)
	}
	if err != nil {
		return nil, fmt.Errorf("controller: controlled shutdown: %w", err)
	}
	if brokerEpoch != UnknownBrokerEpoch && brokerEpoch < reg.Epoch {
		return nil, fmt.Errorf("controller: controlled shutdown of broker %d epoch %d (registered %d): %w",
			id, brokerEpoch, reg.Epoch, ErrStaleBrokerEpoch)
	}
	if c.shuttingDown == nil {
		c.shuttingDown = map[int32]int64{}
	}
	c.shuttingDown[id] = reg.Epoch
	live, err := c.liveBrokers(ctx, -1)
	if err != nil {
		return nil, err
	}
	var remaining []store.TopicPartition
	moved, shrunk := 0, 0
	hosts := func(a store.TopicAssignment) bool { // a partition of RF > 1 on the broker
		for _, replicas := range a.Partitions {
			if len(replicas) > 1 && slices.Contains(replicas, id) {
				return true
			}
		}
		return false
	}
	err = c.eachTopic(ctx, hosts, func(a store.TopicAssignment, states map[int32]store.PartitionState) error {
		var updates []store.PartitionStateUpdate
		for _, p := range slices.Sorted(maps.Keys(a.Partitions)) {
			cur, ok := states[p]
			if !ok || len(a.Partitions[p]) < 2 || !slices.Contains(a.Partitions[p], id) {
				continue
			}
			next, changed := c.shutdownState(a.Partitions[p], cur, id, live)
			if changed {
				updates = append(updates, store.PartitionStateUpdate{Partition: store.TopicPartition{Topic: a.Name, Partition: p},
					State: next, ExpectedVersion: cur.Version})
			}
		}
		for start := 0; start < len(updates); start += maxStatesPerWrite {
			end := min(start+maxStatesPerWrite, len(updates))
			written, err := c.writeShutdownStates(ctx, a, updates[start:end], id, live)
			if err != nil {
				return err
			}
			for _, st := range written {
				if states[st.Partition.Partition].Leader == id && st.State.Leader != id {
					moved++
				} else {
					shrunk++
				}
				states[st.Partition.Partition] = st.State
			}
		}
		for _, p := range slices.Sorted(maps.Keys(a.Partitions)) {
			if st, ok := states[p]; ok && st.Leader == id && len(a.Partitions[p]) > 1 {
				remaining = append(remaining, store.TopicPartition{Topic: a.Name, Partition: p})
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("controller: controlled shutdown: %w", err)
	}
	c.opts.Logger.Info("controlled shutdown", "broker", id, "leaders_moved", moved, "isr_shrunk", shrunk,
		"still_led", len(remaining))
	return remaining, nil
}

// shutdownState is the rule above for one partition: the state to write
// and whether anything changed.
// REQUIRES: c.mu is held.
func (c *Controller) shutdownState(replicas []int32, cur store.PartitionState, id int32, live map[int32]bool) (store.PartitionState, bool) {
	stopping := func(r int32) bool { _, ok := c.shuttingDown[r]; return ok }
	next := cur.Clone()
	if cur.Leader == id {
		next.Leader = store.NoLeader
		for _, r := range replicas {
			if live[r] && slices.Contains(cur.ISR, r) && !stopping(r) {
				next.Leader = r
				break
			}
		}
		if next.Leader == store.NoLeader {
			return cur, false
		}
		next.ISR = slices.DeleteFunc(next.ISR, stopping)
	} else {
		if !slices.Contains(cur.ISR, id) || len(cur.ISR) == 1 {
			return cur, false
		}
		next.ISR = slices.DeleteFunc(next.ISR, func(r int32) bool { return r == id })
	}
	next.LeaderEpoch = cur.LeaderEpoch + 1
	next.ControllerEpoch = c.epoch
	return next, true
}

// writeShutdownStates writes one batch of a topic's controlled-shutdown
// states atomically; if the batch loses a race each partition is re-read,
// recomputed and written on its own. It queues the requests for every
// state written and returns those states (with their new versions).
// REQUIRES: c.mu is held and c is active.
func (c *Controller) writeShutdownStates(ctx context.Context, a store.TopicAssignment, updates []store.PartitionStateUpdate, id int32, live map[int32]bool) ([]store.PartitionStateUpdate, error) {
	versions, err := c.fenced.SetPartitionStates(ctx, updates)
	switch {
	case err == nil:
		out := make([]store.PartitionStateUpdate, len(updates))
		for i, u := range updates {
			u.State.Version = versions[i]
			out[i] = u
			c.queueShutdownState(a, u, id, live)
		}
		return out, nil
	case errors.Is(err, store.ErrUnknownTopic), errors.Is(err, store.ErrUnknownPartition):
		return nil, nil // deleted or shrunk meanwhile
	case !errors.Is(err, store.ErrBadVersion):
		return nil, fmt.Errorf("controller: controlled shutdown, states of %q: %w", a.Name, err)
	}
	var out []store.PartitionStateUpdate
	for _, u := range updates {
		for attempt := 0; ; attempt++ {
			cur, err := c.store.PartitionState(ctx, u.Partition)
			if errors.Is(err, store.ErrUnknownTopic) || errors.Is(err, store.ErrNoPartitionState) {
				break
			}
			if err != nil {
				return out, fmt.Errorf("controller: controlled shutdown, %s: %w", u.Partition, err)
			}
			next, changed := c.shutdownState(a.Partitions[u.Partition.Partition], cur, id, live)
			if !changed {
				break
			}
			v, err := c.fenced.SetPartitionState(ctx, u.Partition, next, cur.Version)
			if errors.Is(err, store.ErrBadVersion) && attempt < maxCASAttempts {
				continue
			}
			if err != nil {
				return out, fmt.Errorf("controller: controlled shutdown, %s: %w", u.Partition, err)
			}
			next.Version = v
			w := store.PartitionStateUpdate{Partition: u.Partition, State: next, ExpectedVersion: cur.Version}
			out = append(out, w)
			c.queueShutdownState(a, w, id, live)
			break
		}
	}
	return out, nil
}

// queueShutdownState queues one written state: LeaderAndIsr to the
// partition's live replicas other than the brokers shutting down,
// UpdateMetadata to every live broker, StopReplica (no delete) to broker
// id.
// REQUIRES: c.mu is held.
func (c *Controller) queueShutdownState(a store.TopicAssignment, u store.PartitionStateUpdate, id int32, live map[int32]bool) {
	if c.pending == nil {
		return
	}
	to := []int32{} // not nil: nil would mean every live replica
	for _, r := range a.Partitions[u.Partition.Partition] {
		if _, stopping := c.shuttingDown[r]; live[r] && !stopping {
			to = append(to, r)
		}
	}
	c.queueState(a, u.Partition.Partition, u.State, u.State.Version, false, live, to)
	c.pending.addStopReplica(id, StopReplicaPartition{Topic: a.Name, Partition: u.Partition.Partition,
		LeaderEpoch: u.State.LeaderEpoch})
}

// Retire gives up control for good, for a broker that is stopping: it
// resigns if it is the controller (so that another broker takes over
// while this one still serves) and never stands again.
func (c *Controller) Retire(ctx context.Context) error {
	c.mu.Lock()
	c.retired = true
	c.mu.Unlock()
	return c.Resign(ctx)
}
