package broker

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/coord/controller"
	"github.com/strom-broker/strom/coord/metacache"
	"github.com/strom-broker/strom/coord/store"
)

// This file converts the controller's control requests (package
// controller's LeaderAndIsr and StopReplica, metacache.Update for
// UpdateMetadata) to and from their Kafka wire form, for brokers that
// receive them over the network. Only the versions with per-topic states
// are used (LeaderAndIsr v2+, StopReplica v3+, UpdateMetadata v5+): every
// Strom broker speaks them, and the topic grouping is the same in all.

// Lowest versions of the control requests this broker accepts.
const (
	minLeaderAndIsrVersion   = 2
	minStopReplicaVersion    = 3
	minUpdateMetadataVersion = 5
)

// securityProtocols are Kafka's security protocol ids (SecurityProtocol.java).
var securityProtocols = []string{"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"}

func securityProtocolID(name string) int16 {
	if i := slices.Index(securityProtocols, name); i >= 0 {
		return int16(i)
	}
	return 0
}

func securityProtocolName(id int16) string {
	if id >= 0 && int(id) < len(securityProtocols) {
		return securityProtocols[id]
	}
	return "PLAINTEXT"
}

// controlToWire returns the wire request for a control request
// (*controller.LeaderAndIsr, *metacache.Update or *controller.StopReplica).
func controlToWire(req any) kmsg.Request {
	switch r := req.(type) {
	case *controller.LeaderAndIsr:
		return leaderAndIsrToWire(r)
	case *metacache.Update:
		return updateMetadataToWire(r)
	case *controller.StopReplica:
		return stopReplicaToWire(r)
	}
	return nil
}

func leaderAndIsrToWire(r *controller.LeaderAndIsr) *kmsg.LeaderAndISRRequest {
	w := kmsg.NewPtrLeaderAndISRRequest()
	w.ControllerID, w.ControllerEpoch, w.BrokerEpoch = r.ControllerID, r.ControllerEpoch, r.BrokerEpoch
	byTopic := map[string]int{}
	for _, p := range r.Partitions {
		i, ok := byTopic[p.Topic]
		if !ok {
			i = len(w.TopicStates)
			byTopic[p.Topic] = i
			ts := kmsg.NewLeaderAndISRRequestTopicState()
			ts.Topic, ts.TopicID = p.Topic, p.TopicID
			w.TopicStates = append(w.TopicStates, ts)
		}
		ps := kmsg.NewLeaderAndISRRequestTopicPartition()
		ps.Topic, ps.Partition, ps.ControllerEpoch = p.Topic, p.Partition, p.ControllerEpoch
		ps.Leader, ps.LeaderEpoch, ps.ISR = p.Leader, p.LeaderEpoch, p.ISR
		ps.ZKVersion, ps.Replicas, ps.IsNew = p.PartitionEpoch, p.Replicas, p.IsNew
		w.TopicStates[i].PartitionStates = append(w.TopicStates[i].PartitionStates, ps)
	}
	for _, b := range r.LiveLeaders {
		ll := kmsg.NewLeaderAndISRRequestLiveLeader()
		ll.BrokerID = b.ID
		if len(b.Endpoints) > 0 {
			ll.Host, ll.Port = b.Endpoints[0].Host, b.Endpoints[0].Port
		}
		w.LiveLeaders = append(w.LiveLeaders, ll)
	}
	return w
}

func leaderAndIsrFromWire(w *kmsg.LeaderAndISRRequest) *controller.LeaderAndIsr {
	r := &controller.LeaderAndIsr{ControllerID: w.ControllerID, ControllerEpoch: w.ControllerEpoch, BrokerEpoch: w.BrokerEpoch}
	for _, ts := range w.TopicStates {
		for _, ps := range ts.PartitionStates {
			r.Partitions = append(r.Partitions, controller.LeaderAndIsrPartition{
				Topic: ts.Topic, TopicID: ts.TopicID, Partition: ps.Partition, ControllerEpoch: ps.ControllerEpoch,
				Leader: ps.Leader, LeaderEpoch: ps.LeaderEpoch, ISR: ps.ISR, PartitionEpoch: ps.ZKVersion,
				Replicas: ps.Replicas, IsNew: ps.IsNew,
			})
		}
	}
	for _, ll := range w.LiveLeaders {
		r.LiveLeaders = append(r.LiveLeaders, store.BrokerInfo{ID: ll.BrokerID,
			Endpoints: []store.Endpoint{{Host: ll.Host, Port: ll.Port}}})
	}
	return r
}

