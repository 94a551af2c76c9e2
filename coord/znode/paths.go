// Package znode is Kafka's ZooKeeper layout: the znode paths and the JSON
// each znode holds, byte-for-byte in the format Kafka (2.7 - 3.x, ZooKeeper
// mode) writes, so a Strom cluster's ZooKeeper can be read with Kafka's
// tools and vice versa. The ZooKeeper Store maps onto these directly; the
// embedded store persists the same encodings in its metadata file.
//
// Decoders accept every version Kafka has written (broker registrations v1-v5,
// topic assignments v1-v2) and ignore unknown fields; failures wrap
// store.ErrCorrupt.
//
// The paths and JSON field names are part of Kafka's on-ZooKeeper format and
// must not be changed.
package znode

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/strom-broker/strom/coord/store"
)

// Fixed paths.
const (
	ClusterIDPath       = "/cluster/id"
	BrokerIDsPath       = "/brokers/ids"
	TopicsPath          = "/brokers/topics"
	ControllerPath      = "/controller"
	ControllerEpochPath = "/controller_epoch"
	TopicConfigsPath    = "/config/topics"
	DeleteTopicsPath    = "/admin/delete_topics"
	ProducerIDBlockPath = "/latest_producer_id_block"
	BrokerSeqIDPath     = "/brokers/seqid"
	ConfigChangesPath   = "/config/changes"
	// PreferredReplicaElectionPath asks the controller for preferred
	// leader elections (Kafka's kafka-preferred-replica-election.sh
	// --zookeeper); the controller deletes it once done.
	PreferredReplicaElectionPath = "/admin/preferred_replica_election"
	// ReassignPartitionsPath asks the controller for partition
	// reassignments (Kafka's kafka-reassign-partitions.sh --zookeeper, and
	// any ZooKeeper client); the controller drops each partition from it
	// once its reassignment completes, and the znode when it is empty.
	ReassignPartitionsPath = "/admin/reassign_partitions"
)

// PersistentPaths are the znodes every Kafka broker creates at startup
// (Kafka's ZkData.PersistentZkPaths, with /cluster for /cluster/id), parents
// before children. Kafka's tools expect them.
var PersistentPaths = []string{
	"/consumers",
	"/brokers", BrokerIDsPath, TopicsPath, BrokerSeqIDPath,
	"/config", ConfigChangesPath, TopicConfigsPath,
	"/config/clients", "/config/users", "/config/brokers", "/config/ips",
	"/admin", DeleteTopicsPath,
	"/isr_change_notification", ProducerIDBlockPath, "/log_dir_event_notification",
	"/cluster",
}

// BrokerPath is /brokers/ids/<id>.
func BrokerPath(id int32) string { return BrokerIDsPath + "/" + strconv.Itoa(int(id)) }

// TopicPath is /brokers/topics/<topic>.
func TopicPath(topic string) string { return TopicsPath + "/" + topic }

// PartitionsPath is /brokers/topics/<topic>/partitions.
func PartitionsPath(topic string) string { return TopicPath(topic) + "/partitions" }

// PartitionPath is /brokers/topics/<topic>/partitions/<p>.
func PartitionPath(tp store.TopicPartition) string {
	return PartitionsPath(tp.Topic) + "/" + strconv.Itoa(int(tp.Partition))
}

// PartitionStatePath is /brokers/topics/<topic>/partitions/<p>/state.
func PartitionStatePath(tp store.TopicPartition) string { return PartitionPath(tp) + "/state" }

// ConfigChangePrefix is the prefix of the sequential config change
// notifications under /config/changes (config_change_0000000042).
const ConfigChangePrefix = "config_change_"

// ConfigChangeSeq parses a notification's name into its sequence number.
func ConfigChangeSeq(name string) (int64, bool) {
	digits, ok := strings.CutPrefix(name, ConfigChangePrefix)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	return n, err == nil && n >= 0
}

// TopicConfigPath is /config/topics/<topic>.
func TopicConfigPath(topic string) string { return TopicConfigsPath + "/" + topic }

// DeleteTopicPath is /admin/delete_topics/<topic>.
func DeleteTopicPath(topic string) string { return DeleteTopicsPath + "/" + topic }

// CheckTopicName rejects topic names that do not map onto one znode path
// segment (empty, containing '/', "." or ".."). The controller applies
// Kafka's full naming rules; this is the stores' last line.
func CheckTopicName(name string) error {
	if name == "" || strings.Contains(name, "/") || name == "." || name == ".." {
		return fmt.Errorf("znode: topic name %q: %w", name, store.ErrInvalidArgument)
	}
	return nil
}
