package config

import (
	"errors"
	"math"
	"strconv"
	"strings"
)

// keySpec describes one accepted key.
type keySpec struct {
	name string
	// def is Kafka's default as text; derived keys (def == derived) get
	// theirs from other keys in EnsureDefaults.
	def string
	// set parses v (already trimmed) into the Config; its error is the
	// reason the value is malformed.
	set func(c *Config, v string) error
	// ignored marks keys accepted only so stock files parse.
	ignored bool
}

// derived marks a default computed from other keys by EnsureDefaults.
const derived = "\x00derived"

// maxInt64 and maxInt32 are Kafka's "never/unlimited" defaults as text.
var (
	maxInt64 = strconv.FormatInt(math.MaxInt64, 10)
	maxInt32 = strconv.FormatInt(math.MaxInt32, 10)
)

// specs lists every key Strom accepts, grouped like Kafka's documentation.
var specs = []keySpec{
	// Server basics.
	{name: "broker.id", def: derived, set: i32(func(c *Config) *int32 { return &c.BrokerID })},
	{name: "node.id", def: derived, set: i32(func(c *Config) *int32 { return &c.nodeID })},
	{name: "broker.rack", def: "", set: str(func(c *Config) *string { return &c.BrokerRack })},
	{name: "broker.id.generation.enable", def: "true", set: check(parseBool), ignored: true},
	{name: "reserved.broker.max.id", def: "1000", set: i32(func(c *Config) *int32 { return &c.ReservedBrokerMaxID })},
	{name: "zookeeper.connect", def: "", set: str(func(c *Config) *string { return &c.ZookeeperConnect })},
	{name: "zookeeper.session.timeout.ms", def: "18000", set: i32(func(c *Config) *int32 { return &c.ZookeeperSessionTimeoutMs })},
	{name: "zookeeper.connection.timeout.ms", def: derived, set: i32(func(c *Config) *int32 { return &c.ZookeeperConnectionTimeoutMs })},
	{name: "zookeeper.set.acl", def: "false", set: check(parseBool), ignored: true},
	{name: "zookeeper.max.in.flight.requests", def: "10", set: check(parseI32), ignored: true},
	{name: "process.roles", def: "", set: check(anyString), ignored: true},
	{name: "controller.quorum.voters", def: "", set: check(anyString), ignored: true},
	{name: "controller.listener.names", def: "", set: list(func(c *Config) *[]string { return &c.ControllerListenerNames })},
	{name: "inter.broker.protocol.version", def: "", set: check(anyString), ignored: true},
	{name: "compression.type", def: "producer", set: check(anyString), ignored: true},

	// Socket server.
	{name: "listeners", def: derived, set: listeners(func(c *Config) *[]Listener { return &c.Listeners })},
	{name: "advertised.listeners", def: derived, set: listeners(func(c *Config) *[]Listener { return &c.AdvertisedListeners })},
	{name: "listener.security.protocol.map", def: "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL", set: protocolMap},
	{name: "inter.broker.listener.name", def: "", set: str(func(c *Config) *string { return &c.InterBrokerListenerName })},
	{name: "security.inter.broker.protocol", def: "PLAINTEXT", set: check(anyString), ignored: true},
	{name: "host.name", def: "", set: str(func(c *Config) *string { return &c.legacyHost })},
	{name: "port", def: "9092", set: i32(func(c *Config) *int32 { return &c.legacyPort })},
	{name: "advertised.host.name", def: "", set: str(func(c *Config) *string { return &c.legacyAdvHost })},
	{name: "advertised.port", def: "0", set: i32(func(c *Config) *int32 { return &c.legacyAdvPort })},
	{name: "num.network.threads", def: "3", set: i32(func(c *Config) *int32 { return &c.NumNetworkThreads }), ignored: true},
	{name: "num.io.threads", def: "8", set: i32(func(c *Config) *int32 { return &c.NumIOThreads }), ignored: true},
	{name: "background.threads", def: "10", set: check(parseI32), ignored: true},
	{name: "queued.max.requests", def: "500", set: check(parseI32), ignored: true},
	{name: "queued.max.request.bytes", def: "-1", set: i64(func(c *Config) *int64 { return &c.QueuedMaxRequestBytes })},
	{name: "socket.send.buffer.bytes", def: "102400", set: i32(func(c *Config) *int32 { return &c.SocketSendBufferBytes })},
	{name: "socket.receive.buffer.bytes", def: "102400", set: i32(func(c *Config) *int32 { return &c.SocketReceiveBufferBytes })},
	{name: "socket.request.max.bytes", def: "104857600", set: i32(func(c *Config) *int32 { return &c.SocketRequestMaxBytes })},
	{name: "max.connections", def: maxInt32, set: i32(func(c *Config) *int32 { return &c.MaxConnections })},
	{name: "max.connections.per.ip", def: maxInt32, set: i32(func(c *Config) *int32 { return &c.MaxConnectionsPerIP })},
	{name: "connections.max.idle.ms", def: "600000", set: i64(func(c *Config) *int64 { return &c.ConnectionsMaxIdleMs })},
	{name: "request.timeout.ms", def: "30000", set: check(parseI32), ignored: true},

	// Topics and logs.
	{name: "log.dirs", def: derived, set: list(func(c *Config) *[]string { return &c.LogDirs })},
	{name: "log.dir", def: "/tmp/strom-logs", set: str(func(c *Config) *string { return &c.logDir })},
	{name: "num.partitions", def: "1", set: i32(func(c *Config) *int32 { return &c.NumPartitions })},
	{name: "default.replication.factor", def: "1", set: i16(func(c *Config) *int16 { return &c.DefaultReplicationFactor })},
	{name: "auto.create.topics.enable", def: "true", set: boolean(func(c *Config) *bool { return &c.AutoCreateTopicsEnable })},
	{name: "delete.topic.enable", def: "true", set: boolean(func(c *Config) *bool { return &c.DeleteTopicEnable })},
	{name: "num.recovery.threads.per.data.dir", def: "1", set: check(parseI32), ignored: true},
	{name: "log.retention.hours", def: "168", set: i64(func(c *Config) *int64 { return &c.retentionHours })},
	{name: "log.retention.minutes", def: derived, set: i64(func(c *Config) *int64 { return &c.retentionMinutes })},
	{name: "log.retention.ms", def: derived, set: i64(func(c *Config) *int64 { return &c.LogRetentionMs })},
	{name: "log.retention.bytes", def: "-1", set: i64(func(c *Config) *int64 { return &c.LogRetentionBytes })},
	{name: "log.retention.check.interval.ms", def: "300000", set: i64(func(c *Config) *int64 { return &c.LogRetentionCheckIntervalMs })},
	{name: "log.segment.bytes", def: "1073741824", set: i32(func(c *Config) *int32 { return &c.LogSegmentBytes })},
	{name: "log.segment.delete.delay.ms", def: "60000", set: i64(func(c *Config) *int64 { return &c.LogSegmentDeleteDelayMs })},
	{name: "log.roll.hours", def: "168", set: i64(func(c *Config) *int64 { return &c.rollHours })},
	{name: "log.roll.ms", def: derived, set: i64(func(c *Config) *int64 { return &c.LogRollMs })},
	{name: "log.roll.jitter.hours", def: "0", set: check(parseI32), ignored: true},
	{name: "log.roll.jitter.ms", def: "", set: check(parseI64), ignored: true},
	{name: "log.index.interval.bytes", def: "4096", set: i32(func(c *Config) *int32 { return &c.LogIndexIntervalBytes })},
	{name: "log.index.size.max.bytes", def: "10485760", set: i32(func(c *Config) *int32 { return &c.LogIndexSizeMaxBytes })},
	{name: "log.flush.interval.messages", def: maxInt64, set: i64(func(c *Config) *int64 { return &c.LogFlushIntervalMessages })},
	{name: "log.flush.interval.ms", def: derived, set: i64(func(c *Config) *int64 { return &c.LogFlushIntervalMs })},
	{name: "log.flush.scheduler.interval.ms", def: maxInt64, set: i64(func(c *Config) *int64 { return &c.LogFlushSchedulerIntervalMs })},
	{name: "log.flush.offset.checkpoint.interval.ms", def: "60000", set: i64(func(c *Config) *int64 { return &c.LogFlushOffsetCheckpointIntervalMs })},
	{name: "log.flush.start.offset.checkpoint.interval.ms", def: "60000", set: check(parseI32), ignored: true},
	{name: "log.preallocate", def: "false", set: check(parseBool), ignored: true},
	{name: "log.message.format.version", def: "", set: check(anyString), ignored: true},
	{name: "log.message.timestamp.type", def: "CreateTime", set: str(func(c *Config) *string { return &c.LogMessageTimestampType })},
	{name: "log.message.timestamp.difference.max.ms", def: maxInt64, set: check(parseI64), ignored: true},
	{name: "log.message.downconversion.enable", def: "true", set: check(parseBool), ignored: true},
	{name: "message.max.bytes", def: "1048588", set: i32(func(c *Config) *int32 { return &c.MessageMaxBytes })},

	// Log cleaner.
	{name: "log.cleaner.enable", def: "true", set: boolean(func(c *Config) *bool { return &c.LogCleanerEnable })},
	{name: "log.cleanup.policy", def: "delete", set: list(func(c *Config) *[]string { return &c.LogCleanupPolicy })},
	{name: "log.cleaner.delete.retention.ms", def: "86400000", set: i64(func(c *Config) *int64 { return &c.LogCleanerDeleteRetentionMs })},
	{name: "log.cleaner.min.cleanable.ratio", def: "0.5", set: f64(func(c *Config) *float64 { return &c.LogCleanerMinCleanableRatio })},
	{name: "log.cleaner.min.compaction.lag.ms", def: "0", set: i64(func(c *Config) *int64 { return &c.LogCleanerMinCompactionLagMs })},
	{name: "log.cleaner.backoff.ms", def: "15000", set: i64(func(c *Config) *int64 { return &c.LogCleanerBackoffMs })},
	{name: "log.cleaner.max.compaction.lag.ms", def: maxInt64, set: check(parseI64), ignored: true},
	{name: "log.cleaner.threads", def: "1", set: check(parseI32), ignored: true},
	{name: "log.cleaner.dedupe.buffer.size", def: "134217728", set: check(parseI64), ignored: true},
	{name: "log.cleaner.io.buffer.size", def: "524288", set: check(parseI32), ignored: true},
	{name: "log.cleaner.io.buffer.load.factor", def: "0.9", set: check(parseF64), ignored: true},
	{name: "log.cleaner.io.max.bytes.per.second", def: "1.7976931348623157E308", set: check(parseF64), ignored: true},

	// Replication.
	{name: "min.insync.replicas", def: "1", set: i32(func(c *Config) *int32 { return &c.MinInsyncReplicas })},
	{name: "unclean.leader.election.enable", def: "false", set: boolean(func(c *Config) *bool { return &c.UncleanLeaderElectionEnable })},
	{name: "durable.acks.enable", def: "false", set: boolean(func(c *Config) *bool { return &c.DurableAcksEnable })},
	{name: "replica.lag.time.max.ms", def: "30000", set: i64(func(c *Config) *int64 { return &c.ReplicaLagTimeMaxMs })},
	{name: "replica.fetch.max.bytes", def: "1048576", set: i32(func(c *Config) *int32 { return &c.ReplicaFetchMaxBytes })},
	{name: "replica.fetch.min.bytes", def: "1", set: i32(func(c *Config) *int32 { return &c.ReplicaFetchMinBytes })},
	{name: "replica.fetch.wait.max.ms", def: "500", set: i32(func(c *Config) *int32 { return &c.ReplicaFetchWaitMaxMs })},
	{name: "replica.fetch.backoff.ms", def: "1000", set: i32(func(c *Config) *int32 { return &c.ReplicaFetchBackoffMs })},
	{name: "replica.high.watermark.checkpoint.interval.ms", def: "5000", set: i64(func(c *Config) *int64 { return &c.ReplicaHighWatermarkCheckpointIntervalMs })},
	{name: "replica.socket.timeout.ms", def: "30000", set: check(parseI32), ignored: true},
	{name: "replica.socket.receive.buffer.bytes", def: "65536", set: check(parseI32), ignored: true},
	{name: "num.replica.fetchers", def: "1", set: i32(func(c *Config) *int32 { return &c.NumReplicaFetchers })},
	{name: "max.incremental.fetch.session.cache.slots", def: "1000", set: i32(func(c *Config) *int32 { return &c.MaxIncrementalFetchSessionCacheSlots })},
	{name: "min.incremental.fetch.session.eviction.ms", def: "120000", set: i64(func(c *Config) *int64 { return &c.MinIncrementalFetchSessionEvictionMs })},
	{name: "num.replica.alter.log.dirs.threads", def: "", set: check(parseI32), ignored: true},
	{name: "auto.leader.rebalance.enable", def: "true", set: boolean(func(c *Config) *bool { return &c.AutoLeaderRebalanceEnable })},
	{name: "leader.imbalance.per.broker.percentage", def: "10", set: i32(func(c *Config) *int32 { return &c.LeaderImbalancePerBrokerPercentage })},
	{name: "leader.imbalance.check.interval.seconds", def: "300", set: i64(func(c *Config) *int64 { return &c.LeaderImbalanceCheckIntervalSeconds })},
	{name: "controlled.shutdown.enable", def: "true", set: boolean(func(c *Config) *bool { return &c.ControlledShutdownEnable })},
	{name: "controlled.shutdown.max.retries", def: "3", set: i32(func(c *Config) *int32 { return &c.ControlledShutdownMaxRetries })},
	{name: "controlled.shutdown.retry.backoff.ms", def: "5000", set: i64(func(c *Config) *int64 { return &c.ControlledShutdownRetryBackoffMs })},
	{name: "fetch.purgatory.purge.interval.requests", def: "1000", set: check(parseI32), ignored: true},
	{name: "producer.purgatory.purge.interval.requests", def: "1000", set: check(parseI32), ignored: true},
	{name: "delete.records.purgatory.purge.interval.requests", def: "1", set: check(parseI32), ignored: true},

	// Group coordinator and offsets.
	{name: "offsets.topic.num.partitions", def: "50", set: i32(func(c *Config) *int32 { return &c.OffsetsTopicNumPartitions })},
	{name: "offsets.topic.replication.factor", def: derived, set: i16(func(c *Config) *int16 { return &c.OffsetsTopicReplicationFactor })},
	{name: "offsets.topic.segment.bytes", def: "104857600", set: i32(func(c *Config) *int32 { return &c.OffsetsTopicSegmentBytes })},
	{name: "offsets.topic.compression.codec", def: "0", set: check(parseI32), ignored: true},
	{name: "offsets.retention.minutes", def: "10080", set: i32(func(c *Config) *int32 { return &c.OffsetsRetentionMinutes })},
	{name: "offsets.retention.check.interval.ms", def: "600000", set: i64(func(c *Config) *int64 { return &c.OffsetsRetentionCheckIntervalMs })},
	{name: "offsets.commit.timeout.ms", def: "5000", set: i32(func(c *Config) *int32 { return &c.OffsetsCommitTimeoutMs })},
	{name: "offsets.commit.required.acks", def: "-1", set: check(parseI32), ignored: true},
	{name: "offsets.load.buffer.size", def: "5242880", set: check(parseI32), ignored: true},
	{name: "group.initial.rebalance.delay.ms", def: "3000", set: i32(func(c *Config) *int32 { return &c.GroupInitialRebalanceDelayMs })},
	{name: "group.min.session.timeout.ms", def: "6000", set: i32(func(c *Config) *int32 { return &c.GroupMinSessionTimeoutMs })},
	{name: "group.max.session.timeout.ms", def: "1800000", set: i32(func(c *Config) *int32 { return &c.GroupMaxSessionTimeoutMs })},
	{name: "group.max.size", def: maxInt32, set: check(parseI32), ignored: true},

	// Transactions (accepted; Strom has no transaction coordinator).
	{name: "transaction.state.log.replication.factor", def: derived, set: i16(func(c *Config) *int16 { return &c.TransactionStateLogReplicationFactor }), ignored: true},
	{name: "transaction.state.log.min.isr", def: derived, set: i32(func(c *Config) *int32 { return &c.TransactionStateLogMinISR }), ignored: true},
	{name: "transaction.state.log.num.partitions", def: "50", set: i32(func(c *Config) *int32 { return &c.TransactionStateLogNumPartitions }), ignored: true},
	{name: "transaction.state.log.segment.bytes", def: "104857600", set: check(parseI32), ignored: true},
	{name: "transaction.state.log.load.buffer.size", def: "5242880", set: check(parseI32), ignored: true},
	{name: "transaction.max.timeout.ms", def: "900000", set: check(parseI32), ignored: true},
	{name: "transactional.id.expiration.ms", def: "604800000", set: check(parseI32), ignored: true},

	// Metrics (accepted; Strom exports its own).
	{name: "metric.reporters", def: "", set: check(anyString), ignored: true},
	{name: "metrics.num.samples", def: "2", set: check(parseI32), ignored: true},
	{name: "metrics.sample.window.ms", def: "30000", set: check(parseI64), ignored: true},
	{name: "metrics.recording.level", def: "INFO", set: check(anyString), ignored: true},
}

