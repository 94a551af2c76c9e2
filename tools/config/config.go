// Package config is the broker's configuration: Kafka's server.properties
// keys, parsed, overridden, defaulted and validated in four separate steps.
//
//	cfg, err := config.ParseFile("config/server.properties") // only keys in the file
//	err = cfg.ApplyOverrides([]string{"broker.id=2"})         // --override k=v, on top
//	cfg.EnsureDefaults()                                       // Kafka's default for every unset key
//	err = cfg.Validate()                                       // every violation at once
//
// Load does all four. Keys use Kafka's names and Kafka's defaults (see the
// table in keys.go and tools/README.md); an unknown key is an error naming
// the key with a "did you mean" suggestion, a malformed value is an error
// naming key and value.
//
// Invariants:
//   - After EnsureDefaults every field holds either the value set from a
//     file/override or Kafka's default; derived keys are resolved (retention
//     ms > minutes > hours, roll ms > hours, log.dirs > log.dir, advertised
//     listeners default to listeners, legacy host.name/port build listeners).
//   - Validate never changes the Config; EnsureDefaults never reports errors.
//   - Times are int64/int32 milliseconds named like Kafka's keys; -1 means
//     "unlimited" where Kafka says so (retention), and math.MaxInt64 means
//     "never" for the flush intervals, as in Kafka.
//
// A Config is not safe for concurrent mutation; once validated it is read-only.
package config

import (
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
)

// Listener is one entry of listeners / advertised.listeners:
// NAME://host:port.
type Listener struct {
	// Name is the listener name (PLAINTEXT unless renamed via
	// listener.security.protocol.map).
	Name string
	// SecurityProtocol is resolved from listener.security.protocol.map by
	// EnsureDefaults; Strom serves PLAINTEXT only.
	SecurityProtocol string
	// Host is the host to bind or advertise; "" binds every interface (and,
	// advertised, means the broker substitutes its host name).
	Host string
	// Port is the TCP port; 0 binds an ephemeral port.
	Port int
}

// Addr is host:port, suitable for net.Listen.
func (l Listener) Addr() string { return net.JoinHostPort(l.Host, strconv.Itoa(l.Port)) }

// String is the listener as written in server.properties.
func (l Listener) String() string { return l.Name + "://" + l.Addr() }

