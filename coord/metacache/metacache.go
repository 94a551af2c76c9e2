// Package metacache is a broker's view of the cluster: the live brokers
// with their endpoints, every partition's leader, leader epoch, replicas,
// ISR and offline replicas, the topic ids and the controller's id — exactly
// what Kafka's controller pushes to every broker in UpdateMetadata requests,
// and what a broker answers Metadata, DescribeCluster and FindCoordinator
// from (Kafka: kafka.server.metadata.ZkMetadataCache).
//
// # Updates
//
// Apply takes one Update (an UpdateMetadata request): the live broker list
// replaces the previous one wholesale, topic ids are merged (a zero id
// forgets the topic's id), and each partition state replaces the cached one,
// except that a state whose leader is LeaderDuringDelete removes the
// partition (the controller's deletion marker). Partitions not named keep
// their state: Kafka's updates are partial.
//
// # Fencing
//
// A Fence keeps the highest controller epoch this broker has accepted a
// control request from and this broker's own epoch (the czxid of its
// registration). A request from an older controller epoch is refused with
// ErrStaleControllerEpoch, one addressed to an older broker epoch (an
// earlier incarnation of this broker) with ErrStaleBrokerEpoch; a broker
// epoch of -1 is not checked (Kafka's rule for old request versions). The
// Fence is shared by every control request kind (LeaderAndIsr,
// UpdateMetadata, StopReplica), as Kafka's ReplicaManager shares one
// controller epoch.
//
// # Concurrency
//
// Readers take an immutable Snapshot without locking (an atomic pointer);
// Apply builds the next snapshot copy-on-write under a mutex, copying only
// the top-level maps and the partition maps of the topics it touches. A
// Snapshot and everything reachable from it must never be modified.
package metacache

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/strom-broker/strom/coord/store"
)

// LeaderDuringDelete is the leader id the controller sends for a partition
// of a topic being deleted; the cache drops the partition (Kafka's
// LeaderAndIsr.LeaderDuringDelete).
const LeaderDuringDelete int32 = -2

// Errors of Fence.Check (Kafka's STALE_CONTROLLER_EPOCH and
// STALE_BROKER_EPOCH).
var (
	ErrStaleControllerEpoch = errors.New("metacache: stale controller epoch")
	ErrStaleBrokerEpoch     = errors.New("metacache: stale broker epoch")
)

// PartitionState is one partition as the controller last described it.
type PartitionState struct {
	Topic     string
	Partition int32
	// ControllerEpoch is the epoch of the controller that made the
	// partition's last leadership decision.
	ControllerEpoch int32
	// Leader is the leader's broker id, store.NoLeader, or
	// LeaderDuringDelete (in an Update only: removes the partition).
	Leader      int32
	LeaderEpoch int32
	ISR         []int32
	// PartitionEpoch is the version of the partition's state record
	// (Kafka's zkVersion).
	PartitionEpoch  int32
	Replicas        []int32
	OfflineReplicas []int32
}

// Update is one UpdateMetadata request.
type Update struct {
	ControllerID    int32
	ControllerEpoch int32
	// BrokerEpoch is the epoch of the broker the update is addressed to;
	// -1 skips the check.
	BrokerEpoch int64
	// LiveBrokers replaces the cached live broker set.
	LiveBrokers []store.BrokerInfo
	// TopicIDs are merged into the cached ids; a zero id removes one.
	TopicIDs map[string]store.UUID
	// Partitions replace the cached states of the partitions they name.
	Partitions []PartitionState
}

// Node is a live broker's endpoint on one listener.
type Node struct {
	ID   int32
	Host string
	Port int32
	// Rack is empty when the broker has no rack.
	Rack string
}

// Snapshot is an immutable view of the cache at one moment.
type Snapshot struct {
	controllerID int32 // -1: unknown
	brokers      map[int32]store.BrokerInfo
	topicIDs     map[string]store.UUID
	topicNames   map[store.UUID]string
	topics       map[string]map[int32]*PartitionState
}

var emptySnapshot = &Snapshot{
	controllerID: -1,
	brokers:      map[int32]store.BrokerInfo{},
	topicIDs:     map[string]store.UUID{},
	topicNames:   map[store.UUID]string{},
	topics:       map[string]map[int32]*PartitionState{},
}

// Cache holds the current Snapshot.
type Cache struct {
	mu   sync.Mutex // serialises Apply
	snap atomic.Pointer[Snapshot]
}