// specByName indexes specs; read-only after package initialisation.
var specByName = func() map[string]*keySpec {
	m := make(map[string]*keySpec, len(specs))
	for i := range specs {
		m[specs[i].name] = &specs[i]
	}
	return m
}()

// Setter builders: each parses a trimmed value into one field.

// field returns a setter that parses with parse and stores into f(c).
func field[T any](parse func(string) (T, error), f func(*Config) *T) func(*Config, string) error {
	return func(c *Config, v string) error {
		x, err := parse(v)
		if err != nil {
			return err
		}
		*f(c) = x
		return nil
	}
}

func i16(f func(*Config) *int16) func(*Config, string) error { return field(parseI16, f) }
func i32(f func(*Config) *int32) func(*Config, string) error { return field(parseI32, f) }
func i64(f func(*Config) *int64) func(*Config, string) error { return field(parseI64, f) }
func f64(f func(*Config) *float64) func(*Config, string) error {
	return field(parseF64, f)
}
func boolean(f func(*Config) *bool) func(*Config, string) error { return field(parseBool, f) }

func str(f func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error { *f(c) = v; return nil }
}

func list(f func(*Config) *[]string) func(*Config, string) error {
	return func(c *Config, v string) error { *f(c) = splitList(v); return nil }
}

func listeners(f func(*Config) *[]Listener) func(*Config, string) error {
	return field(parseListeners, f)
}

