package group

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Config holds the broker settings the coordinator obeys. Field comments
// name Kafka's property and its default (DefaultConfig).
type Config struct {
	// OffsetsTopicNumPartitions is offsets.topic.num.partitions: the
	// partition count of __consumer_offsets. Default 50. It must never
	// change once the topic exists (PartitionFor depends on it).
	OffsetsTopicNumPartitions int32
	// GroupMinSessionTimeout is group.min.session.timeout.ms. Default 6 s.
	GroupMinSessionTimeout time.Duration
	// GroupMaxSessionTimeout is group.max.session.timeout.ms. Default 30 min.
	GroupMaxSessionTimeout time.Duration
	// GroupInitialRebalanceDelay is group.initial.rebalance.delay.ms: how long
	// the first rebalance of an empty group waits for more members (extended
	// by the same amount while new members keep arriving, up to the
	// rebalance timeout). Default 3 s.
	GroupInitialRebalanceDelay time.Duration
	// GroupMaxSize is group.max.size. Default MaxInt32.
	GroupMaxSize int
	// OffsetsRetention is offsets.retention.minutes. Default 7 days.
	OffsetsRetention time.Duration
	// OffsetsRetentionCheckInterval is offsets.retention.check.interval.ms.
	// Default 10 min.
	OffsetsRetentionCheckInterval time.Duration
	// OffsetMetadataMaxBytes is offset.metadata.max.bytes. Default 4096.
	OffsetMetadataMaxBytes int
	// OffsetsCommitTimeout is offsets.commit.timeout.ms: how long an append
	// to __consumer_offsets may wait for commitment. Default 5 s.
	OffsetsCommitTimeout time.Duration
	// MemberMetadataMaxBytes bounds the protocol metadata (all protocols'
	// names and metadata together) one member may send in JoinGroup, and
	// the assignment bytes per member in SyncGroup. Kafka has no such
	// bound (its only limit is the group record failing to fit
	// __consumer_offsets' max.message.bytes, which it answers with
	// UNKNOWN_SERVER_ERROR at SyncGroup); Strom rejects an oversized join
	// or assignment up front with INVALID_REQUEST. Default 256 KiB.
	MemberMetadataMaxBytes int
	// GroupRecordMaxBytes bounds the encoded group metadata record (the
	// max.message.bytes of __consumer_offsets, 1 MiB by default). A
	// SyncGroup whose assignment would make the record larger fails like
	// Kafka's: UNKNOWN_SERVER_ERROR, and the group rebalances.
	GroupRecordMaxBytes int
}

// NewMemberJoinTimeout is how long a new member may wait in JoinGroup for a
// rebalance to complete before it is removed (Kafka's hard-coded
// GroupCoordinator.NewMemberJoinTimeoutMs).
const NewMemberJoinTimeout = 5 * time.Minute

// DefaultConfig returns Kafka's defaults.
func DefaultConfig() Config {
	return Config{
		OffsetsTopicNumPartitions:     50,
		GroupMinSessionTimeout:        6 * time.Second,
		GroupMaxSessionTimeout:        30 * time.Minute,
		GroupInitialRebalanceDelay:    3 * time.Second,
		GroupMaxSize:                  math.MaxInt32,
		OffsetsRetention:              7 * 24 * time.Hour,
		OffsetsRetentionCheckInterval: 10 * time.Minute,
		OffsetMetadataMaxBytes:        4096,
		OffsetsCommitTimeout:          5 * time.Second,
		MemberMetadataMaxBytes:        256 << 10,
		GroupRecordMaxBytes:           1<<20 + 12,
	}
}

// Validate reports every setting out of range at once, naming the Kafka
// property and the value.
func (c Config) Validate() error {
	var errs []error
	bad := func(key string, v any, why string) {
		errs = append(errs, fmt.Errorf("%w: %s=%v: %s", ErrInvalidConfig, key, v, why))
	}
	if c.OffsetsTopicNumPartitions < 1 {
		bad("offsets.topic.num.partitions", c.OffsetsTopicNumPartitions, "must be >= 1")
	}
	if c.GroupMinSessionTimeout < 0 {
		bad("group.min.session.timeout.ms", c.GroupMinSessionTimeout.Milliseconds(), "must be >= 0")
	}
	if c.GroupMaxSessionTimeout < c.GroupMinSessionTimeout {
		bad("group.max.session.timeout.ms", c.GroupMaxSessionTimeout.Milliseconds(), "must be >= group.min.session.timeout.ms")
	}
	if c.GroupInitialRebalanceDelay < 0 {
		bad("group.initial.rebalance.delay.ms", c.GroupInitialRebalanceDelay.Milliseconds(), "must be >= 0")
	}
	if c.GroupMaxSize < 1 {
		bad("group.max.size", c.GroupMaxSize, "must be >= 1")
	}
	if c.OffsetsRetention < time.Minute {
		bad("offsets.retention.minutes", int64(c.OffsetsRetention/time.Minute), "must be >= 1")
	}
	if c.OffsetsRetentionCheckInterval <= 0 {
		bad("offsets.retention.check.interval.ms", c.OffsetsRetentionCheckInterval.Milliseconds(), "must be > 0")
	}
	if c.OffsetMetadataMaxBytes < 0 {
		bad("offset.metadata.max.bytes", c.OffsetMetadataMaxBytes, "must be >= 0")
	}
	if c.OffsetsCommitTimeout <= 0 {
		bad("offsets.commit.timeout.ms", c.OffsetsCommitTimeout.Milliseconds(), "must be > 0")
	}
	if c.MemberMetadataMaxBytes < 1 {
		bad("member metadata limit", c.MemberMetadataMaxBytes, "must be >= 1")
	}
	if c.GroupRecordMaxBytes < 1 {
		bad("group record limit", c.GroupRecordMaxBytes, "must be >= 1")
	}
	return errors.Join(errs...)
}
