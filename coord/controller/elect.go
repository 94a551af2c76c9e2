package controller

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/strom-broker/strom/coord/store"
)

// ElectionType is the ElectLeaders request's election type (Kafka's
// ElectionType).
type ElectionType int8

// Election types.
const (
	// ElectPreferred moves leadership to each partition's preferred
	// replica (the first in its assignment) if it is live and in the ISR.
	ElectPreferred ElectionType = 0
	// ElectUnclean gives a partition without a live leader one: a live ISR
	// member if there is one, else any live replica (records only the old
	// ISR had may be lost).
	ElectUnclean ElectionType = 1
)

// ElectLeaders runs leader elections for partitions, as Kafka's
// controller does for the ElectLeaders API (KafkaController
// .processReplicaLeaderElection): per partition nil (a new leader was
// elected), ErrElectionNotNeeded, ErrPreferredLeaderNotAvailable,
// ErrEligibleLeadersNotAvailable, ErrTopicBeingDeleted or
// ErrUnknownPartition. Every change bumps the leader epoch, is written
// through the fenced store and pushed to the brokers. On a broker that is
// not the controller every partition gets ErrNotController.
func (c *Controller) ElectLeaders(ctx context.Context, typ ElectionType, partitions []store.TopicPartition) (_ map[store.TopicPartition]error, err error) {
	defer c.operation(ctx)(&err)
	return c.electLeaders(ctx, typ, partitions)
}

// OnPreferredElectionRequest handles a pending
// /admin/preferred_replica_election (written by Kafka's
// kafka-preferred-replica-election.sh --zookeeper or any ZooKeeper client):
// the active controller runs the preferred elections and deletes the
// request, as Kafka's does; on other brokers it does nothing.
func (c *Controller) OnPreferredElectionRequest(ctx context.Context) (err error) {
	defer c.operation(ctx)(&err)
	if c.checkActive(ctx) != nil {
		return nil
	}
	tps, err := c.store.PreferredReplicaElection(ctx)
	if errors.Is(err, store.ErrCorrupt) {
		c.opts.Logger.Error("ignoring an unreadable preferred replica election request", "err", err)
		return c.fenced.DeletePreferredReplicaElection(ctx)
	}
	if err != nil || len(tps) == 0 {
		return err
	}
	results, err := c.electLeaders(ctx, ElectPreferred, tps)
	if err != nil {
		return err
	}
	for tp, r := range results {
		if r != nil && !errors.Is(r, ErrElectionNotNeeded) {
			c.opts.Logger.Warn("preferred replica election failed", "partition", tp.String(), "err", r)
		}
	}
	return c.fenced.DeletePreferredReplicaElection(ctx)
}

