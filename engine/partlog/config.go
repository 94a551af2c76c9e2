package partlog

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/strom-broker/strom/engine/record"
	"github.com/strom-broker/strom/engine/segment"
)

// Cleanup policies (Kafka's cleanup.policy values).
const (
	CleanupDelete        = "delete"
	CleanupCompact       = "compact"
	CleanupCompactDelete = "compact,delete"
)

// Config holds Kafka's topic-level log settings. Field comments name the
// Kafka property and its default (DefaultConfig).
type Config struct {
	// SegmentBytes is segment.bytes: roll when the active segment would
	// pass it. Default 1 GiB.
	SegmentBytes int64
	// SegmentMs is segment.ms: roll when the active segment is older.
	// Default 7 days.
	SegmentMs int64
	// RetentionMs is retention.ms: delete segments whose largest timestamp
	// is older; -1 keeps forever. Default 7 days.
	RetentionMs int64
	// RetentionBytes is retention.bytes: delete old segments while the log
	// is larger; -1 means no limit (default).
	RetentionBytes int64
	// IndexIntervalBytes is index.interval.bytes. Default 4096.
	IndexIntervalBytes int
	// SegmentIndexBytes is segment.index.bytes. Default 10 MiB.
	SegmentIndexBytes int
	// MaxMessageBytes is max.message.bytes, the largest batch accepted.
	// Default 1 MiB + 12.
	MaxMessageBytes int
	// FlushMessages is flush.messages: fsync after this many records.
	// Default MaxInt64 (never; replication is the durability).
	FlushMessages int64
	// FlushMs is flush.ms: fsync when the last flush is older. Default
	// MaxInt64 (never).
	FlushMs int64
	// MessageTimestampType is message.timestamp.type. Default CreateTime.
	MessageTimestampType record.TimestampType
	// CleanupPolicy is cleanup.policy: "delete", "compact" or
	// "compact,delete". Default "delete". Retention applies only with
	// "delete" in the policy.
	CleanupPolicy string
	// DeleteRetentionMs is delete.retention.ms (tombstone lifetime for the
	// cleaner). Default 1 day.
	DeleteRetentionMs int64
	// MinCleanableDirtyRatio is min.cleanable.dirty.ratio. Default 0.5.
	MinCleanableDirtyRatio float64
}

// DefaultConfig returns Kafka's defaults.
func DefaultConfig() Config {
	return Config{
		SegmentBytes:           1 << 30,
		SegmentMs:              7 * 24 * 3600 * 1000,
		RetentionMs:            7 * 24 * 3600 * 1000,
		RetentionBytes:         -1,
		IndexIntervalBytes:     4096,
		SegmentIndexBytes:      10 << 20,
		MaxMessageBytes:        1<<20 + 12,
		FlushMessages:          math.MaxInt64,
		FlushMs:                math.MaxInt64,
		MessageTimestampType:   record.CreateTime,
		CleanupPolicy:          CleanupDelete,
		DeleteRetentionMs:      24 * 3600 * 1000,
		MinCleanableDirtyRatio: 0.5,
	}
}

// ErrInvalidConfig is wrapped by every Validate error.
var ErrInvalidConfig = errors.New("partlog: invalid config")

// Validate reports every setting out of range at once, naming the Kafka
// property and the value.
func (c Config) Validate() error {
	var errs []error
	bad := func(key string, v any, want string) {
		errs = append(errs, fmt.Errorf("%w: %s=%v, want %s", ErrInvalidConfig, key, v, want))
	}
	if c.SegmentBytes < record.HeaderSize || c.SegmentBytes > math.MaxInt32 {
		bad("segment.bytes", c.SegmentBytes, fmt.Sprintf("%d..%d", record.HeaderSize, math.MaxInt32))
	}
	if c.SegmentMs < 1 {
		bad("segment.ms", c.SegmentMs, ">= 1")
	}
	if c.RetentionMs < -1 {
		bad("retention.ms", c.RetentionMs, ">= -1")
	}
	if c.RetentionBytes < -1 {
		bad("retention.bytes", c.RetentionBytes, ">= -1")
	}
	if c.IndexIntervalBytes < 0 {
		bad("index.interval.bytes", c.IndexIntervalBytes, ">= 0")
	}
	if c.SegmentIndexBytes < 2*segment.TimeIndexEntrySize {
		bad("segment.index.bytes", c.SegmentIndexBytes, fmt.Sprintf(">= %d", 2*segment.TimeIndexEntrySize))
	}
	if c.MaxMessageBytes < record.HeaderSize {
		bad("max.message.bytes", c.MaxMessageBytes, fmt.Sprintf(">= %d", record.HeaderSize))
	}
	if c.FlushMessages < 1 {
		bad("flush.messages", c.FlushMessages, ">= 1")
	}
	if c.FlushMs < 0 {
		bad("flush.ms", c.FlushMs, ">= 0")
	}
	if c.MessageTimestampType != record.CreateTime && c.MessageTimestampType != record.LogAppendTime {
		bad("message.timestamp.type", c.MessageTimestampType, "CreateTime or LogAppendTime")
	}
	switch c.CleanupPolicy {
	case CleanupDelete, CleanupCompact, CleanupCompactDelete, "delete,compact":
	default:
		bad("cleanup.policy", c.CleanupPolicy, `"delete", "compact" or "compact,delete"`)
	}
	if c.DeleteRetentionMs < 0 {
		bad("delete.retention.ms", c.DeleteRetentionMs, ">= 0")
	}
	if c.MinCleanableDirtyRatio < 0 || c.MinCleanableDirtyRatio > 1 || math.IsNaN(c.MinCleanableDirtyRatio) {
		bad("min.cleanable.dirty.ratio", c.MinCleanableDirtyRatio, "0..1")
	}
	return errors.Join(errs...)
}

// deletes reports whether retention applies under the cleanup policy.
func (c Config) deletes() bool { return strings.Contains(c.CleanupPolicy, CleanupDelete) }

func (c Config) segmentConfig() segment.Config {
	return segment.Config{IndexIntervalBytes: c.IndexIntervalBytes, MaxIndexBytes: c.SegmentIndexBytes}
}
