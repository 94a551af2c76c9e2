package controller

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/strom-broker/strom/coord/store"
)

// This file is Kafka's partition reassignment (KafkaController
// .onPartitionReassignment, ZooKeeper mode, 2.4+; research/ZK_CLUSTER.md
// 2.4). Names as Kafka's: RS the replicas stored in the topic's assignment,
// ORS the original replicas, TRS the target, AR = TRS - ORS the adding
// replicas, RR = ORS - TRS the removing ones.
//
// Start (AlterPartitionReassignments, or an entry of
// /admin/reassign_partitions):
//
//	U1 write the topic's assignment: RS = ORS + TRS (target first),
//	   adding_replicas = AR, removing_replicas = RR;
//	A1 bump the leader epoch and send LeaderAndIsr to RS: the adding
//	   replicas create their logs and fetch from the leader as followers.
//
// Completion, once TRS is a subset of the ISR (checked when an
// AlterPartition grows an ISR, when reassignments are requested, and at
// every fail-over and broker change, so a new controller resumes):
//
//	B3 if the leader is not in TRS or not live, elect the first live
//	   replica of TRS in the ISR; the ISR keeps only TRS members; the
//	   leader epoch is bumped either way;
//	B4/B5 StopReplica with delete to RR;
//	B6 write the topic's assignment: RS = TRS, adding/removing empty;
//	B7 drop the partition from /admin/reassign_partitions (deleted when
//	   empty); B8 UpdateMetadata to every live broker.
//
// The topic's assignment is the only record of a reassignment in flight:
// TRS = RS - removing_replicas and ORS = RS - adding_replicas, so a
// controller that takes over finds every one and finishes it. A new target
// for a partition already moving starts from ORS again; adding replicas no
// longer wanted are stopped and deleted. Cancelling moves back to ORS at
// once (its replicas are in the ISR or the leader keeps the ones that are).
//
// Not enforced: the replication throttles (leader/follower
// .replication.throttled.rate and .replicas) are configs only.

// ErrNoReassignmentInProgress: a cancellation for a partition that is not
// being reassigned (NO_REASSIGNMENT_IN_PROGRESS, 85).
var ErrNoReassignmentInProgress = errors.New("no reassignment in progress")

// PartitionReassignment is a partition's reassignment in flight, as
// ListPartitionReassignments reports it.
type PartitionReassignment struct {
	// Replicas is RS (target and original replicas, target first).
	Replicas []int32
	Adding   []int32
	Removing []int32
}

// AlterPartitionReassignments starts (a non-nil target) or cancels (nil)
// the reassignment of each partition and returns each one's result: nil,
// ErrUnknownPartition, ErrTopicBeingDeleted, ErrInvalidReplicaAssignment
// (empty, duplicates, brokers not live) or ErrNoReassignmentInProgress.
// On a broker that is not the controller it fails with ErrNotController,
// as Kafka's ZooKeeper-mode controller answers.
func (c *Controller) AlterPartitionReassignments(ctx context.Context, reqs map[store.TopicPartition][]int32) (_ map[store.TopicPartition]error, err error) {
	defer c.operation(ctx)(&err)
	if err := c.checkActive(ctx); err != nil {
		return nil, err
	}
	return c.reassign(ctx, reqs)
}

