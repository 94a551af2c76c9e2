package broker

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/coord/controller"
	"github.com/strom-broker/strom/coord/metacache"
	"github.com/strom-broker/strom/coord/store"
	"github.com/strom-broker/strom/net/kerr"
)

// Metadata (key 3), answered from this broker's metadata cache (what the
// controller pushed with UpdateMetadata), as Kafka's ZooKeeper-mode
// brokers do: brokers (their endpoints on the listener the request came in
// on), the controller, and each topic's partitions with leader, epoch,
// replicas, ISR and offline replicas. A request for a topic that does not
// exist creates it (with num.partitions and default.replication.factor)
// when auto.create.topics.enable is on and the client allows it (v4+).
func (b *Broker) handleMetadata(ctx context.Context, req *kmsg.MetadataRequest, listener string) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.MetadataResponse)
	resp.ClusterID = &b.clusterID
	snap := b.meta.Snapshot()

	var names []string
	var unknownIDs [][16]byte
	all := req.Topics == nil || (req.Version == 0 && len(req.Topics) == 0)
	if all {
		names = snap.Topics()
	} else {
		names, unknownIDs = requestedTopics(snap, req)
	}
	autoCreate := b.cfg.AutoCreateTopicsEnable && !all && (req.Version < 4 || req.AllowAutoTopicCreation)
	autoCreated := map[string]bool{}
	for _, name := range names {
		if autoCreate && name != "" && !snap.HasTopic(name) && controller.ValidateTopicName(name) == nil {
			_, err := b.ctrl.CreateTopic(ctx, controller.TopicSpec{Name: name, NumPartitions: -1, ReplicationFactor: -1}, false)
			if err == nil || errors.Is(err, store.ErrTopicExists) {
				autoCreated[name] = true
			}
		}
	}
	if len(autoCreated) > 0 {
		snap = b.meta.Snapshot() // the local controller's push is already in
	}

	resp.ControllerID = -1
	if id, ok := snap.Controller(); ok {
		resp.ControllerID = id
	}
	for _, n := range snap.Nodes(listener) {
		mb := kmsg.NewMetadataResponseBroker()
		mb.NodeID, mb.Host, mb.Port = n.ID, n.Host, n.Port
		if n.Rack != "" {
			mb.Rack = kmsg.StringPtr(n.Rack)
		}
		resp.Brokers = append(resp.Brokers, mb)
	}
	for _, id := range unknownIDs {
		mt := kmsg.NewMetadataResponseTopic()
		mt.TopicID, mt.ErrorCode = id, kerr.UnknownTopicID.Code // Topic: null
		resp.Topics = append(resp.Topics, mt)
	}
	for _, name := range names {
		resp.Topics = append(resp.Topics, topicMetadata(snap, name, req, listener, autoCreated[name]))
	}
	return resp
}

// requestedTopics resolves the topics a Metadata request lists, as Kafka's
// KafkaApis.handleTopicMetadataRequest does: the topics are a set (a name
// or id listed twice is answered once); when any topic id is given (v10+),
// the ids decide and names are ignored, and an id this broker does not know
// is answered with a null name, the id echoed and UNKNOWN_TOPIC_ID.
func requestedTopics(snap *metacache.Snapshot, req *kmsg.MetadataRequest) (names []string, unknownIDs [][16]byte) {
	seen := map[string]bool{}
	add := func(name string) {
		if !seen[name] {
			seen[name] = true
			names = append(names, name)
		}
	}
	seenID := map[[16]byte]bool{}
	for _, t := range req.Topics {
		if t.TopicID == [16]byte{} || seenID[t.TopicID] {
			continue
		}
		seenID[t.TopicID] = true
		if name, ok := snap.TopicName(store.UUID(t.TopicID)); ok {
			add(name)
		} else {
			unknownIDs = append(unknownIDs, t.TopicID)
		}
	}
	if len(seenID) > 0 {
		return names, unknownIDs
	}
	for _, t := range req.Topics {
		if t.Topic == nil {
			unknownIDs = append(unknownIDs, [16]byte{}) // neither a name nor an id
			continue
		}
		add(*t.Topic)
	}
	return names, unknownIDs
}

// topicNameByID finds a topic's name by id in this broker's metadata (""
// if none).
func (b *Broker) topicNameByID(_ context.Context, id [16]byte) string {
	name, _ := b.meta.Snapshot().TopicName(store.UUID(id))
	return name
}

// topicMetadata answers one topic from snap, as Kafka's
// ZkMetadataCache.getPartitionMetadata: a partition whose leader is not
// live (or has no endpoint on the client's listener) has leader -1 and
// LEADER_NOT_AVAILABLE (LISTENER_NOT_FOUND from v6 for a live leader
// without the listener); only v0 reports REPLICA_NOT_AVAILABLE, with the
// unreachable replicas left out. A topic auto-created by this request but
// not yet in the metadata answers LEADER_NOT_AVAILABLE, as Kafka's.
func topicMetadata(snap *metacache.Snapshot, name string, req *kmsg.MetadataRequest, listener string, autoCreated bool) kmsg.MetadataResponseTopic {
	mt := kmsg.NewMetadataResponseTopic()
	n := name
	mt.Topic = &n
	mt.IsInternal = isInternalTopic(name)
	if err := controller.ValidateTopicName(name); err != nil {
		mt.ErrorCode = kerr.InvalidTopicException.Code
		return mt
	}
	parts := snap.Partitions(name)
	if len(parts) == 0 {
		mt.ErrorCode = kerr.UnknownTopicOrPartition.Code
		if autoCreated {
			mt.ErrorCode = kerr.LeaderNotAvailable.Code
		}
		return mt
	}
	mt.TopicID = snap.TopicID(name)
	for _, st := range parts {
		mp := kmsg.NewMetadataResponseTopicPartition()
		mp.Partition, mp.Leader, mp.LeaderEpoch = st.Partition, st.Leader, st.LeaderEpoch
		mp.Replicas, mp.ISR, mp.OfflineReplicas = st.Replicas, st.ISR, st.OfflineReplicas
		if mp.OfflineReplicas == nil {
			mp.OfflineReplicas = []int32{}
		}
		switch snap.Availability(st, listener) {
		case metacache.LeaderNotAvailable:
			mp.Leader, mp.ErrorCode = -1, kerr.LeaderNotAvailable.Code
		case metacache.ListenerNotFound:
			mp.Leader, mp.ErrorCode = -1, kerr.LeaderNotAvailable.Code
			if req.Version >= 6 {
				mp.ErrorCode = kerr.ListenerNotFound.Code
			}
		case metacache.ReplicaNotAvailable:
			if req.Version == 0 {
				mp.ErrorCode = kerr.ReplicaNotAvailable.Code
				mp.Replicas = reachable(snap, st.Replicas, listener)
				mp.ISR = reachable(snap, st.ISR, listener)
			}
		}
		mt.Partitions = append(mt.Partitions, mp)
	}
	if req.IncludeTopicAuthorizedOperations {
		mt.AuthorizedOperations = -2147483648
	}
	return mt
}

// reachable returns the brokers of ids that are live with an endpoint on
// listener.
func reachable(snap *metacache.Snapshot, ids []int32, listener string) []int32 {
	out := []int32{}
	for _, id := range ids {
		if _, ok := snap.Node(id, listener); ok {
			out = append(out, id)
		}
	}
	return out
}