// New returns an empty cache: no brokers, no topics, no controller.
func New() *Cache {
	c := &Cache{}
	c.snap.Store(emptySnapshot)
	return c
}

// Snapshot returns the current view. It never blocks.
func (c *Cache) Snapshot() *Snapshot { return c.snap.Load() }

// Apply installs u and returns the partitions it removed (deletion
// markers for partitions the cache held). Fencing is the caller's
// (Fence.Check): Apply trusts u.
func (c *Cache) Apply(u Update) (removed []store.TopicPartition) {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.snap.Load()
	next := &Snapshot{
		controllerID: u.ControllerID,
		brokers:      make(map[int32]store.BrokerInfo, len(u.LiveBrokers)),
		topicIDs:     maps.Clone(old.topicIDs),
		topics:       maps.Clone(old.topics),
	}
	if next.controllerID < 0 {
		next.controllerID = -1
	}
	for _, b := range u.LiveBrokers {
		next.brokers[b.ID] = b.Clone()
	}
	for t, id := range u.TopicIDs {
		if id.IsZero() {
			delete(next.topicIDs, t)
		} else {
			next.topicIDs[t] = id
		}
	}
	copied := map[string]bool{} // topics whose partition map is already ours
	for i := range u.Partitions {
		st := u.Partitions[i]
		parts := next.topics[st.Topic]
		if !copied[st.Topic] {
			parts = maps.Clone(parts)
			if parts == nil {
				parts = map[int32]*PartitionState{}
			}
			next.topics[st.Topic] = parts
			copied[st.Topic] = true
		}
		if st.Leader == LeaderDuringDelete {
			if _, had := parts[st.Partition]; had {
				removed = append(removed, store.TopicPartition{Topic: st.Topic, Partition: st.Partition})
				delete(parts, st.Partition)
			}
			continue
		}
		st.ISR = slices.Clone(st.ISR)
		st.Replicas = slices.Clone(st.Replicas)
		st.OfflineReplicas = slices.Clone(st.OfflineReplicas)
		parts[st.Partition] = &st
	}
	for t := range copied {
		if len(next.topics[t]) == 0 {
			delete(next.topics, t)
			delete(next.topicIDs, t)
		}
	}
	next.topicNames = make(map[store.UUID]string, len(next.topicIDs))
	for t, id := range next.topicIDs {
		next.topicNames[id] = t
	}
	c.snap.Store(next)
	return removed
}

// Controller returns the controller's broker id, or false if unknown.
func (s *Snapshot) Controller() (int32, bool) { return s.controllerID, s.controllerID >= 0 }

// Brokers returns the live brokers, sorted by id.
func (s *Snapshot) Brokers() []store.BrokerInfo {
	out := make([]store.BrokerInfo, 0, len(s.brokers))
	for _, id := range slices.Sorted(maps.Keys(s.brokers)) {
		out = append(out, s.brokers[id].Clone())
	}
	return out
}

// Alive reports whether broker id is live.
func (s *Snapshot) Alive(id int32) bool {
	_, ok := s.brokers[id]
	return ok
}

// Node returns broker id's endpoint on listener. ok is false when the
// broker is not live or has no such listener.
func (s *Snapshot) Node(id int32, listener string) (n Node, ok bool) {
	b, live := s.brokers[id]
	if !live {
		return Node{}, false
	}
	for _, ep := range b.Endpoints {
		if ep.Listener == listener {
			return Node{ID: id, Host: ep.Host, Port: ep.Port, Rack: b.Rack}, true
		}
	}
	return Node{}, false
}

// Nodes returns every live broker's endpoint on listener, sorted by id;
// brokers without that listener are left out.
func (s *Snapshot) Nodes(listener string) []Node {
	var out []Node
	for _, id := range slices.Sorted(maps.Keys(s.brokers)) {
		if n, ok := s.Node(id, listener); ok {
			out = append(out, n)
		}
	}
	return out
}

// Topics returns every cached topic name, sorted.
func (s *Snapshot) Topics() []string { return slices.Sorted(maps.Keys(s.topics)) }

// HasTopic reports whether topic has at least one cached partition.
func (s *Snapshot) HasTopic(topic string) bool {
	_, ok := s.topics[topic]
	return ok
}

// NumPartitions returns topic's number of cached partitions (0 if
// unknown).
func (s *Snapshot) NumPartitions(topic string) int { return len(s.topics[topic]) }