func updateMetadataToWire(u *metacache.Update) *kmsg.UpdateMetadataRequest {
	w := kmsg.NewPtrUpdateMetadataRequest()
	w.ControllerID, w.ControllerEpoch, w.BrokerEpoch = u.ControllerID, u.ControllerEpoch, u.BrokerEpoch
	byTopic := map[string]int{}
	for _, p := range u.Partitions {
		i, ok := byTopic[p.Topic]
		if !ok {
			i = len(w.TopicStates)
			byTopic[p.Topic] = i
			ts := kmsg.NewUpdateMetadataRequestTopicState()
			ts.Topic, ts.TopicID = p.Topic, u.TopicIDs[p.Topic]
			w.TopicStates = append(w.TopicStates, ts)
		}
		ps := kmsg.NewUpdateMetadataRequestTopicPartition()
		ps.Topic, ps.Partition, ps.ControllerEpoch = p.Topic, p.Partition, p.ControllerEpoch
		ps.Leader, ps.LeaderEpoch, ps.ISR, ps.ZKVersion = p.Leader, p.LeaderEpoch, p.ISR, p.PartitionEpoch
		ps.Replicas, ps.OfflineReplicas = p.Replicas, p.OfflineReplicas
		w.TopicStates[i].PartitionStates = append(w.TopicStates[i].PartitionStates, ps)
	}
	for t, id := range u.TopicIDs {
		if _, ok := byTopic[t]; !ok { // an id change with no partition
			ts := kmsg.NewUpdateMetadataRequestTopicState()
			ts.Topic, ts.TopicID = t, id
			byTopic[t] = len(w.TopicStates)
			w.TopicStates = append(w.TopicStates, ts)
		}
	}
	for _, b := range u.LiveBrokers {
		lb := kmsg.NewUpdateMetadataRequestLiveBroker()
		lb.ID = b.ID
		if b.Rack != "" {
			lb.Rack = kmsg.StringPtr(b.Rack)
		}
		for _, ep := range b.Endpoints {
			e := kmsg.NewUpdateMetadataRequestLiveBrokerEndpoint()
			e.Host, e.Port, e.ListenerName, e.SecurityProtocol = ep.Host, ep.Port, ep.Listener, securityProtocolID(ep.SecurityProtocol)
			lb.Endpoints = append(lb.Endpoints, e)
		}
		w.LiveBrokers = append(w.LiveBrokers, lb)
	}
	return w
}

func updateMetadataFromWire(w *kmsg.UpdateMetadataRequest) *metacache.Update {
	u := &metacache.Update{ControllerID: w.ControllerID, ControllerEpoch: w.ControllerEpoch, BrokerEpoch: w.BrokerEpoch,
		TopicIDs: map[string]store.UUID{}}
	for _, ts := range w.TopicStates {
		if id := store.UUID(ts.TopicID); !id.IsZero() {
			u.TopicIDs[ts.Topic] = id
		}
		for _, ps := range ts.PartitionStates {
			u.Partitions = append(u.Partitions, metacache.PartitionState{
				Topic: ts.Topic, Partition: ps.Partition, ControllerEpoch: ps.ControllerEpoch,
				Leader: ps.Leader, LeaderEpoch: ps.LeaderEpoch, ISR: ps.ISR, PartitionEpoch: ps.ZKVersion,
				Replicas: ps.Replicas, OfflineReplicas: ps.OfflineReplicas,
			})
		}
	}
	for _, lb := range w.LiveBrokers {
		b := store.BrokerInfo{ID: lb.ID, JMXPort: -1}
		if lb.Rack != nil {
			b.Rack = *lb.Rack
		}
		for _, e := range lb.Endpoints {
			b.Endpoints = append(b.Endpoints, store.Endpoint{Listener: e.ListenerName,
				SecurityProtocol: securityProtocolName(e.SecurityProtocol), Host: e.Host, Port: e.Port})
		}
		u.LiveBrokers = append(u.LiveBrokers, b)
	}
	return u
}

func stopReplicaToWire(r *controller.StopReplica) *kmsg.StopReplicaRequest {
	w := kmsg.NewPtrStopReplicaRequest()
	w.ControllerID, w.ControllerEpoch, w.BrokerEpoch = r.ControllerID, r.ControllerEpoch, r.BrokerEpoch
	byTopic := map[string]int{}
	for _, p := range r.Partitions {
		i, ok := byTopic[p.Topic]
		if !ok {
			i = len(w.Topics)
			byTopic[p.Topic] = i
			t := kmsg.NewStopReplicaRequestTopic()
			t.Topic = p.Topic
			w.Topics = append(w.Topics, t)
		}
		ps := kmsg.NewStopReplicaRequestTopicPartitionState()
		ps.Partition, ps.LeaderEpoch, ps.Delete = p.Partition, p.LeaderEpoch, p.Delete
		w.Topics[i].PartitionStates = append(w.Topics[i].PartitionStates, ps)
	}
	return w
}

func stopReplicaFromWire(w *kmsg.StopReplicaRequest) *controller.StopReplica {
	r := &controller.StopReplica{ControllerID: w.ControllerID, ControllerEpoch: w.ControllerEpoch, BrokerEpoch: w.BrokerEpoch}
	for _, t := range w.Topics {
		for _, ps := range t.PartitionStates {
			r.Partitions = append(r.Partitions, controller.StopReplicaPartition{Topic: t.Topic, Partition: ps.Partition,
				LeaderEpoch: ps.LeaderEpoch, Delete: ps.Delete})
		}
	}
	return r
}
