package controller

import (
	"maps"
	"slices"

	"github.com/strom-broker/strom/coord/metacache"
	"github.com/strom-broker/strom/coord/store"
)

// This file is how the controller's decisions reach the brokers: Kafka's
// three control requests, and the batch one controller event collects
// before sending (Kafka's ControllerBrokerRequestBatch).
//
// Rules of a batch (ControllerChannelManager.scala):
//   - Every LeaderAndIsr entry also queues an UpdateMetadata of that
//     partition to every live broker, so every broker's metadata cache
//     learns the new leader.
//   - One UpdateMetadata carries the same partitions to every broker it is
//     sent to; a partition of a topic being deleted is sent with leader
//     metacache.LeaderDuringDelete, which removes it from the caches.
//   - Each broker receives its requests in the order LeaderAndIsr,
//     UpdateMetadata, StopReplica (a Sender keeps per-broker order).
//   - Requests carry the controller's id and epoch and the target broker's
//     epoch, so that brokers can fence stale controllers and requests meant
//     for an earlier incarnation of themselves (metacache.Fence).

// LeaderAndIsrPartition is one partition of a LeaderAndIsr request: the
// receiving broker becomes its leader if Leader is its id, else a follower.
type LeaderAndIsrPartition struct {
	Topic     string
	TopicID   store.UUID
	Partition int32
	// ControllerEpoch is the epoch of the controller that made the
	// partition's last leadership decision.
	ControllerEpoch int32
	Leader          int32
	LeaderEpoch     int32
	ISR             []int32
	// PartitionEpoch is the version of the partition's state record.
	PartitionEpoch int32
	Replicas       []int32
	// IsNew marks a partition just created: its replicas create empty logs.
	IsNew bool
}

// LeaderAndIsr tells one broker its role for some partitions (Kafka's
// LeaderAndIsr request, key 4).
type LeaderAndIsr struct {
	ControllerID    int32
	ControllerEpoch int32
	BrokerEpoch     int64
	Partitions      []LeaderAndIsrPartition
	// LiveLeaders are the live brokers that lead one of Partitions.
	LiveLeaders []store.BrokerInfo
}

// StopReplicaPartition is one partition of a StopReplica request.
type StopReplicaPartition struct {
	Topic     string
	Partition int32
	// LeaderEpoch is the partition's leader epoch, or
	// metacache.LeaderDuringDelete (-2) when its topic is being deleted.
	LeaderEpoch int32
	// Delete removes the replica's log; otherwise the replica only stops
	// (it is no longer leader or follower).
	Delete bool
}

// StopReplica tells one broker to stop (and maybe delete) replicas
// (Kafka's StopReplica request, key 5).
type StopReplica struct {
	ControllerID    int32
	ControllerEpoch int32
	BrokerEpoch     int64
	Partitions      []StopReplicaPartition
}

// Sender delivers control requests to brokers. Implementations keep the
// order of requests to one broker and retry a failed delivery until it
// succeeds or the broker is no longer live (Kafka's RequestSendThread); the
// controller never waits for a delivery.
//
// req is a *LeaderAndIsr, a *metacache.Update (UpdateMetadata) or a
// *StopReplica. The request belongs to the Sender once passed.
type Sender interface {
	Send(to store.BrokerInfo, req any)
}

// batch collects the control requests of one controller event.
type batch struct {
	leaderAndIsr map[int32]map[store.TopicPartition]LeaderAndIsrPartition
	metaBrokers  map[int32]bool
	metaParts    map[store.TopicPartition]metacache.PartitionState
	topicIDs     map[string]store.UUID
	stopReplica  map[int32]map[store.TopicPartition]StopReplicaPartition
	// seen are the topics this operation has read (and written) whole,
	// so that sending the full state reads none of them again.
	seen map[string]*topicView
}

// topicView is a topic's assignment and partition states as an operation
// left them.
type topicView struct {
	a      store.TopicAssignment
	states map[int32]store.PartitionState
}

func newBatch() *batch {
	return &batch{
		leaderAndIsr: map[int32]map[store.TopicPartition]LeaderAndIsrPartition{},
		metaBrokers:  map[int32]bool{},
		metaParts:    map[store.TopicPartition]metacache.PartitionState{},
		topicIDs:     map[string]store.UUID{},
		stopReplica:  map[int32]map[store.TopicPartition]StopReplicaPartition{},
		seen:         map[string]*topicView{},
	}
}

// empty reports whether the batch holds nothing to send.
func (b *batch) empty() bool {
	return len(b.leaderAndIsr) == 0 && len(b.metaBrokers) == 0 && len(b.stopReplica) == 0
}

// addLeaderAndIsr queues p for each of brokers (a partition already queued
// as new stays new) and queues p's metadata to every broker in live.
func (b *batch) addLeaderAndIsr(brokers []int32, p LeaderAndIsrPartition, offline []int32, live []int32) {
	tp := store.TopicPartition{Topic: p.Topic, Partition: p.Partition}
	for _, id := range brokers {
		if id < 0 {
			continue
		}
		m := b.leaderAndIsr[id]
		if m == nil {
			m = map[store.TopicPartition]LeaderAndIsrPartition{}
			b.leaderAndIsr[id] = m
		}
		q := p
		q.IsNew = p.IsNew || m[tp].IsNew
		q.ISR, q.Replicas = slices.Clone(p.ISR), slices.Clone(p.Replicas)
		m[tp] = q
	}
	b.addUpdateMetadata(live, metacache.PartitionState{
		Topic: p.Topic, Partition: p.Partition, ControllerEpoch: p.ControllerEpoch,
		Leader: p.Leader, LeaderEpoch: p.LeaderEpoch, ISR: slices.Clone(p.ISR),
		PartitionEpoch: p.PartitionEpoch, Replicas: slices.Clone(p.Replicas), OfflineReplicas: slices.Clone(offline),
	}, p.TopicID)
}