// Config is the broker configuration. Field comments name the Kafka key.
type Config struct {
	// BrokerID is broker.id; -1 asks for an automatically assigned id.
	// Default: 0 in embedded mode (no zookeeper.connect), -1 otherwise.
	// node.id (KRaft files) is accepted as an alias.
	BrokerID int32
	// BrokerRack is broker.rack.
	BrokerRack string

	// Listeners is listeners (default PLAINTEXT://:9092).
	Listeners []Listener
	// AdvertisedListeners is advertised.listeners (default: Listeners).
	AdvertisedListeners []Listener
	// ListenerSecurityProtocolMap is listener.security.protocol.map,
	// listener name -> security protocol.
	ListenerSecurityProtocolMap map[string]string
	// ControllerListenerNames is controller.listener.names (KRaft files):
	// listeners with these names are dropped from Listeners, since Strom
	// has no KRaft controller.
	ControllerListenerNames []string
	// InterBrokerListenerName is inter.broker.listener.name ("" = the first
	// listener).
	InterBrokerListenerName string

	// LogDirs is log.dirs, falling back to log.dir (default /tmp/strom-logs).
	LogDirs []string
	// NumPartitions is num.partitions.
	NumPartitions int32
	// DefaultReplicationFactor is default.replication.factor.
	DefaultReplicationFactor int16
	// AutoCreateTopicsEnable is auto.create.topics.enable.
	AutoCreateTopicsEnable bool
	// DeleteTopicEnable is delete.topic.enable.
	DeleteTopicEnable bool

	// LogRetentionMs is the resolved retention time: log.retention.ms, else
	// log.retention.minutes, else log.retention.hours; -1 = forever.
	LogRetentionMs int64
	// LogRetentionBytes is log.retention.bytes; -1 = unlimited.
	LogRetentionBytes int64
	// LogSegmentBytes is log.segment.bytes.
	LogSegmentBytes int32
	// LogSegmentDeleteDelayMs is log.segment.delete.delay.ms.
	LogSegmentDeleteDelayMs int64
	// LogRollMs is the resolved log.roll.ms, else log.roll.hours.
	LogRollMs int64
	// LogIndexIntervalBytes is log.index.interval.bytes.
	LogIndexIntervalBytes int32
	// LogIndexSizeMaxBytes is log.index.size.max.bytes.
	LogIndexSizeMaxBytes int32
	// LogFlushIntervalMessages is log.flush.interval.messages
	// (math.MaxInt64 = never fsync by count).
	LogFlushIntervalMessages int64
	// LogFlushIntervalMs is log.flush.interval.ms, defaulting to
	// log.flush.scheduler.interval.ms (math.MaxInt64 = never).
	LogFlushIntervalMs int64
	// LogFlushSchedulerIntervalMs is log.flush.scheduler.interval.ms.
	LogFlushSchedulerIntervalMs int64
	// LogFlushOffsetCheckpointIntervalMs is
	// log.flush.offset.checkpoint.interval.ms.
	LogFlushOffsetCheckpointIntervalMs int64
	// LogRetentionCheckIntervalMs is log.retention.check.interval.ms.
	LogRetentionCheckIntervalMs int64
	// LogCleanerEnable is log.cleaner.enable.
	LogCleanerEnable bool
	// LogCleanupPolicy is log.cleanup.policy: "delete" and/or "compact".
	LogCleanupPolicy []string
	// LogCleanerDeleteRetentionMs is log.cleaner.delete.retention.ms.
	LogCleanerDeleteRetentionMs int64
	// LogCleanerMinCleanableRatio is log.cleaner.min.cleanable.ratio.
	LogCleanerMinCleanableRatio float64
	// LogCleanerMinCompactionLagMs is log.cleaner.min.compaction.lag.ms.
	LogCleanerMinCompactionLagMs int64
	// LogCleanerBackoffMs is log.cleaner.backoff.ms.
	LogCleanerBackoffMs int64
	// LogMessageTimestampType is log.message.timestamp.type: CreateTime or
	// LogAppendTime.
	LogMessageTimestampType string
	// MessageMaxBytes is message.max.bytes (largest record batch).
	MessageMaxBytes int32

	// SocketRequestMaxBytes is socket.request.max.bytes.
	SocketRequestMaxBytes int32
	// QueuedMaxRequestBytes is queued.max.request.bytes: request bytes read
	// and not yet handled, over all connections; -1 (the default, as in
	// Kafka) is unbounded.
	QueuedMaxRequestBytes int64
	// MaxConnections is max.connections.
	MaxConnections int32
	// MaxConnectionsPerIP is max.connections.per.ip.
	MaxConnectionsPerIP int32
	// ConnectionsMaxIdleMs is connections.max.idle.ms.
	ConnectionsMaxIdleMs int64
	// NumNetworkThreads is num.network.threads (accepted, ignored: Strom
	// runs a goroutine per connection).
	NumNetworkThreads int32
	// NumIOThreads is num.io.threads (accepted, ignored).
	NumIOThreads int32
	// SocketSendBufferBytes is socket.send.buffer.bytes (-1 = OS default).
	SocketSendBufferBytes int32
	// SocketReceiveBufferBytes is socket.receive.buffer.bytes (-1 = OS
	// default).
	SocketReceiveBufferBytes int32

	// ZookeeperConnect is zookeeper.connect; "" = embedded single-node mode.
	ZookeeperConnect string
	// ZookeeperSessionTimeoutMs is zookeeper.session.timeout.ms.
	ZookeeperSessionTimeoutMs int32
	// ZookeeperConnectionTimeoutMs is zookeeper.connection.timeout.ms
	// (default: the session timeout).
	ZookeeperConnectionTimeoutMs int32
	// ReservedBrokerMaxID is reserved.broker.max.id: generated broker ids
	// (broker.id=-1 with ZooKeeper) start above it.
	ReservedBrokerMaxID int32

	// MinInsyncReplicas is min.insync.replicas.
	MinInsyncReplicas int32
	// UncleanLeaderElectionEnable is unclean.leader.election.enable.
	UncleanLeaderElectionEnable bool
	// DurableAcksEnable is durable.acks.enable (Strom's, not Kafka's): the
	// high watermark, and so every acks=all acknowledgement, covers only
	// records fsynced on every in-sync replica (replication/durable.go).
	DurableAcksEnable bool
	// AutoLeaderRebalanceEnable is auto.leader.rebalance.enable: the
	// controller moves leadership back to preferred replicas every
	// LeaderImbalanceCheckIntervalSeconds when a broker's share of
	// partitions led elsewhere passes LeaderImbalancePerBrokerPercentage.
	AutoLeaderRebalanceEnable           bool
	LeaderImbalancePerBrokerPercentage  int32
	LeaderImbalanceCheckIntervalSeconds int64
	// ControlledShutdownEnable is controlled.shutdown.enable: on an
	// orderly stop a cluster broker asks the controller to move its
	// leaderships away first (ControlledShutdown), trying
	// ControlledShutdownMaxRetries times, ControlledShutdownRetryBackoffMs
	// apart, while it still leads partitions.
	ControlledShutdownEnable         bool
	ControlledShutdownMaxRetries     int32
	ControlledShutdownRetryBackoffMs int64
	// ReplicaLagTimeMaxMs is replica.lag.time.max.ms.
	ReplicaLagTimeMaxMs int64
	// ReplicaFetchMaxBytes is replica.fetch.max.bytes.
	ReplicaFetchMaxBytes int32
	// ReplicaFetchMinBytes is replica.fetch.min.bytes.
	ReplicaFetchMinBytes int32
	// ReplicaFetchWaitMaxMs is replica.fetch.wait.max.ms.
	ReplicaFetchWaitMaxMs int32
	// ReplicaFetchBackoffMs is replica.fetch.backoff.ms.
	ReplicaFetchBackoffMs int32
	// NumReplicaFetchers is num.replica.fetchers: fetchers per leader
	// broker.
	NumReplicaFetchers int32
	// MaxIncrementalFetchSessionCacheSlots is
	// max.incremental.fetch.session.cache.slots: how many fetch sessions
	// (KIP-227) the broker keeps.
	MaxIncrementalFetchSessionCacheSlots int32
	// MinIncrementalFetchSessionEvictionMs is
	// min.incremental.fetch.session.eviction.ms: how long a session is
	// safe from eviction by bigger ones, and after how long unused it is
	// stale.
	MinIncrementalFetchSessionEvictionMs int64
	// ReplicaHighWatermarkCheckpointIntervalMs is
	// replica.high.watermark.checkpoint.interval.ms.
	ReplicaHighWatermarkCheckpointIntervalMs int64

	// OffsetsTopicNumPartitions is offsets.topic.num.partitions.
	OffsetsTopicNumPartitions int32
	// OffsetsTopicReplicationFactor is offsets.topic.replication.factor
	// (default 3 with ZooKeeper, 1 in embedded mode).
	OffsetsTopicReplicationFactor int16
	// OffsetsTopicSegmentBytes is offsets.topic.segment.bytes.
	OffsetsTopicSegmentBytes int32
	// OffsetsRetentionMinutes is offsets.retention.minutes.
	OffsetsRetentionMinutes int32
	// OffsetsRetentionCheckIntervalMs is offsets.retention.check.interval.ms.
	OffsetsRetentionCheckIntervalMs int64
	// OffsetsCommitTimeoutMs is offsets.commit.timeout.ms.
	OffsetsCommitTimeoutMs int32
	// GroupInitialRebalanceDelayMs is group.initial.rebalance.delay.ms.
	GroupInitialRebalanceDelayMs int32
	// GroupMinSessionTimeoutMs is group.min.session.timeout.ms.
	GroupMinSessionTimeoutMs int32
	// GroupMaxSessionTimeoutMs is group.max.session.timeout.ms.
	GroupMaxSessionTimeoutMs int32

	// TransactionStateLogReplicationFactor is
	// transaction.state.log.replication.factor (accepted; no transactions).
	TransactionStateLogReplicationFactor int16
	// TransactionStateLogMinISR is transaction.state.log.min.isr (accepted).
	TransactionStateLogMinISR int32
	// TransactionStateLogNumPartitions is transaction.state.log.num.partitions
	// (accepted).
	TransactionStateLogNumPartitions int32

	// raw holds the text of every key set so far (file, override, or, after
	// EnsureDefaults, default/derived); explicit marks keys set by the user.
	raw      map[string]string
	explicit map[string]bool

	// Inputs to derived keys, resolved by EnsureDefaults.
	retentionHours, retentionMinutes int64
	rollHours                        int64
	logDir                           string
	nodeID                           int32
	legacyHost                       string
	legacyPort                       int32
	legacyAdvHost                    string
	legacyAdvPort                    int32
}

