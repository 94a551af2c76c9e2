package broker

import (
	"context"

	"github.com/strom-broker/strom/coord/store"
)

// KIP-951: a Fetch (v16+) or Produce (v10+) partition answered
// NOT_LEADER_OR_FOLLOWER (or, for Fetch, FENCED_LEADER_EPOCH) carries the
// partition's current leader and epoch, and the response the leader's
// endpoint on the request's listener, so a client re-routes without a
// metadata round trip. In a cluster this is how clients follow leadership
// moves; the cluster work relies on it.

// leaderHint is a partition's current leader as KIP-951 reports it.
type leaderHint struct {
	leaderID, leaderEpoch int32
	node                  *store.Endpoint // the leader on the listener; nil if unknown
	rack                  string          // the leader's rack, if it has one
}

// currentLeader answers as Kafka's KafkaApis.getCurrentLeader: the local
// replica's view of the leader and epoch, else the metadata's, else -1/-1;
// the node is the leader's endpoint on listener, if the leader is
// registered and has one.
func (b *Broker) currentLeader(ctx context.Context, topic string, partition int32, listener string) leaderHint {
	h := leaderHint{leaderID: -1, leaderEpoch: -1}
	snap := b.meta.Snapshot()
	if r, ok := b.parts.get(topic, partition); ok {
		st := r.State()
		h.leaderID, h.leaderEpoch = st.Leader, st.LeaderEpoch
	} else if st, ok := snap.Partition(topic, partition); ok {
		h.leaderID, h.leaderEpoch = st.Leader, st.LeaderEpoch
	}
	if h.leaderID < 0 {
		h.leaderID = -1
		return h
	}
	if n, ok := snap.Node(h.leaderID, listener); ok {
		h.node = &store.Endpoint{Listener: listener, Host: n.Host, Port: n.Port}
		h.rack = n.Rack
	}
	return h
}

// nodeSet collects the leader endpoints of one response, each once.
type nodeSet struct {
	ids   map[int32]bool
	nodes []leaderNode
}

// leaderNode is a broker's id, endpoint and rack.
type leaderNode struct {
	id   int32
	host string
	port int32
	rack *string
}

// add records h's node, if any.
func (s *nodeSet) add(h leaderHint) {
	if h.node == nil || s.ids[h.leaderID] {
		return
	}
	if s.ids == nil {
		s.ids = map[int32]bool{}
	}
	s.ids[h.leaderID] = true
	n := leaderNode{id: h.leaderID, host: h.node.Host, port: h.node.Port}
	if h.rack != "" {
		rack := h.rack
		n.rack = &rack
	}
	s.nodes = append(s.nodes, n)
}
