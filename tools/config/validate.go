package config

import (
	"fmt"
	"strconv"
)

// Validate checks every constraint and returns a *ValidationError listing
// all violations (each a *KeyError wrapping ErrInvalid), or nil. It reads
// the Config only; call EnsureDefaults first so unset keys hold defaults.
func (c *Config) Validate() error {
	v := &validator{c: c}
	v.atLeast("broker.id", int64(c.BrokerID), -1)
	if c.explicit["broker.id"] && c.explicit["node.id"] && c.BrokerID != c.nodeID {
		v.fail("node.id", c.raw["node.id"], fmt.Sprintf("differs from broker.id %d", c.BrokerID))
	}
	v.listeners("listeners", c.Listeners, true)
	v.listeners("advertised.listeners", c.AdvertisedListeners, false)
	if c.InterBrokerListenerName != "" && !hasListener(c.Listeners, c.InterBrokerListenerName) {
		v.fail("inter.broker.listener.name", c.InterBrokerListenerName, "not the name of a listener")
	}
	if len(c.LogDirs) == 0 {
		v.fail("log.dirs", c.raw["log.dirs"], "at least one directory is required")
	}
	seen := map[string]bool{}
	for _, d := range c.LogDirs {
		if seen[d] {
			v.fail("log.dirs", c.raw["log.dirs"], fmt.Sprintf("directory %q listed twice", d))
		}
		seen[d] = true
	}
	v.atLeast("num.partitions", int64(c.NumPartitions), 1)
	v.atLeast("default.replication.factor", int64(c.DefaultReplicationFactor), 1)
	v.atLeast("log.retention.bytes", c.LogRetentionBytes, -1)
	v.atLeast("log.retention.check.interval.ms", c.LogRetentionCheckIntervalMs, 1)
	v.atLeast("log.segment.bytes", int64(c.LogSegmentBytes), 14)
	v.atLeast("log.segment.delete.delay.ms", c.LogSegmentDeleteDelayMs, 0)
	v.atLeast("log.roll.ms", c.LogRollMs, 1)
	v.atLeast("log.roll.hours", c.rollHours, 1)
	v.atLeast("log.index.interval.bytes", int64(c.LogIndexIntervalBytes), 0)
	v.atLeast("log.index.size.max.bytes", int64(c.LogIndexSizeMaxBytes), 4)
	v.atLeast("log.flush.interval.messages", c.LogFlushIntervalMessages, 1)
	v.atLeast("log.flush.interval.ms", c.LogFlushIntervalMs, 0)
	v.atLeast("log.flush.scheduler.interval.ms", c.LogFlushSchedulerIntervalMs, 0)
	v.atLeast("log.flush.offset.checkpoint.interval.ms", c.LogFlushOffsetCheckpointIntervalMs, 0)
	if len(c.LogCleanupPolicy) == 0 {
		v.fail("log.cleanup.policy", c.raw["log.cleanup.policy"], "want delete, compact or both")
	}
	for _, p := range c.LogCleanupPolicy {
		if p != "delete" && p != "compact" {
			v.fail("log.cleanup.policy", c.raw["log.cleanup.policy"], fmt.Sprintf("unknown policy %q (want delete or compact)", p))
		}
	}
	v.atLeast("log.cleaner.delete.retention.ms", c.LogCleanerDeleteRetentionMs, 0)
	if r := c.LogCleanerMinCleanableRatio; r < 0 || r > 1 {
		v.fail("log.cleaner.min.cleanable.ratio", c.raw["log.cleaner.min.cleanable.ratio"], "must be between 0 and 1")
	}
	v.atLeast("log.cleaner.min.compaction.lag.ms", c.LogCleanerMinCompactionLagMs, 0)
	v.atLeast("log.cleaner.backoff.ms", c.LogCleanerBackoffMs, 0)
	if t := c.LogMessageTimestampType; t != "CreateTime" && t != "LogAppendTime" {
		v.fail("log.message.timestamp.type", t, "want CreateTime or LogAppendTime")
	}
	v.atLeast("message.max.bytes", int64(c.MessageMaxBytes), 0)
	v.atLeast("socket.request.max.bytes", int64(c.SocketRequestMaxBytes), 1)
	if c.QueuedMaxRequestBytes == 0 || c.QueuedMaxRequestBytes < -1 {
		v.fail("queued.max.request.bytes", c.raw["queued.max.request.bytes"], "must be positive, or -1 for unbounded")
	}
	v.atLeast("max.connections", int64(c.MaxConnections), 0)
	v.atLeast("max.connections.per.ip", int64(c.MaxConnectionsPerIP), 0)
	v.atLeast("connections.max.idle.ms", c.ConnectionsMaxIdleMs, -1)
	if !c.Embedded() {
		v.atLeast("zookeeper.session.timeout.ms", int64(c.ZookeeperSessionTimeoutMs), 1)
		v.atLeast("zookeeper.connection.timeout.ms", int64(c.ZookeeperConnectionTimeoutMs), 1)
	}
	v.atLeast("min.insync.replicas", int64(c.MinInsyncReplicas), 1)
	v.atLeast("replica.lag.time.max.ms", c.ReplicaLagTimeMaxMs, 1)
	v.atLeast("leader.imbalance.check.interval.seconds", c.LeaderImbalanceCheckIntervalSeconds, 1)
	v.atLeast("leader.imbalance.per.broker.percentage", int64(c.LeaderImbalancePerBrokerPercentage), 0)
	v.atLeast("replica.fetch.max.bytes", int64(c.ReplicaFetchMaxBytes), 0)
	v.atLeast("replica.fetch.min.bytes", int64(c.ReplicaFetchMinBytes), 0)
	v.atLeast("replica.fetch.wait.max.ms", int64(c.ReplicaFetchWaitMaxMs), 0)
	v.atLeast("num.replica.fetchers", int64(c.NumReplicaFetchers), 1)
	v.atLeast("max.incremental.fetch.session.cache.slots", int64(c.MaxIncrementalFetchSessionCacheSlots), 0)
	v.atLeast("min.incremental.fetch.session.eviction.ms", int64(c.MinIncrementalFetchSessionEvictionMs), 0)
	if c.ReplicaFetchWaitMaxMs >= 0 && int64(c.ReplicaFetchWaitMaxMs) > c.ReplicaLagTimeMaxMs {
		v.fail("replica.fetch.wait.max.ms", c.raw["replica.fetch.wait.max.ms"], "must not exceed replica.lag.time.max.ms")
	}
	v.atLeast("offsets.topic.num.partitions", int64(c.OffsetsTopicNumPartitions), 1)
	v.atLeast("offsets.topic.replication.factor", int64(c.OffsetsTopicReplicationFactor), 1)
	v.atLeast("offsets.topic.segment.bytes", int64(c.OffsetsTopicSegmentBytes), 1)
	v.atLeast("offsets.retention.minutes", int64(c.OffsetsRetentionMinutes), 1)
	v.atLeast("offsets.retention.check.interval.ms", c.OffsetsRetentionCheckIntervalMs, 1)
	v.atLeast("offsets.commit.timeout.ms", int64(c.OffsetsCommitTimeoutMs), 1)
	v.atLeast("group.initial.rebalance.delay.ms", int64(c.GroupInitialRebalanceDelayMs), 0)
	v.atLeast("group.min.session.timeout.ms", int64(c.GroupMinSessionTimeoutMs), 0)
	if c.GroupMaxSessionTimeoutMs < c.GroupMinSessionTimeoutMs {
		v.fail("group.max.session.timeout.ms", c.raw["group.max.session.timeout.ms"], "less than group.min.session.timeout.ms")
	}
	if len(v.problems) == 0 {
		return nil
	}
	return &ValidationError{Problems: v.problems}
}

