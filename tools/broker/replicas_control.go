package broker

import (
	"context"
	"errors"
	"slices"

	"github.com/strom-broker/strom/coord/controller"
	"github.com/strom-broker/strom/coord/metacache"
	"github.com/strom-broker/strom/coord/store"
	"github.com/strom-broker/strom/net/kerr"
)

// This file applies the controller's control requests to this broker's
// replicas, with Kafka's rules (ReplicaManager.becomeLeaderOrFollower and
// stopReplicas, ZooKeeper mode). The caller has already checked the
// request's epochs (metacache.Fence).
//
// LeaderAndIsr, per partition:
//   - this broker not among the replicas -> UNKNOWN_TOPIC_OR_PARTITION;
//   - a leader epoch not newer than the one this replica has ->
//     STALE_CONTROLLER_EPOCH, nothing changes (a controller's fail-over
//     resends every partition with unchanged epochs);
//   - otherwise the log is opened (created if new) and the replica becomes
//     leader if the request names this broker, else follower.
//
// StopReplica, per partition: applied if the leader epoch is -1, -2
// (deletion) or not older than this replica's, else FENCED_LEADER_EPOCH;
// with delete the log is deleted, without it the replica only stops
// serving.

// applyLeaderAndIsr applies req and returns the partitions it refused or
// failed, with their Kafka errors.
func (m *replicaManager) applyLeaderAndIsr(ctx context.Context, req *controller.LeaderAndIsr) map[store.TopicPartition]error {
	m.syncMu.Lock()
	defer m.syncMu.Unlock()
	self := m.b.cfg.BrokerID
	errs := map[store.TopicPartition]error{}
	var reps []controller.Replica
	for _, p := range req.Partitions {
		tp := store.TopicPartition{Topic: p.Topic, Partition: p.Partition}
		if !slices.Contains(p.Replicas, self) {
			errs[tp] = kerr.UnknownTopicOrPartition
			continue
		}
		m.mu.RLock()
		cur, seen := m.epochs[tp]
		m.mu.RUnlock()
		if seen && p.LeaderEpoch <= cur {
			errs[tp] = kerr.StaleControllerEpoch
			continue
		}
		r := controller.Replica{Partition: tp, TopicID: p.TopicID, Replicas: slices.Clone(p.Replicas),
			State: store.PartitionState{Leader: p.Leader, LeaderEpoch: p.LeaderEpoch, ISR: slices.Clone(p.ISR),
				ControllerEpoch: p.ControllerEpoch, Version: p.PartitionEpoch},
			Role: controller.RoleFollower}
		if p.Leader == self {
			r.Role = controller.RoleLeader
		}
		reps = append(reps, r)
	}
	logs, openErr := m.openNew(ctx, reps)
	for _, r := range reps {
		if _, hosted := m.get(r.Partition.Topic, r.Partition.Partition); !hosted && logs[r.Partition] == nil {
			errs[r.Partition] = kerr.KafkaStorageError
			continue
		}
		m.install(r, logs[r.Partition], req.LiveLeaders)
	}
	if openErr != nil {
		m.b.log.Error("opening partition logs for LeaderAndIsr", "err", openErr)
	}
	return errs
}

// applyStopReplica applies req and returns the partitions it refused, with
// their Kafka errors.
func (m *replicaManager) applyStopReplica(req *controller.StopReplica) map[store.TopicPartition]error {
	m.syncMu.Lock()
	defer m.syncMu.Unlock()
	errs := map[store.TopicPartition]error{}
	for _, p := range req.Partitions {
		tp := store.TopicPartition{Topic: p.Topic, Partition: p.Partition}
		m.mu.RLock()
		cur, seen := m.epochs[tp]
		m.mu.RUnlock()
		if seen && p.LeaderEpoch != -1 && p.LeaderEpoch != metacache.LeaderDuringDelete && p.LeaderEpoch < cur {
			errs[tp] = kerr.FencedLeaderEpoch
			continue
		}
		m.remove(tp, p.Delete)
	}
	return errs
}

// applyControl applies one control request from the controller to this
// broker: it checks the request's epochs, then updates the metadata cache
// or the replicas. It returns the per-partition errors and the
// request-level error (stale epochs; nothing was applied).
//
// The handlers pass the broker's context, not the request's: a control
// request is applied whole even when the controller stops waiting for the
// answer (its 30 s delivery timeout, a closed connection) and sends it
// again, as Kafka's brokers do; a half-applied LeaderAndIsr (3,000 new
// logs of which some were opened) would otherwise be abandoned and begun
// again on every resend.
func (b *Broker) applyControl(ctx context.Context, req any) (map[store.TopicPartition]error, error) {
	var ce int32
	var be int64
	switch r := req.(type) {
	case *controller.LeaderAndIsr:
		ce, be = r.ControllerEpoch, r.BrokerEpoch
	case *metacache.Update:
		ce, be = r.ControllerEpoch, r.BrokerEpoch
	case *controller.StopReplica:
		ce, be = r.ControllerEpoch, r.BrokerEpoch
	default:
		return nil, kerr.InvalidRequest
	}
	if err := b.fence.Check(ce, be); err != nil {
		b.log.Warn("ignoring control request", "err", err)
		if errors.Is(err, metacache.ErrStaleBrokerEpoch) {
			return nil, kerr.StaleBrokerEpoch
		}
		return nil, kerr.StaleControllerEpoch
	}
	switch r := req.(type) {
	case *controller.LeaderAndIsr:
		return b.parts.applyLeaderAndIsr(ctx, r), nil
	case *metacache.Update:
		// Partitions the update deletes end their topics' committed
		// offsets in every group (Kafka's handleUpdateMetadataRequest ->
		// GroupCoordinator.onPartitionsDeleted).
		removed := b.meta.Apply(*r)
		b.parts.syncMu.Lock()
		b.refollow()
		b.parts.syncMu.Unlock()
		if len(removed) > 0 {
			var topics []string
			for _, tp := range removed {
				if !slices.Contains(topics, tp.Topic) {
					topics = append(topics, tp.Topic)
				}
			}
			b.groups.topicsDeleted(topics)
		}
		return nil, nil
	default:
		return b.parts.applyStopReplica(req.(*controller.StopReplica)), nil
	}
}
