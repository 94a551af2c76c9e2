package store

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
)

// NewVersion, passed as an expected version, means "create the record; it
// must not exist yet". It mirrors a ZooKeeper create as opposed to a
// conditional set.
const NewVersion int32 = -1

// NoLeader is the leader id of a partition that has no leader (Kafka's -1).
const NoLeader int32 = -1

// TopicPartition names one partition.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// String formats tp as Kafka does in logs and directory names: topic-partition.
func (tp TopicPartition) String() string {
	return tp.Topic + "-" + strconv.Itoa(int(tp.Partition))
}

// Endpoint is one advertised listener of a broker.
type Endpoint struct {
	// Listener is the listener name, e.g. "PLAINTEXT" or "INTERNAL".
	Listener string
	// SecurityProtocol is PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.
	SecurityProtocol string
	Host             string
	Port             int32
}

// BrokerInfo is a broker registration (/brokers/ids/<id>).
type BrokerInfo struct {
	ID        int32
	Endpoints []Endpoint
	// Rack is empty when the broker has no rack.
	Rack string
	// JMXPort is -1 when JMX is off (always, for Strom).
	JMXPort int32
	// Timestamp is the registration time in Unix milliseconds.
	Timestamp int64
	// Epoch is the broker epoch: it identifies one registration and is
	// larger for every later registration of any broker (ZooKeeper: the
	// czxid of /brokers/ids/<id>, as Kafka uses it). Set by the store on
	// read; ignored by RegisterBroker.
	Epoch int64
}

// Clone returns a deep copy.
func (b BrokerInfo) Clone() BrokerInfo {
	b.Endpoints = slices.Clone(b.Endpoints)
	return b
}

// ControllerInfo names the active controller.
type ControllerInfo struct {
	BrokerID int32
	// Epoch is the controller epoch it was elected with (/controller_epoch).
	Epoch int32
}

// TopicAssignment is a topic's replica assignment (/brokers/topics/<t>).
//
// Invariant (kept by the controller, checked by the codecs only for shape):
// Partitions holds keys 0..n-1 and every replica list is non-empty with no
// duplicates.
type TopicAssignment struct {
	Name string
	// ID is the topic id (Kafka 2.8+ "topic_id"); zero if unknown.
	ID UUID
	// Partitions maps partition -> replica broker ids, preferred leader first.
	Partitions map[int32][]int32
	// AddingReplicas and RemovingReplicas describe an in-flight
	// reassignment (Kafka 2.4+); empty otherwise.
	AddingReplicas   map[int32][]int32
	RemovingReplicas map[int32][]int32
	// Version is the znode version this assignment was read at.
	Version int32
}

// Clone returns a deep copy.
func (a TopicAssignment) Clone() TopicAssignment {
	a.Partitions = cloneReplicaMap(a.Partitions)
	a.AddingReplicas = cloneReplicaMap(a.AddingReplicas)
	a.RemovingReplicas = cloneReplicaMap(a.RemovingReplicas)
	return a
}

// NumPartitions returns the number of partitions.
func (a TopicAssignment) NumPartitions() int32 { return int32(len(a.Partitions)) }

func cloneReplicaMap(m map[int32][]int32) map[int32][]int32 {
	if m == nil {
		return nil
	}
	out := make(map[int32][]int32, len(m))
	for p, r := range m {
		out[p] = slices.Clone(r)
	}
	return out
}

// PartitionState is a partition's leadership record
// (/brokers/topics/<t>/partitions/<p>/state).
type PartitionState struct {
	// Leader is the leader's broker id, or NoLeader.
	Leader int32
	// LeaderEpoch increases by one on every leader or ISR change made by the
	// controller.
	LeaderEpoch int32
	// ISR is the in-sync replica set. The controller never empties it: when
	// the last in-sync replica dies it stays listed (with Leader = NoLeader)
	// so a clean election can pick it when it returns.
	ISR []int32
	// ControllerEpoch is the epoch of the controller that wrote this state.
	ControllerEpoch int32
	// Version is the znode version this state was read at (ignored on write).
	Version int32
}

// Clone returns a deep copy.
func (s PartitionState) Clone() PartitionState {
	s.ISR = slices.Clone(s.ISR)
	return s
}

// PartitionStateUpdate is one write of Store.SetPartitionStates.
type PartitionStateUpdate struct {
	Partition TopicPartition
	State     PartitionState
	// ExpectedVersion is the version to replace, or NewVersion to create.
	ExpectedVersion int32
}

// ProducerIDBlock is a range of producer ids reserved by one broker
// (/latest_producer_id_block). Start and End are inclusive.
type ProducerIDBlock struct {
	BrokerID int32
	Start    int64
	End      int64
}

// NextProducerIDBlock returns the block of size ids that follows prev (nil:
// the first block, starting at 0 as Kafka's), or ErrInvalidArgument if size
// is not positive or the ids are exhausted.
func NextProducerIDBlock(prev *ProducerIDBlock, brokerID int32, size int64) (ProducerIDBlock, error) {
	if size <= 0 {
		return ProducerIDBlock{}, fmt.Errorf("store: producer id block size %d: %w", size, ErrInvalidArgument)
	}
	var start int64
	if prev != nil {
		start = prev.End + 1
	}
	if start < 0 || start > math.MaxInt64-size+1 {
		return ProducerIDBlock{}, fmt.Errorf("store: producer ids exhausted: %w", ErrInvalidArgument)
	}
	return ProducerIDBlock{BrokerID: brokerID, Start: start, End: start + size - 1}, nil
}

// UUID is a Kafka Uuid (topic ids, cluster ids). Its text form is URL-safe
// base64 without padding (22 characters), as Kafka's Uuid.toString.
type UUID [16]byte

// NewUUID returns a random UUID that is never zero and whose text form does
// not start with '-' (Kafka avoids those so ids are not mistaken for command
// line flags).
func NewUUID() (UUID, error) {
	for {
		var u UUID
		if _, err := rand.Read(u[:]); err != nil {
			return UUID{}, fmt.Errorf("store: random uuid: %w", err)
		}
		if !u.IsZero() && u.String()[0] != '-' {
			return u, nil
		}
	}
}

// IsZero reports whether u is the zero UUID (Kafka's ZERO_UUID).
func (u UUID) IsZero() bool { return u == UUID{} }

// String returns the 22-character URL-safe base64 form.
func (u UUID) String() string { return base64.RawURLEncoding.EncodeToString(u[:]) }

// ParseUUID parses the 22-character URL-safe base64 form.
func ParseUUID(s string) (UUID, error) {
	var u UUID
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != len(u) {
		return UUID{}, fmt.Errorf("store: invalid uuid %q", s)
	}
	copy(u[:], b)
	return u, nil
}

// CloneConfigs returns a copy of a config map; never nil.
func CloneConfigs(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	maps.Copy(out, m)
	return out
}