// New returns an empty Config (nothing set, no defaults yet).
func New() *Config {
	return &Config{raw: map[string]string{}, explicit: map[string]bool{}}
}

// Default returns a Config holding Kafka's defaults for every key.
func Default() *Config {
	c := New()
	c.EnsureDefaults()
	return c
}

// IsSet reports whether key was set by a file or an override.
func (c *Config) IsSet(key string) bool { return c.explicit[key] }

// Values returns the text of every key known so far (after EnsureDefaults:
// every key), e.g. for DescribeConfigs. The map is a copy.
func (c *Config) Values() map[string]string {
	out := make(map[string]string, len(c.raw))
	for k, v := range c.raw {
		out[k] = v
	}
	return out
}

// Ignored reports the keys set explicitly that Strom accepts but does not
// act on, sorted; the server logs them once at start.
func (c *Config) Ignored() []string {
	var out []string
	for k := range c.explicit {
		if s, ok := specByName[k]; ok && s.ignored {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// Embedded reports whether the broker runs without ZooKeeper.
func (c *Config) Embedded() bool { return strings.TrimSpace(c.ZookeeperConnect) == "" }

// parseListeners parses "NAME://host:port,..." (protocol resolved later).
func parseListeners(v string) ([]Listener, error) {
	var out []Listener
	for _, item := range splitList(v) {
		name, hostport, ok := strings.Cut(item, "://")
		if !ok || name == "" {
			return nil, fmt.Errorf("listener %q is not NAME://host:port", item)
		}
		host, portText, err := net.SplitHostPort(hostport)
		if err != nil {
			return nil, fmt.Errorf("listener %q: %v", item, err)
		}
		port, err := strconv.Atoi(portText)
		if err != nil || port < 0 || port > 65535 {
			return nil, fmt.Errorf("listener %q: port %q is not 0-65535", item, portText)
		}
		out = append(out, Listener{Name: strings.ToUpper(name), Host: host, Port: port})
	}
	return out, nil
}

// splitList splits a comma list, trimming items and dropping empty ones.
func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