// addUpdateMetadata queues brokers as receivers of this batch's
// UpdateMetadata and, if st names a topic, st as one of its partitions
// (with the topic's id unless zero).
func (b *batch) addUpdateMetadata(brokers []int32, st metacache.PartitionState, topicID store.UUID) {
	for _, id := range brokers {
		if id >= 0 {
			b.metaBrokers[id] = true
		}
	}
	if st.Topic == "" {
		return
	}
	b.metaParts[store.TopicPartition{Topic: st.Topic, Partition: st.Partition}] = st
	if !topicID.IsZero() {
		b.topicIDs[st.Topic] = topicID
	}
}

// addStopReplica queues p for broker. A deletion (LeaderEpoch -2) is never
// replaced by a plain stop of the same partition.
func (b *batch) addStopReplica(broker int32, p StopReplicaPartition) {
	if broker < 0 {
		return
	}
	m := b.stopReplica[broker]
	if m == nil {
		m = map[store.TopicPartition]StopReplicaPartition{}
		b.stopReplica[broker] = m
	}
	tp := store.TopicPartition{Topic: p.Topic, Partition: p.Partition}
	if prev, ok := m[tp]; ok && prev.Delete && !p.Delete {
		return
	}
	m[tp] = p
}

// send hands the batch to s: for each receiving broker, in id order with
// the controller's own broker last, its LeaderAndIsr, then the
// UpdateMetadata, then its StopReplica. brokers are
// the live brokers (requests to others are dropped, as Kafka sends only to
// live or shutting-down brokers); brokerEpochs are their epochs.
func (b *batch) send(s Sender, controllerID, controllerEpoch int32, brokers []store.BrokerInfo, brokerEpochs map[int32]int64) {
	byID := make(map[int32]store.BrokerInfo, len(brokers))
	for _, br := range brokers {
		byID[br.ID] = br
	}
	targets := map[int32]bool{}
	for id := range b.leaderAndIsr {
		targets[id] = true
	}
	for id := range b.metaBrokers {
		targets[id] = true
	}
	for id := range b.stopReplica {
		targets[id] = true
	}
	var meta []metacache.PartitionState
	for _, tp := range sortedPartitions(b.metaParts) {
		meta = append(meta, b.metaParts[tp])
	}
	// The other brokers first: handing them their requests is quick, and
	// this broker's own are applied in place, which may take a while (a
	// new leader writes its leader-epoch checkpoint).
	order := slices.Sorted(maps.Keys(targets))
	if i := slices.Index(order, controllerID); i >= 0 {
		order = append(slices.Delete(order, i, i+1), controllerID)
	}
	for _, id := range order {
		to, live := byID[id]
		if !live {
			continue
		}
		epoch, ok := brokerEpochs[id]
		if !ok {
			epoch = -1
		}
		if parts := b.leaderAndIsr[id]; len(parts) > 0 {
			req := &LeaderAndIsr{ControllerID: controllerID, ControllerEpoch: controllerEpoch, BrokerEpoch: epoch}
			leaders := map[int32]bool{}
			for _, tp := range sortedPartitions(parts) {
				req.Partitions = append(req.Partitions, parts[tp])
				leaders[parts[tp].Leader] = true
			}
			for _, l := range slices.Sorted(maps.Keys(leaders)) {
				if br, ok := byID[l]; ok {
					req.LiveLeaders = append(req.LiveLeaders, br.Clone())
				}
			}
			s.Send(to, req)
		}
		if b.metaBrokers[id] {
			req := &metacache.Update{ControllerID: controllerID, ControllerEpoch: controllerEpoch, BrokerEpoch: epoch,
				TopicIDs: maps.Clone(b.topicIDs)}
			for _, br := range brokers {
				req.LiveBrokers = append(req.LiveBrokers, br.Clone())
			}
			for _, st := range meta {
				st.ISR, st.Replicas, st.OfflineReplicas = slices.Clone(st.ISR), slices.Clone(st.Replicas), slices.Clone(st.OfflineReplicas)
				req.Partitions = append(req.Partitions, st)
			}
			s.Send(to, req)
		}
		if parts := b.stopReplica[id]; len(parts) > 0 {
			req := &StopReplica{ControllerID: controllerID, ControllerEpoch: controllerEpoch, BrokerEpoch: epoch}
			for _, tp := range sortedPartitions(parts) {
				req.Partitions = append(req.Partitions, parts[tp])
			}
			s.Send(to, req)
		}
	}
}

// sortedPartitions returns m's keys sorted by topic, then partition.
func sortedPartitions[V any](m map[store.TopicPartition]V) []store.TopicPartition {
	return slices.SortedFunc(maps.Keys(m), func(a, b store.TopicPartition) int {
		if a.Topic != b.Topic {
			if a.Topic < b.Topic {
				return -1
			}
			return 1
		}
		return int(a.Partition) - int(b.Partition)
	})
}
