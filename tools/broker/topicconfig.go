package broker

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/strom-broker/strom/engine/partlog"
	"github.com/strom-broker/strom/engine/record"
	"github.com/strom-broker/strom/tools/config"
)

// Topic-level configs: Kafka's topic property names, how each maps onto the
// engine's partlog.Config, and which broker property supplies its default.
// A topic's stored overrides (coord) are strings keyed by these names.

// topicKey is one topic-level config key.
type topicKey struct {
	name      string
	brokerKey string // the broker property that supplies the default
	// set parses v into c; get renders c's value.
	set func(c *partlog.Config, v string) error
	get func(c partlog.Config) string
	// engine is false for keys Strom accepts and stores but whose value
	// the engine does not use yet.
	engine bool
}

func int64Key(name, brokerKey string, f func(*partlog.Config) *int64, minV int64) topicKey {
	return topicKey{name: name, brokerKey: brokerKey, engine: true,
		set: func(c *partlog.Config, v string) error {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil || n < minV {
				return fmt.Errorf("%s: %q is not an integer >= %d", name, v, minV)
			}
			*f(c) = n
			return nil
		},
		get: func(c partlog.Config) string { return strconv.FormatInt(*f(&c), 10) },
	}
}

func intKey(name, brokerKey string, f func(*partlog.Config) *int, minV int) topicKey {
	return topicKey{name: name, brokerKey: brokerKey, engine: true,
		set: func(c *partlog.Config, v string) error {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || n < minV {
				return fmt.Errorf("%s: %q is not an integer >= %d", name, v, minV)
			}
			*f(c) = n
			return nil
		},
		get: func(c partlog.Config) string { return strconv.Itoa(*f(&c)) },
	}
}

// storedKey is a key accepted and kept but not used by the engine.
func storedKey(name, brokerKey, def string, check func(string) bool) topicKey {
	return topicKey{name: name, brokerKey: brokerKey,
		set: func(_ *partlog.Config, v string) error {
			if check != nil && !check(v) {
				return fmt.Errorf("%s: invalid value %q", name, v)
			}
			return nil
		},
		get: func(partlog.Config) string { return def },
	}
}

func isBool(v string) bool { _, err := strconv.ParseBool(v); return err == nil }
func isInt(v string) bool  { _, err := strconv.ParseInt(v, 10, 64); return err == nil }

