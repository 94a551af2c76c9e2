package broker

import (
	"context"
	"errors"
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/coord/controller"
	"github.com/strom-broker/strom/coord/store"
	"github.com/strom-broker/strom/net/kerr"
)

// Metadata (key 3): brokers (their endpoints on the listener the request
// came in on), the controller, and each topic's partitions
// with leader, epoch, replicas and ISR. A request for a topic that does not
// exist creates it (with num.partitions and default.replication.factor)
// when auto.create.topics.enable is on and the client allows it (v4+).
func (b *Broker) handleMetadata(ctx context.Context, req *kmsg.MetadataRequest, listener string) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.MetadataResponse)
	resp.ClusterID = &b.clusterID
	resp.ControllerID = -1
	if c, err := b.store.Controller(ctx); err == nil {
		resp.ControllerID = c.BrokerID
	}
	brokers, _ := b.store.Brokers(ctx)
	for _, bi := range brokers {
		for _, e := range bi.Endpoints {
			if e.Listener != listener {
				continue
			}
			mb := kmsg.NewMetadataResponseBroker()
			mb.NodeID, mb.Host, mb.Port = bi.ID, e.Host, e.Port
			if bi.Rack != "" {
				rack := bi.Rack
				mb.Rack = &rack
			}
			resp.Brokers = append(resp.Brokers, mb)
		}
	}

	var names []string
	var unknownIDs [][16]byte
	all := req.Topics == nil || (req.Version == 0 && len(req.Topics) == 0)
	if all {
		names, _ = b.store.Topics(ctx)
	} else {
		names, unknownIDs = b.requestedTopics(ctx, req)
	}
	autoCreate := b.cfg.AutoCreateTopicsEnable && !all && (req.Version < 4 || req.AllowAutoTopicCreation)
	created := false
	for _, name := range names {
		if _, err := b.store.Topic(ctx, name); errors.Is(err, store.ErrUnknownTopic) && autoCreate && name != "" {
			_, err := b.ctrl.CreateTopic(ctx, controller.TopicSpec{Name: name, NumPartitions: -1, ReplicationFactor: -1}, false)
			if err == nil || errors.Is(err, store.ErrTopicExists) {
				created = true
			}
		}
	}
	if created {
		if err := b.parts.sync(ctx); err != nil {
			b.log.Warn("opening auto-created topic", "err", err)
		}
	}
	for _, id := range unknownIDs {
		mt := kmsg.NewMetadataResponseTopic()
		mt.TopicID, mt.ErrorCode = id, kerr.UnknownTopicID.Code // Topic: null
		resp.Topics = append(resp.Topics, mt)
	}
	for _, name := range names {
		resp.Topics = append(resp.Topics, b.topicMetadata(ctx, name, req))
	}
	return resp
}

// requestedTopics resolves the topics a Metadata request lists, as Kafka's
// KafkaApis.handleTopicMetadataRequest does: the topics are a set (a name
// or id listed twice is answered once); when any topic id is given (v10+),
// the ids decide and names are ignored, and an id this broker does not know
// is answered with a null name, the id echoed and UNKNOWN_TOPIC_ID.
func (b *Broker) requestedTopics(ctx context.Context, req *kmsg.MetadataRequest) (names []string, unknownIDs [][16]byte) {
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
		if name := b.topicNameByID(ctx, t.TopicID); name != "" {
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

// topicNameByID finds a topic's name by id ("" if none).
func (b *Broker) topicNameByID(ctx context.Context, id [16]byte) string {
	names, _ := b.store.Topics(ctx)
	for _, n := range names {
		if a, err := b.store.Topic(ctx, n); err == nil && a.ID == store.UUID(id) {
			return n
		}
	}
	return ""
}

func (b *Broker) topicMetadata(ctx context.Context, name string, req *kmsg.MetadataRequest) kmsg.MetadataResponseTopic {
	mt := kmsg.NewMetadataResponseTopic()
	n := name
	mt.Topic = &n
	mt.IsInternal = isInternalTopic(name)
	if err := controller.ValidateTopicName(name); err != nil {
		mt.ErrorCode = kerr.InvalidTopicException.Code
		return mt
	}
	a, err := b.store.Topic(ctx, name)
	if err != nil {
		mt.ErrorCode = errorCode(err)
		return mt
	}
	mt.TopicID = a.ID
	states, _ := b.store.PartitionStates(ctx, name)
	for _, p := range slices.Sorted(maps.Keys(a.Partitions)) {
		mp := kmsg.NewMetadataResponseTopicPartition()
		mp.Partition = p
		mp.Replicas = slices.Clone(a.Partitions[p])
		st, ok := states[p]
		if !ok || st.Leader == store.NoLeader {
			mp.ErrorCode = kerr.LeaderNotAvailable.Code
			mp.Leader = -1
		} else {
			mp.Leader = st.Leader
		}
		mp.LeaderEpoch = st.LeaderEpoch
		mp.ISR = slices.Clone(st.ISR)
		mp.OfflineReplicas = []int32{}
		mt.Partitions = append(mt.Partitions, mp)
	}
	if req.IncludeTopicAuthorizedOperations {
		mt.AuthorizedOperations = -2147483648
	}
	return mt
}