// Partition returns one partition's state. The returned value shares no
// memory with the cache.
func (s *Snapshot) Partition(topic string, partition int32) (PartitionState, bool) {
	st, ok := s.topics[topic][partition]
	if !ok {
		return PartitionState{}, false
	}
	out := *st
	out.ISR = slices.Clone(st.ISR)
	out.Replicas = slices.Clone(st.Replicas)
	out.OfflineReplicas = slices.Clone(st.OfflineReplicas)
	return out, true
}

// Partitions returns topic's partition states sorted by partition (nil if
// the topic is unknown). The states share no memory with the cache.
func (s *Snapshot) Partitions(topic string) []PartitionState {
	parts := s.topics[topic]
	if len(parts) == 0 {
		return nil
	}
	out := make([]PartitionState, 0, len(parts))
	for _, p := range slices.Sorted(maps.Keys(parts)) {
		st, _ := s.Partition(topic, p)
		out = append(out, st)
	}
	return out
}

// TopicID returns topic's id (zero if unknown).
func (s *Snapshot) TopicID(topic string) store.UUID { return s.topicIDs[topic] }

// TopicName returns the name of the topic with id, or false.
func (s *Snapshot) TopicName(id store.UUID) (string, bool) {
	t, ok := s.topicNames[id]
	return t, ok
}

// Availability says how a partition can be reached through one listener;
// the Metadata answer's error code follows from it (Kafka's
// ZkMetadataCache.getPartitionMetadata).
type Availability int

// Availability values.
const (
	// Available: the leader is live with the listener, and so are every
	// replica and ISR member (NONE).
	Available Availability = iota
	// LeaderNotAvailable: no leader, or the leader is not live
	// (LEADER_NOT_AVAILABLE).
	LeaderNotAvailable
	// ListenerNotFound: the leader is live but has no such listener
	// (LISTENER_NOT_FOUND from Metadata v6, LEADER_NOT_AVAILABLE before).
	ListenerNotFound
	// ReplicaNotAvailable: the leader is reachable but a replica or ISR
	// member is not (REPLICA_NOT_AVAILABLE; only Metadata v0 reports it,
	// as Kafka does).
	ReplicaNotAvailable
)

// Availability classifies st for a client on listener.
func (s *Snapshot) Availability(st PartitionState, listener string) Availability {
	if _, ok := s.Node(st.Leader, listener); !ok {
		if s.Alive(st.Leader) {
			return ListenerNotFound
		}
		return LeaderNotAvailable
	}
	for _, r := range slices.Concat(st.Replicas, st.ISR) {
		if _, ok := s.Node(r, listener); !ok {
			return ReplicaNotAvailable
		}
	}
	return Available
}

// Fence checks the epochs of control requests (see the package comment).
type Fence struct {
	mu              sync.Mutex
	controllerEpoch int32 // highest accepted; -1 before the first
	brokerEpoch     atomic.Int64
}

// NewFence returns a fence that has accepted no controller yet, for a
// broker whose registration has epoch brokerEpoch (-1: unknown).
func NewFence(brokerEpoch int64) *Fence {
	f := &Fence{controllerEpoch: -1}
	f.brokerEpoch.Store(brokerEpoch)
	return f
}

// SetBrokerEpoch records this broker's new epoch (after re-registering).
func (f *Fence) SetBrokerEpoch(e int64) { f.brokerEpoch.Store(e) }

// BrokerEpoch returns this broker's epoch.
func (f *Fence) BrokerEpoch() int64 { return f.brokerEpoch.Load() }

// ControllerEpoch returns the highest controller epoch accepted so far
// (-1 if none).
func (f *Fence) ControllerEpoch() int32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.controllerEpoch
}

// Check accepts a control request from a controller of controllerEpoch
// addressed to this broker at brokerEpoch, and raises the accepted
// controller epoch. Kafka checks the broker epoch first (KafkaApis) and the
// controller epoch second (ReplicaManager).
func (f *Fence) Check(controllerEpoch int32, brokerEpoch int64) error {
	if own := f.brokerEpoch.Load(); brokerEpoch != -1 && brokerEpoch < own {
		return fmt.Errorf("request for broker epoch %d, this broker's is %d: %w", brokerEpoch, own, ErrStaleBrokerEpoch)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if controllerEpoch < f.controllerEpoch {
		return fmt.Errorf("request from controller epoch %d, already saw %d: %w", controllerEpoch, f.controllerEpoch, ErrStaleControllerEpoch)
	}
	f.controllerEpoch = controllerEpoch
	return nil
}
