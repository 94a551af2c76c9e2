package sim

import (
	"fmt"

	"github.com/strom-broker/strom/net/kerr"
)

// Kind is a message type. The names are Kafka's APIs (and ZooKeeper's
// notifications) the simulated brokers exchange.
type Kind uint8

// Message kinds.
const (
	// Fetch: follower -> leader, FetchOffset and the follower's view of
	// the leader epoch; FetchResp carries Records from FetchOffset, the
	// leader's HW, or Err (with LogEnd for OFFSET_OUT_OF_RANGE).
	Fetch Kind = iota + 1
	FetchResp
	// EpochReq: OffsetForLeaderEpoch for AskEpoch in the current leader
	// epoch; EpochResp answers EndEpoch/EndOffset.
	EpochReq
	EpochResp
	// Produce: client -> leader, Value with Acks; ProduceResp: Offset or Err.
	Produce
	ProduceResp
	// LeaderAndIsr: controller -> broker, the partition's state (State)
	// fenced by ControllerEpoch and the target's BrokerEpoch;
	// LeaderAndIsrResp acknowledges the leader epoch it saw.
	LeaderAndIsr
	LeaderAndIsrResp
	// AlterPartition: leader -> controller, an ISR change (ISR made from
	// LeaderEpoch and PartitionEpoch) from BrokerEpoch;
	// AlterPartitionResp: the stored ISR and partition epoch, or Err.
	AlterPartition
	AlterPartitionResp
)

var kindNames = map[Kind]string{Fetch: "Fetch", FetchResp: "FetchResp", EpochReq: "OffsetForLeaderEpoch",
	EpochResp: "OffsetForLeaderEpochResp", Produce: "Produce", ProduceResp: "ProduceResp",
	LeaderAndIsr: "LeaderAndIsr", LeaderAndIsrResp: "LeaderAndIsrResp", AlterPartition: "AlterPartition",
	AlterPartitionResp: "AlterPartitionResp"}

// String returns the kind's name.
func (k Kind) String() string { return kindNames[k] }

// Err is a Kafka error code carried by a response (0: none).
type Err uint8

// Error codes (Kafka's names).
const (
	None Err = iota
	NotLeaderOrFollower
	FencedLeaderEpoch
	UnknownLeaderEpoch
	OffsetOutOfRange
	NotEnoughReplicas
	NotEnoughReplicasAfterAppend
	RequestTimedOut
	NotController
	StaleBrokerEpoch
	InvalidUpdateVersion
	IneligibleReplica
)

var errNames = [...]string{"NONE", "NOT_LEADER_OR_FOLLOWER", "FENCED_LEADER_EPOCH", "UNKNOWN_LEADER_EPOCH",
	"OFFSET_OUT_OF_RANGE", "NOT_ENOUGH_REPLICAS", "NOT_ENOUGH_REPLICAS_AFTER_APPEND", "REQUEST_TIMED_OUT",
	"NOT_CONTROLLER", "STALE_BROKER_EPOCH", "INVALID_UPDATE_VERSION", "INELIGIBLE_REPLICA"}

// String returns the Kafka name of the code.
func (e Err) String() string { return errNames[e] }

// kafkaErrs are the net/kerr errors of the codes the broker's own
// decision functions look at.
var kafkaErrs = map[Err]error{NotLeaderOrFollower: kerr.NotLeaderForPartition, FencedLeaderEpoch: kerr.FencedLeaderEpoch,
	InvalidUpdateVersion: kerr.InvalidUpdateVersion, IneligibleReplica: kerr.IneligibleReplica}

// kafka returns the code's net/kerr error (nil for none or one without).
func (e Err) kafka() error { return kafkaErrs[e] }

// PartitionState is the partition's state as ZooKeeper stores it and
// LeaderAndIsr carries it.
type PartitionState struct {
	Leader          int32
	LeaderEpoch     int32
	ISR             []int32
	ControllerEpoch int32
	Version         int32 // the znode version: the partition epoch
}

// String shows the state compactly.
func (s PartitionState) String() string {
	return fmt.Sprintf("leader=%d epoch=%d isr=%v version=%d", s.Leader, s.LeaderEpoch, s.ISR, s.Version)
}

// Msg is one message between nodes. Node ids: brokers 1..n, clients from
// ClientBase. Only the fields of its Kind are set.
type Msg struct {
	From, To int32
	Kind     Kind
	ReqID    int64
	Err      Err

	LeaderEpoch int32 // the sender's current leader epoch (requests) or the leader's (responses)
	FetchOffset int64
	Records     []Record
	HW          int64
	LogEnd      int64

	AskEpoch  int32
	EndEpoch  int32
	EndOffset int64

	Value  string
	Acks   int16
	Offset int64

	State           PartitionState
	Replicas        []int32
	ControllerEpoch int32
	BrokerEpoch     int64
	ISR             []int32
	PartitionEpoch  int32
}