// protocolMap parses "NAME:PROTOCOL,...".
func protocolMap(c *Config, v string) error {
	m := map[string]string{}
	for _, item := range splitList(v) {
		name, proto, ok := strings.Cut(item, ":")
		if !ok || strings.TrimSpace(name) == "" || strings.TrimSpace(proto) == "" {
			return errors.New("entries must be NAME:PROTOCOL")
		}
		m[strings.ToUpper(strings.TrimSpace(name))] = strings.ToUpper(strings.TrimSpace(proto))
	}
	c.ListenerSecurityProtocolMap = m
	return nil
}

// check type-checks an ignored key's value without storing it.
func check[T any](parse func(string) (T, error)) func(*Config, string) error {
	return func(_ *Config, v string) error { _, err := parse(v); return err }
}

func anyString(v string) (string, error) { return v, nil }

func parseI16(v string) (int16, error) {
	n, err := strconv.ParseInt(v, 10, 16)
	if err != nil {
		return 0, errNotInt(err, "a 16-bit integer")
	}
	return int16(n), nil
}

func parseI32(v string) (int32, error) {
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return 0, errNotInt(err, "a 32-bit integer")
	}
	return int32(n), nil
}

func parseI64(v string) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, errNotInt(err, "a 64-bit integer")
	}
	return n, nil
}