var topicKeys = []topicKey{
	{name: "cleanup.policy", brokerKey: "log.cleanup.policy", engine: true,
		set: func(c *partlog.Config, v string) error {
			parts := strings.Split(strings.ReplaceAll(v, " ", ""), ",")
			slices.Sort(parts)
			parts = slices.Compact(parts)
			switch strings.Join(parts, ",") {
			case "delete":
				c.CleanupPolicy = partlog.CleanupDelete
			case "compact":
				c.CleanupPolicy = partlog.CleanupCompact
			case "compact,delete":
				c.CleanupPolicy = partlog.CleanupCompactDelete
			default:
				return fmt.Errorf("cleanup.policy: %q is not delete, compact or compact,delete", v)
			}
			return nil
		},
		get: func(c partlog.Config) string { return c.CleanupPolicy }},
	intKey("max.message.bytes", "message.max.bytes", func(c *partlog.Config) *int { return &c.MaxMessageBytes }, 0),
	int64Key("segment.bytes", "log.segment.bytes", func(c *partlog.Config) *int64 { return &c.SegmentBytes }, 14),
	int64Key("segment.ms", "log.roll.ms", func(c *partlog.Config) *int64 { return &c.SegmentMs }, 1),
	int64Key("retention.ms", "log.retention.ms", func(c *partlog.Config) *int64 { return &c.RetentionMs }, -1),
	int64Key("retention.bytes", "log.retention.bytes", func(c *partlog.Config) *int64 { return &c.RetentionBytes }, -1),
	intKey("index.interval.bytes", "log.index.interval.bytes", func(c *partlog.Config) *int { return &c.IndexIntervalBytes }, 0),
	intKey("segment.index.bytes", "log.index.size.max.bytes", func(c *partlog.Config) *int { return &c.SegmentIndexBytes }, 4),
	int64Key("flush.messages", "log.flush.interval.messages", func(c *partlog.Config) *int64 { return &c.FlushMessages }, 1),
	int64Key("flush.ms", "log.flush.interval.ms", func(c *partlog.Config) *int64 { return &c.FlushMs }, 0),
	int64Key("delete.retention.ms", "log.cleaner.delete.retention.ms", func(c *partlog.Config) *int64 { return &c.DeleteRetentionMs }, 0),
	{name: "min.cleanable.dirty.ratio", brokerKey: "log.cleaner.min.cleanable.ratio", engine: true,
		set: func(c *partlog.Config, v string) error {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil || f < 0 || f > 1 {
				return fmt.Errorf("min.cleanable.dirty.ratio: %q is not a number in [0, 1]", v)
			}
			c.MinCleanableDirtyRatio = f
			return nil
		},
		get: func(c partlog.Config) string { return strconv.FormatFloat(c.MinCleanableDirtyRatio, 'g', -1, 64) }},
	{name: "message.timestamp.type", brokerKey: "log.message.timestamp.type", engine: true,
		set: func(c *partlog.Config, v string) error {
			switch v {
			case "CreateTime":
				c.MessageTimestampType = record.CreateTime
			case "LogAppendTime":
				c.MessageTimestampType = record.LogAppendTime
			default:
				return fmt.Errorf("message.timestamp.type: %q is not CreateTime or LogAppendTime", v)
			}
			return nil
		},
		get: func(c partlog.Config) string { return c.MessageTimestampType.String() }},
	storedKey("min.insync.replicas", "min.insync.replicas", "", func(v string) bool { n, err := strconv.Atoi(v); return err == nil && n >= 1 }),
	storedKey("unclean.leader.election.enable", "unclean.leader.election.enable", "", isBool),
	storedKey(durableAcksKey, durableAcksKey, "", isBool),
	storedKey("compression.type", "compression.type", "producer", func(v string) bool {
		return slices.Contains([]string{"producer", "uncompressed", "gzip", "snappy", "lz4", "zstd"}, v)
	}),
	storedKey("min.compaction.lag.ms", "log.cleaner.min.compaction.lag.ms", "0", isInt),
	storedKey("max.compaction.lag.ms", "log.cleaner.max.compaction.lag.ms", "9223372036854775807", isInt),
	storedKey("file.delete.delay.ms", "log.segment.delete.delay.ms", "60000", isInt),
	storedKey("preallocate", "log.preallocate", "false", isBool),
	storedKey("message.downconversion.enable", "log.message.downconversion.enable", "true", isBool),
	storedKey("message.timestamp.difference.max.ms", "log.message.timestamp.difference.max.ms", "9223372036854775807", isInt),
	storedKey("segment.jitter.ms", "log.roll.jitter.ms", "0", isInt),
	storedKey("local.retention.ms", "log.local.retention.ms", "-2", isInt),
	storedKey("local.retention.bytes", "log.local.retention.bytes", "-2", isInt),
	storedKey("remote.storage.enable", "", "false", isBool),
	storedKey("message.format.version", "log.message.format.version", "3.0-IV1", nil),
	storedKey("follower.replication.throttled.replicas", "", "", nil),
	storedKey("leader.replication.throttled.replicas", "", "", nil),
}

func lookupTopicKey(name string) (topicKey, bool) {
	for _, k := range topicKeys {
		if k.name == name {
			return k, true
		}
	}
	return topicKey{}, false
}

// brokerLogConfig is the default partition log config from the broker's
// log.* settings.
func brokerLogConfig(c *config.Config) partlog.Config {
	lc := partlog.DefaultConfig()
	lc.SegmentBytes = int64(c.LogSegmentBytes)
	lc.SegmentMs = c.LogRollMs
	lc.RetentionMs = c.LogRetentionMs
	lc.RetentionBytes = c.LogRetentionBytes
	lc.IndexIntervalBytes = int(c.LogIndexIntervalBytes)
	lc.SegmentIndexBytes = int(c.LogIndexSizeMaxBytes)
	lc.MaxMessageBytes = int(c.MessageMaxBytes)
	lc.FlushMessages = c.LogFlushIntervalMessages
	lc.FlushMs = c.LogFlushIntervalMs
	if c.LogMessageTimestampType == "LogAppendTime" {
		lc.MessageTimestampType = record.LogAppendTime
	}
	if len(c.LogCleanupPolicy) > 0 {
		k, _ := lookupTopicKey("cleanup.policy")
		if err := k.set(&lc, strings.Join(c.LogCleanupPolicy, ",")); err != nil {
			lc.CleanupPolicy = partlog.CleanupDelete
		}
	}
	lc.DeleteRetentionMs = c.LogCleanerDeleteRetentionMs
	lc.MinCleanableDirtyRatio = c.LogCleanerMinCleanableRatio
	return lc
}

// applyTopicConfig returns base with a topic's overrides applied; it fails
// on an unknown key or a bad value, naming it.
func applyTopicConfig(base partlog.Config, overrides map[string]string) (partlog.Config, error) {
	for _, name := range slices.Sorted(maps.Keys(overrides)) {
		k, ok := lookupTopicKey(name)
		if !ok {
			return base, fmt.Errorf("unknown topic config %q", name)
		}
		if err := k.set(&base, overrides[name]); err != nil {
			return base, err
		}
	}
	if err := base.Validate(); err != nil {
		return base, err
	}
	return base, nil
}