// ListPartitionReassignments returns the reassignments in flight among
// partitions (nil: all). Only the controller answers (ErrNotController).
func (c *Controller) ListPartitionReassignments(ctx context.Context, partitions []store.TopicPartition) (_ map[store.TopicPartition]PartitionReassignment, err error) {
	defer c.operation(ctx)(&err)
	if err := c.checkActive(ctx); err != nil {
		return nil, err
	}
	out := map[store.TopicPartition]PartitionReassignment{}
	err = c.eachTopic(ctx, reassigning, func(a store.TopicAssignment, _ map[int32]store.PartitionState) error {
		for p, replicas := range a.Partitions {
			tp := store.TopicPartition{Topic: a.Name, Partition: p}
			if len(a.AddingReplicas[p])+len(a.RemovingReplicas[p]) == 0 || partitions != nil && !slices.Contains(partitions, tp) {
				continue
			}
			out[tp] = PartitionReassignment{Replicas: slices.Clone(replicas), Adding: slices.Clone(a.AddingReplicas[p]),
				Removing: slices.Clone(a.RemovingReplicas[p])}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("controller: list reassignments: %w", err)
	}
	return out, nil
}

// OnReassignmentRequest handles /admin/reassign_partitions (written by
// Kafka's kafka-reassign-partitions.sh --zookeeper or any ZooKeeper
// client): the active controller starts each entry not started yet, drops
// the entries it refuses (logged) and those already complete, and finishes
// reassignments whose targets are in sync (a controller taking over
// resumes them). On other brokers it does nothing.
func (c *Controller) OnReassignmentRequest(ctx context.Context) (err error) {
	defer c.operation(ctx)(&err)
	if c.checkActive(ctx) != nil {
		return nil
	}
	req, err := c.store.PartitionReassignments(ctx)
	if errors.Is(err, store.ErrCorrupt) {
		c.opts.Logger.Error("ignoring an unreadable reassignment request", "err", err)
		return c.fenced.SetPartitionReassignments(ctx, nil)
	}
	if err != nil {
		return err
	}
	start := map[store.TopicPartition][]int32{}
	for tp, target := range req {
		if a, err := c.store.Topic(ctx, tp.Topic); err == nil {
			if cur, ok := a.Partitions[tp.Partition]; ok && slices.Equal(targetOf(a, tp.Partition), target) &&
				(len(a.AddingReplicas[tp.Partition])+len(a.RemovingReplicas[tp.Partition]) > 0 || slices.Equal(cur, target)) {
				continue // in flight already, or done
			}
		}
		start[tp] = target
	}
	results, err := c.reassign(ctx, start)
	if err != nil {
		return err
	}
	drop := false
	for tp, r := range results {
		if r != nil {
			c.opts.Logger.Warn("refusing a requested reassignment", "partition", tp.String(), "replicas", req[tp], "err", r)
			delete(req, tp)
			drop = true
		}
	}
	if err := c.resumeReassignments(ctx); err != nil {
		return err
	}
	if drop {
		return c.dropRequested(ctx, nil, req)
	}
	return c.dropRequested(ctx, nil, nil)
}

// targetOf is TRS of partition p: RS without the removing replicas.
func targetOf(a store.TopicAssignment, p int32) []int32 {
	return slices.DeleteFunc(slices.Clone(a.Partitions[p]), func(r int32) bool { return slices.Contains(a.RemovingReplicas[p], r) })
}

// reassign is AlterPartitionReassignments without the locking.
// REQUIRES: c.mu is held and c is active.
func (c *Controller) reassign(ctx context.Context, reqs map[store.TopicPartition][]int32) (map[store.TopicPartition]error, error) {
	out := make(map[store.TopicPartition]error, len(reqs))
	live, err := c.liveBrokers(ctx, -1)
	if err != nil {
		return nil, err
	}
	marked, err := c.store.TopicsMarkedForDeletion(ctx)
	if err != nil {
		return nil, fmt.Errorf("controller: reassign: %w", err)
	}
	byTopic := map[string][]store.TopicPartition{}
	for tp, target := range reqs {
		switch {
		case slices.Contains(marked, tp.Topic):
			out[tp] = ErrTopicBeingDeleted
		case target != nil:
			out[tp] = c.validTarget(target, live)
		}
		if out[tp] == nil {
			byTopic[tp.Topic] = append(byTopic[tp.Topic], tp)
		}
	}
	for _, topic := range slices.Sorted(maps.Keys(byTopic)) {
		if err := c.reassignTopic(ctx, topic, byTopic[topic], reqs, live, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// validTarget applies Kafka's checks of a target replica list.
// REQUIRES: c.mu is held.
func (c *Controller) validTarget(target []int32, live map[int32]bool) error {
	if len(target) == 0 {
		return fmt.Errorf("empty replica list: %w", ErrInvalidReplicaAssignment)
	}
	for i, r := range target {
		if slices.Contains(target[:i], r) {
			return fmt.Errorf("replica %d listed twice in %v: %w", r, target, ErrInvalidReplicaAssignment)
		}
		if _, stopping := c.shuttingDown[r]; !live[r] || stopping {
			return fmt.Errorf("replica assignment %v has broker %d that is not alive: %w", target, r, ErrInvalidReplicaAssignment)
		}
	}
	return nil
}

// reassignTopic starts or cancels the reassignments of one topic's
// partitions tps (U1 in one write of the topic's assignment, then A1), and
// completes those already in sync. Per-partition results go to out.
// REQUIRES: c.mu is held and c is active.
func (c *Controller) reassignTopic(ctx context.Context, topic string, tps []store.TopicPartition, reqs map[store.TopicPartition][]int32, live map[int32]bool, out map[store.TopicPartition]error) error {
	for attempt := 0; ; attempt++ {
		a, err := c.store.Topic(ctx, topic)
		if errors.Is(err, store.ErrUnknownTopic) {
			for _, tp := range tps {
				out[tp] = ErrUnknownPartition
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("controller: reassign %q: %w", topic, err)
		}
		next := a.Clone()
		if next.AddingReplicas == nil {
			next.AddingReplicas = map[int32][]int32{}
		}
		if next.RemovingReplicas == nil {
			next.RemovingReplicas = map[int32][]int32{}
		}
		dropped := map[int32][]int32{} // adding replicas no longer wanted
		var started []int32
		for _, tp := range tps {
			p := tp.Partition
			rs, ok := a.Partitions[p]
			if !ok {
				out[tp] = ErrUnknownPartition
				continue
			}
			ors := slices.DeleteFunc(slices.Clone(rs), func(r int32) bool { return slices.Contains(a.AddingReplicas[p], r) })
			target := reqs[tp]
			if target == nil { // cancel: back to ORS
				if len(a.AddingReplicas[p])+len(a.RemovingReplicas[p]) == 0 {
					out[tp] = ErrNoReassignmentInProgress
					continue
				}
				target = ors
			}
			newRS := slices.Clone(target)
			for _, r := range ors {
				if !slices.Contains(newRS, r) {
					newRS = append(newRS, r)
				}
			}
			adding := slices.DeleteFunc(slices.Clone(target), func(r int32) bool { return slices.Contains(ors, r) })
			removing := slices.DeleteFunc(slices.Clone(ors), func(r int32) bool { return slices.Contains(target, r) })
			if reqs[tp] == nil {
				// Cancelled: the replicas being added go at once.
				newRS, removing = target, nil
			}
			for _, r := range a.AddingReplicas[p] {
				if !slices.Contains(newRS, r) {
					dropped[p] = append(dropped[p], r)
				}
			}
			next.Partitions[p] = newRS
			setOrDelete(next.AddingReplicas, p, adding)
			setOrDelete(next.RemovingReplicas, p, removing)
			started = append(started, p)
		}
		if len(started) == 0 {
			return nil
		}
		v, err := c.fenced.SetAssignment(ctx, next, a.Version)
		if errors.Is(err, store.ErrBadVersion) && attempt < maxCASAttempts {
			continue
		}
		if err != nil {
			return fmt.Errorf("controller: reassign %q: %w", topic, err)
		}
		next.Version = v
		for _, p := range started {
			c.opts.Logger.Info("partition reassignment", "partition", store.TopicPartition{Topic: topic, Partition: p}.String(),
				"from", a.Partitions[p], "replicas", next.Partitions[p], "adding", next.AddingReplicas[p], "removing", next.RemovingReplicas[p])
			if err := c.bumpAndSend(ctx, next, p, live); err != nil {
				return err
			}
			for _, r := range dropped[p] {
				c.queueStopDelete(topic, p, r)
			}
		}
		return c.completeTopic(ctx, topic, started, live)
	}
}

func setOrDelete(m map[int32][]int32, p int32, v []int32) {
	if len(v) == 0 {
		delete(m, p)
	} else {
		m[p] = v
	}
}

// bumpAndSend bumps partition p's leader epoch (leader and ISR unchanged)
// and sends the state to RS as LeaderAndIsr (A1).
// REQUIRES: c.mu is held and c is active.
func (c *Controller) bumpAndSend(ctx context.Context, a store.TopicAssignment, p int32, live map[int32]bool) error {
	tp := store.TopicPartition{Topic: a.Name, Partition: p}
	for range maxCASAttempts {
		cur, err := c.store.PartitionState(ctx, tp)
		if errors.Is(err, store.ErrNoPartitionState) || errors.Is(err, store.ErrUnknownTopic) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("controller: reassign %s: %w", tp, err)
		}
		next := cur.Clone()
		next.LeaderEpoch, next.ControllerEpoch = cur.LeaderEpoch+1, c.epoch
		v, err := c.fenced.SetPartitionState(ctx, tp, next, cur.Version)
		if errors.Is(err, store.ErrBadVersion) {
			continue
		}
		if err != nil {
			return fmt.Errorf("controller: reassign %s: %w", tp, err)
		}
		c.queueState(a, p, next, v, false, live, nil)
		return nil
	}
	return fmt.Errorf("controller: reassign %s: %w", tp, store.ErrBadVersion)
}

// queueStopDelete queues StopReplica with delete of tp's replica on broker.
// REQUIRES: c.mu is held.
func (c *Controller) queueStopDelete(topic string, p, broker int32) {
	if c.pending != nil {
		c.pending.addStopReplica(broker, StopReplicaPartition{Topic: topic, Partition: p, LeaderEpoch: -1, Delete: true})
	}
}

// resumeReassignments completes every reassignment in flight whose target
// is in sync (a controller taking over, a broker returning).
// REQUIRES: c.mu is held and c is active.
func (c *Controller) resumeReassignments(ctx context.Context) error {
	live, err := c.liveBrokers(ctx, -1)
	if err != nil {
		return err
	}
	moving := map[string][]int32{}
	err = c.eachTopic(ctx, reassigning, func(a store.TopicAssignment, _ map[int32]store.PartitionState) error {
		for p := range a.Partitions {
			if len(a.AddingReplicas[p])+len(a.RemovingReplicas[p]) > 0 {
				moving[a.Name] = append(moving[a.Name], p)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("controller: resume reassignments: %w", err)
	}
	for _, topic := range slices.Sorted(maps.Keys(moving)) {
		if err := c.completeTopic(ctx, topic, moving[topic], live); err != nil {
			return err
		}
	}
	return nil
}

// completeTopic completes the reassignments of topic's partitions ps whose
// targets are in sync (B3-B8).
// REQUIRES: c.mu is held and c is active.
func (c *Controller) completeTopic(ctx context.Context, topic string, ps []int32, live map[int32]bool) error {
	var done []store.TopicPartition
	for _, p := range ps {
		ok, err := c.completeOne(ctx, topic, p, live)
		if err != nil {
			return err
		}
		if ok {
			done = append(done, store.TopicPartition{Topic: topic, Partition: p})
		}
	}
	if len(done) == 0 {
		return nil
	}
	return c.dropRequested(ctx, done, nil)
}

// completeOne completes one partition's reassignment if its target is in
// sync and reports whether it did.
// REQUIRES: c.mu is held and c is active.
func (c *Controller) completeOne(ctx context.Context, topic string, p int32, live map[int32]bool) (bool, error) {
	tp := store.TopicPartition{Topic: topic, Partition: p}
	for range maxCASAttempts {
		a, err := c.store.Topic(ctx, topic)
		if errors.Is(err, store.ErrUnknownTopic) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("controller: complete reassignment of %s: %w", tp, err)
		}
		removing := a.RemovingReplicas[p]
		if len(a.AddingReplicas[p])+len(removing) == 0 {
			return false, nil
		}
		target := targetOf(a, p)
		cur, err := c.store.PartitionState(ctx, tp)
		if err != nil {
			return false, fmt.Errorf("controller: complete reassignment of %s: %w", tp, err)
		}
		for _, r := range target {
			if !slices.Contains(cur.ISR, r) {
				return false, nil // not caught up yet
			}
		}
		next := cur.Clone()
		if !slices.Contains(target, cur.Leader) || !live[cur.Leader] {
			next.Leader = store.NoLeader
			for _, r := range target {
				if live[r] && slices.Contains(cur.ISR, r) {
					next.Leader = r
					break
				}
			}
			if next.Leader == store.NoLeader {
				return false, nil // no live replica of the target: wait
			}
		}
		next.ISR = slices.DeleteFunc(slices.Clone(cur.ISR), func(r int32) bool { return !slices.Contains(target, r) })
		next.LeaderEpoch, next.ControllerEpoch = cur.LeaderEpoch+1, c.epoch
		v, err := c.fenced.SetPartitionState(ctx, tp, next, cur.Version)
		if errors.Is(err, store.ErrBadVersion) {
			continue
		}
		if err != nil {
			return false, fmt.Errorf("controller: complete reassignment of %s: %w", tp, err)
		}
		done := a.Clone()
		done.Partitions[p] = target
		delete(done.AddingReplicas, p)
		delete(done.RemovingReplicas, p)
		if err := c.setAssignmentRetrying(ctx, done, a.Version); err != nil {
			return false, err
		}
		c.queueState(done, p, next, v, false, live, nil)
		for _, r := range removing {
			c.queueStopDelete(topic, p, r)
		}
		c.opts.Logger.Info("partition reassignment completed", "partition", tp.String(), "replicas", target,
			"leader", next.Leader, "isr", next.ISR)
		return true, nil
	}
	return false, fmt.Errorf("controller: complete reassignment of %s: %w", tp, store.ErrBadVersion)
}

// setAssignmentRetrying writes partition p's finished assignment from done
// (read at version), re-applying it to a fresh read if another partition's
// write came first.
// REQUIRES: c.mu is held and c is active.
func (c *Controller) setAssignmentRetrying(ctx context.Context, done store.TopicAssignment, version int32) error {
	for range maxCASAttempts {
		_, err := c.fenced.SetAssignment(ctx, done, version)
		if !errors.Is(err, store.ErrBadVersion) {
			if err != nil {
				return fmt.Errorf("controller: reassignment of %q: %w", done.Name, err)
			}
			return nil
		}
		fresh, err := c.store.Topic(ctx, done.Name)
		if err != nil {
			return fmt.Errorf("controller: reassignment of %q: %w", done.Name, err)
		}
		for p, rs := range done.Partitions {
			if len(done.AddingReplicas[p])+len(done.RemovingReplicas[p]) == 0 && len(fresh.AddingReplicas[p])+len(fresh.RemovingReplicas[p]) > 0 &&
				slices.Equal(targetOf(fresh, p), rs) {
				fresh.Partitions[p] = rs
				delete(fresh.AddingReplicas, p)
				delete(fresh.RemovingReplicas, p)
			}
		}
		done, version = fresh, fresh.Version
	}
	return fmt.Errorf("controller: reassignment of %q: %w", done.Name, store.ErrBadVersion)
}

// dropRequested rewrites /admin/reassign_partitions without the partitions
// done, or as keep when keep is not nil; it is deleted when empty.
// REQUIRES: c.mu is held and c is active.
func (c *Controller) dropRequested(ctx context.Context, done []store.TopicPartition, keep map[store.TopicPartition][]int32) error {
	req := keep
	if req == nil {
		var err error
		if req, err = c.store.PartitionReassignments(ctx); err != nil || req == nil {
			return err
		}
		n := len(req)
		for _, tp := range done {
			delete(req, tp)
		}
		// Entries already complete (RS = target, nothing moving) go too.
		for tp, target := range req {
			if a, err := c.store.Topic(ctx, tp.Topic); err == nil && slices.Equal(a.Partitions[tp.Partition], target) &&
				len(a.AddingReplicas[tp.Partition])+len(a.RemovingReplicas[tp.Partition]) == 0 {
				delete(req, tp)
			}
		}
		if len(req) == n {
			return nil
		}
	}
	if err := c.fenced.SetPartitionReassignments(ctx, req); err != nil {
		return fmt.Errorf("controller: %w", err)
	}
	return nil
}

// reassigning reports whether a topic has a reassignment in flight.
func reassigning(a store.TopicAssignment) bool {
	return len(a.AddingReplicas)+len(a.RemovingReplicas) > 0
}