// electLeaders is ElectLeaders without the locking and batching.
// REQUIRES: c.mu is held, within a batch.
func (c *Controller) electLeaders(ctx context.Context, typ ElectionType, partitions []store.TopicPartition) (map[store.TopicPartition]error, error) {
	out := make(map[store.TopicPartition]error, len(partitions))
	if err := c.checkActive(ctx); err != nil {
		for _, tp := range partitions {
			out[tp] = err
		}
		return out, nil
	}
	live, err := c.liveBrokers(ctx, -1)
	if err != nil {
		return nil, err
	}
	marked, err := c.store.TopicsMarkedForDeletion(ctx)
	if err != nil {
		return nil, fmt.Errorf("controller: elect leaders: %w", err)
	}
	assignments := map[string]store.TopicAssignment{}
	for _, tp := range partitions {
		if slices.Contains(marked, tp.Topic) {
			out[tp] = ErrTopicBeingDeleted
			continue
		}
		a, ok := assignments[tp.Topic]
		if !ok {
			a, err = c.store.Topic(ctx, tp.Topic)
			if errors.Is(err, store.ErrUnknownTopic) {
				out[tp] = ErrUnknownPartition
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("controller: elect leaders: %w", err)
			}
			assignments[tp.Topic] = a
		}
		if _, ok := a.Partitions[tp.Partition]; !ok {
			out[tp] = ErrUnknownPartition
			continue
		}
		out[tp], err = c.electOne(ctx, typ, a, tp.Partition, live)
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// electOne runs one election; it returns the partition's result and an
// error only when the store failed.
// REQUIRES: c.mu is held and c is active.
func (c *Controller) electOne(ctx context.Context, typ ElectionType, a store.TopicAssignment, p int32, live map[int32]bool) (result, err error) {
	tp := store.TopicPartition{Topic: a.Name, Partition: p}
	replicas := a.Partitions[p]
	for range maxCASAttempts {
		cur, err := c.store.PartitionState(ctx, tp)
		if errors.Is(err, store.ErrNoPartitionState) || errors.Is(err, store.ErrUnknownTopic) {
			return ErrUnknownPartition, nil
		}
		if err != nil {
			return nil, fmt.Errorf("controller: elect %s: %w", tp, err)
		}
		next := cur.Clone()
		election := ElectionClean
		switch typ {
		case ElectPreferred:
			preferred := replicas[0]
			switch {
			case cur.Leader == preferred:
				return ErrElectionNotNeeded, nil
			case !live[preferred] || !slices.Contains(cur.ISR, preferred):
				return fmt.Errorf("partition %s: preferred replica %d is not live and in the ISR %v: %w",
					tp, preferred, cur.ISR, ErrPreferredLeaderNotAvailable), nil
			}
			next.Leader = preferred
		case ElectUnclean:
			if cur.Leader != store.NoLeader && live[cur.Leader] {
				return ErrElectionNotNeeded, nil
			}
			next.Leader = store.NoLeader
			for _, r := range replicas {
				if live[r] && slices.Contains(cur.ISR, r) {
					next.Leader = r
					break
				}
			}
			if next.Leader == store.NoLeader {
				for _, r := range replicas {
					if live[r] {
						next.Leader, next.ISR, election = r, []int32{r}, ElectionUnclean
						break
					}
				}
			}
			if next.Leader == store.NoLeader {
				return fmt.Errorf("partition %s: no live replica of %v: %w", tp, replicas, ErrEligibleLeadersNotAvailable), nil
			}
		default:
			return fmt.Errorf("election type %d: %w", typ, ErrInvalidRequest), nil
		}
		next.LeaderEpoch = cur.LeaderEpoch + 1
		next.ControllerEpoch = c.epoch
		v, err := c.fenced.SetPartitionState(ctx, tp, next, cur.Version)
		if errors.Is(err, store.ErrBadVersion) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("controller: elect %s: %w", tp, err)
		}
		c.logElection(tp, cur, next, election)
		c.queueState(a, p, next, v, false, live, nil)
		return nil, nil
	}
	return nil, fmt.Errorf("controller: elect %s: %d conflicting writes: %w", tp, maxCASAttempts, store.ErrBadVersion)
}

// RebalanceLeaders is Kafka's automatic leader rebalance
// (auto.leader.rebalance.enable, KafkaController
// .checkAndTriggerAutoLeaderRebalance): for each broker, the partitions
// whose preferred replica it is; if more than imbalancePct percent of them
// are led by another broker, a preferred election moves back those whose
// preferred replica is live and in the ISR. It returns how many leaders
// moved. Topics being deleted are left alone; on a broker that is not the
// controller it does nothing.
func (c *Controller) RebalanceLeaders(ctx context.Context, imbalancePct int) (moved int, err error) {
	defer c.operation(ctx)(&err)
	if c.checkActive(ctx) != nil {
		return 0, nil
	}
	preferredOf := map[int32]int{}               // broker -> partitions it is preferred for
	misled := map[int32][]store.TopicPartition{} // broker -> those led by another
	err = c.eachTopic(ctx, nil, func(a store.TopicAssignment, states map[int32]store.PartitionState) error {
		for p, replicas := range a.Partitions {
			st, ok := states[p]
			if !ok || len(replicas) == 0 {
				continue
			}
			preferred := replicas[0]
			preferredOf[preferred]++
			if st.Leader != preferred {
				misled[preferred] = append(misled[preferred], store.TopicPartition{Topic: a.Name, Partition: p})
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("controller: rebalance: %w", err)
	}
	var candidates []store.TopicPartition
	for b, tps := range misled {
		if float64(len(tps))/float64(preferredOf[b]) > float64(imbalancePct)/100 {
			candidates = append(candidates, tps...)
		}
	}
	if len(candidates) == 0 {
		return 0, nil
	}
	results, err := c.electLeaders(ctx, ElectPreferred, candidates)
	if err != nil {
		return 0, err
	}
	for _, r := range results {
		if r == nil {
			moved++
		}
	}
	if moved > 0 {
		c.opts.Logger.Info("rebalanced leaders to their preferred replicas", "partitions", moved)
	}
	return moved, nil
}

// eachTopic calls fn with the assignment and partition states of every
// topic not marked for deletion; topics deleted meanwhile or with
// unreadable metadata (logged) are skipped, and so are topics whose
// assignment want refuses (nil: none), before their states are read. It
// stops at fn's first error.
// REQUIRES: c.mu is held.
func (c *Controller) eachTopic(ctx context.Context, want func(store.TopicAssignment) bool, fn func(store.TopicAssignment, map[int32]store.PartitionState) error) error {
	topics, err := c.store.Topics(ctx)
	if err != nil {
		return err
	}
	marked, err := c.store.TopicsMarkedForDeletion(ctx)
	if err != nil {
		return err
	}
	for _, name := range topics {
		if slices.Contains(marked, name) {
			continue
		}
		a, err := c.store.Topic(ctx, name)
		if errors.Is(err, store.ErrUnknownTopic) || c.skipCorrupt(name, err) {
			continue
		}
		if err != nil {
			return err
		}
		if want != nil && !want(a) {
			continue
		}
		states, err := c.store.PartitionStates(ctx, name)
		if errors.Is(err, store.ErrUnknownTopic) || c.skipCorrupt(name, err) {
			continue
		}
		if err != nil {
			return err
		}
		if err := fn(a, states); err != nil {
			return err
		}
	}
	return nil
}