func parseF64(v string) (float64, error) {
	n, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return 0, errors.New("not a number")
	}
	return n, nil
}

// parseBool accepts Kafka's spellings: true/false, case-insensitive.
func parseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, errors.New("not true or false")
}

func errNotInt(err error, what string) error {
	if errors.Is(err, strconv.ErrRange) {
		return errors.New("out of range for " + what)
	}
	return errors.New("not " + what)
}

// KeyInfo describes one accepted key, for documentation and for the
// broker's DescribeConfigs.
type KeyInfo struct {
	// Name is Kafka's key name.
	Name string
	// Default is Kafka's default as text, or a description in parentheses
	// when it is derived from other keys.
	Default string
	// Ignored is true for keys accepted only so Kafka's files parse.
	Ignored bool
}

// derivedDefaults describes the defaults EnsureDefaults computes.
var derivedDefaults = map[string]string{
	"broker.id":                                "(0 embedded; -1 = auto with ZooKeeper)",
	"node.id":                                  "(= broker.id)",
	"zookeeper.connection.timeout.ms":          "(= zookeeper.session.timeout.ms)",
	"listeners":                                "PLAINTEXT://:9092 (or from host.name/port)",
	"advertised.listeners":                     "(= listeners)",
	"log.dirs":                                 "(= log.dir)",
	"log.retention.minutes":                    "(from log.retention.hours)",
	"log.retention.ms":                         "(from minutes, else hours)",
	"log.roll.ms":                              "(from log.roll.hours)",
	"log.flush.interval.ms":                    "(= log.flush.scheduler.interval.ms)",
	"offsets.topic.replication.factor":         "(1 embedded; 3 with ZooKeeper)",
	"transaction.state.log.replication.factor": "(1 embedded; 3 with ZooKeeper)",
	"transaction.state.log.min.isr":            "(1 embedded; 2 with ZooKeeper)",
}

// Keys lists every accepted key in documentation order.
func Keys() []KeyInfo {
	out := make([]KeyInfo, len(specs))
	for i, s := range specs {
		def := s.def
		if def == derived {
			def = derivedDefaults[s.name]
		}
		out[i] = KeyInfo{Name: s.name, Default: def, Ignored: s.ignored}
	}
	return out
}