// validator collects violations.
type validator struct {
	c        *Config
	problems []*KeyError
}

func (v *validator) fail(key, value, reason string) {
	v.problems = append(v.problems, &KeyError{Key: key, Value: value, Reason: reason, Err: ErrInvalid})
}

func (v *validator) atLeast(key string, got, lo int64) {
	if got < lo {
		v.fail(key, strconv.FormatInt(got, 10), fmt.Sprintf("must be at least %d", lo))
	}
}

func (v *validator) listeners(key string, ls []Listener, bind bool) {
	if len(ls) == 0 {
		v.fail(key, v.c.raw[key], "at least one listener is required")
	}
	names, addrs := map[string]bool{}, map[string]bool{}
	for _, l := range ls {
		if bind && l.Port != 0 && addrs[l.Addr()] {
			v.fail(key, l.String(), fmt.Sprintf("address %s used by two listeners", l.Addr()))
		}
		addrs[l.Addr()] = true
		switch {
		case l.SecurityProtocol == "":
			v.fail(key, l.String(), fmt.Sprintf("listener name %s is not in listener.security.protocol.map", l.Name))
		case l.SecurityProtocol != "PLAINTEXT":
			v.fail(key, l.String(), fmt.Sprintf("security protocol %s is not supported (PLAINTEXT only)", l.SecurityProtocol))
		}
		if names[l.Name] {
			v.fail(key, l.String(), fmt.Sprintf("listener name %s used twice", l.Name))
		}
		names[l.Name] = true
		// Derived from listeners, port 0 means "the port actually bound".
		if !bind && l.Port == 0 && v.c.explicit[key] {
			v.fail(key, l.String(), "an advertised listener needs a port")
		}
	}
}

func hasListener(ls []Listener, name string) bool {
	for _, l := range ls {
		if l.Name == name {
			return true
		}
	}
	return false
}
