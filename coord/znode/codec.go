package znode

import (
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/strom-broker/strom/coord/store"
)

// Versions Strom writes. Part of the format.
const (
	brokerVersion          = 5
	topicAssignmentVersion = 2
	partitionStateVersion  = 1
	topicConfigVersion     = 1
	controllerVersion      = 1
	producerIDBlockVersion = 1
	clusterIDVersion       = "1" // Kafka writes this one as a string
)

func corrupt(what string, err error) error {
	return fmt.Errorf("znode: decode %s: %w: %w", what, store.ErrCorrupt, err)
}

// --- /cluster/id: {"version":"1","id":"<22-char id>"}

type clusterIDJSON struct {
	Version string `json:"version"`
	ID      string `json:"id"`
}

// EncodeClusterID encodes /cluster/id.
func EncodeClusterID(id string) []byte {
	return mustMarshal(clusterIDJSON{Version: clusterIDVersion, ID: id})
}

// DecodeClusterID decodes /cluster/id.
func DecodeClusterID(data []byte) (string, error) {
	var v clusterIDJSON
	if err := json.Unmarshal(data, &v); err != nil {
		return "", corrupt("cluster id", err)
	}
	if v.ID == "" {
		return "", corrupt("cluster id", fmt.Errorf("missing id in %q", data))
	}
	return v.ID, nil
}

// --- /brokers/ids/<id>
//
//	{"features":{},"listener_security_protocol_map":{"PLAINTEXT":"PLAINTEXT"},
//	 "endpoints":["PLAINTEXT://host:9092"],"jmx_port":-1,"port":9092,
//	 "host":"host","version":5,"timestamp":"1543300074836"}
//
// host/port are the first PLAINTEXT endpoint (null/-1 if none), kept for old
// clients; rack is present only when set.

type brokerJSON struct {
	Features    map[string]json.RawMessage `json:"features"`
	ProtocolMap map[string]string          `json:"listener_security_protocol_map"`
	Endpoints   []string                   `json:"endpoints"`
	JMXPort     int32                      `json:"jmx_port"`
	Port        int32                      `json:"port"`
	Host        *string                    `json:"host"`
	Rack        *string                    `json:"rack,omitempty"`
	Version     int                        `json:"version"`
	Timestamp   string                     `json:"timestamp"`
}

// EncodeBroker encodes a broker registration (version 5).
func EncodeBroker(b store.BrokerInfo) []byte {
	v := brokerJSON{
		// Strom advertises no KIP-584 features; version 5 readers expect
		// the field, so it is written as {}.
		Features:    map[string]json.RawMessage{},
		ProtocolMap: make(map[string]string, len(b.Endpoints)),
		Endpoints:   make([]string, 0, len(b.Endpoints)),
		JMXPort:     b.JMXPort,
		Port:        -1,
		Version:     brokerVersion,
		Timestamp:   strconv.FormatInt(b.Timestamp, 10),
	}
	for _, e := range b.Endpoints {
		v.Endpoints = append(v.Endpoints, e.Listener+"://"+net.JoinHostPort(e.Host, strconv.Itoa(int(e.Port))))
		v.ProtocolMap[e.Listener] = e.SecurityProtocol
		if v.Host == nil && e.SecurityProtocol == "PLAINTEXT" {
			h := e.Host
			v.Host, v.Port = &h, e.Port
		}
	}
	if b.Rack != "" {
		r := b.Rack
		v.Rack = &r
	}
	return mustMarshal(v)
}

// DecodeBroker decodes the registration of broker id.
func DecodeBroker(id int32, data []byte) (store.BrokerInfo, error) {
	what := "broker " + strconv.Itoa(int(id))
	var v brokerJSON
	if err := json.Unmarshal(data, &v); err != nil {
		return store.BrokerInfo{}, corrupt(what, err)
	}
	b := store.BrokerInfo{ID: id, JMXPort: v.JMXPort}
	if v.Rack != nil {
		b.Rack = *v.Rack
	}
	if v.Timestamp != "" {
		ts, err := strconv.ParseInt(v.Timestamp, 10, 64)
		if err != nil {
			return store.BrokerInfo{}, corrupt(what, err)
		}
		b.Timestamp = ts
	}
	switch {
	case v.Version < 1:
		return store.BrokerInfo{}, corrupt(what, fmt.Errorf("unsupported version %d", v.Version))
	case v.Version == 1:
		if v.Host == nil {
			return store.BrokerInfo{}, corrupt(what, fmt.Errorf("version 1 without host"))
		}
		b.Endpoints = []store.Endpoint{{Listener: "PLAINTEXT", SecurityProtocol: "PLAINTEXT", Host: *v.Host, Port: v.Port}}
	default:
		for _, s := range v.Endpoints {
			e, err := parseEndpoint(s, v.ProtocolMap)
			if err != nil {
				return store.BrokerInfo{}, corrupt(what, err)
			}
			b.Endpoints = append(b.Endpoints, e)
		}
	}
	return b, nil
}

// parseEndpoint parses LISTENER://host:port (IPv6 hosts in brackets).
func parseEndpoint(s string, protocols map[string]string) (store.Endpoint, error) {
	listener, addr, ok := strings.Cut(s, "://")
	if !ok || listener == "" {
		return store.Endpoint{}, fmt.Errorf("endpoint %q: want LISTENER://host:port", s)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return store.Endpoint{}, fmt.Errorf("endpoint %q: %w", s, err)
	}
	p, err := strconv.ParseInt(port, 10, 32)
	if err != nil {
		return store.Endpoint{}, fmt.Errorf("endpoint %q: port: %w", s, err)
	}
	proto, ok := protocols[listener]
	if !ok {
		// Without a map (versions 2-3) the listener name is the protocol.
		proto = listener
	}
	return store.Endpoint{Listener: listener, SecurityProtocol: proto, Host: host, Port: int32(p)}, nil
}

// --- /controller: {"version":1,"brokerid":1,"timestamp":"1543300074836"}

type controllerJSON struct {
	Version   int    `json:"version"`
	BrokerID  int32  `json:"brokerid"`
	Timestamp string `json:"timestamp"`
}

// EncodeController encodes /controller.
func EncodeController(brokerID int32, timestampMs int64) []byte {
	return mustMarshal(controllerJSON{Version: controllerVersion, BrokerID: brokerID, Timestamp: strconv.FormatInt(timestampMs, 10)})
}

// DecodeController decodes /controller and returns the controller's id.
func DecodeController(data []byte) (int32, error) {
	var v struct {
		BrokerID *int32 `json:"brokerid"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return 0, corrupt("controller", err)
	}
	if v.BrokerID == nil {
		return 0, corrupt("controller", fmt.Errorf("missing brokerid in %q", data))
	}
	return *v.BrokerID, nil
}

// --- /controller_epoch: the decimal epoch, e.g. 7

// EncodeControllerEpoch encodes /controller_epoch.
func EncodeControllerEpoch(epoch int32) []byte { return []byte(strconv.Itoa(int(epoch))) }

// DecodeControllerEpoch decodes /controller_epoch.
func DecodeControllerEpoch(data []byte) (int32, error) {
	e, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 32)
	if err != nil {
		return 0, corrupt("controller epoch", err)
	}
	return int32(e), nil
}

// --- /brokers/topics/<t>
//
//	{"version":2,"topic_id":"...","partitions":{"0":[1,2]},"adding_replicas":{},"removing_replicas":{}}
//
// topic_id is present only when known.

type topicJSON struct {
	Version          int                `json:"version"`
	TopicID          string             `json:"topic_id,omitempty"`
	Partitions       map[string][]int32 `json:"partitions"`
	AddingReplicas   map[string][]int32 `json:"adding_replicas"`
	RemovingReplicas map[string][]int32 `json:"removing_replicas"`
}

// EncodeTopicAssignment encodes /brokers/topics/<t> (version 2). a.Name and
// a.Version are not part of the data.
func EncodeTopicAssignment(a store.TopicAssignment) []byte {
	v := topicJSON{
		Version:          topicAssignmentVersion,
		Partitions:       encodeReplicaMap(a.Partitions),
		AddingReplicas:   encodeReplicaMap(a.AddingReplicas),
		RemovingReplicas: encodeReplicaMap(a.RemovingReplicas),
	}
	if !a.ID.IsZero() {
		v.TopicID = a.ID.String()
	}
	return mustMarshal(v)
}

// DecodeTopicAssignment decodes /brokers/topics/<name> read at znode version
// version.
func DecodeTopicAssignment(name string, data []byte, version int32) (store.TopicAssignment, error) {
	what := "topic " + name
	var v topicJSON
	if err := json.Unmarshal(data, &v); err != nil {
		return store.TopicAssignment{}, corrupt(what, err)
	}
	a := store.TopicAssignment{Name: name, Version: version}
	var err error
	if v.TopicID != "" {
		if a.ID, err = store.ParseUUID(v.TopicID); err != nil {
			return store.TopicAssignment{}, corrupt(what, err)
		}
	}
	if a.Partitions, err = decodeReplicaMap(v.Partitions); err != nil {
		return store.TopicAssignment{}, corrupt(what, err)
	}
	if a.AddingReplicas, err = decodeReplicaMap(v.AddingReplicas); err != nil {
		return store.TopicAssignment{}, corrupt(what, err)
	}
	if a.RemovingReplicas, err = decodeReplicaMap(v.RemovingReplicas); err != nil {
		return store.TopicAssignment{}, corrupt(what, err)
	}
	return a, nil
}

func encodeReplicaMap(m map[int32][]int32) map[string][]int32 {
	out := make(map[string][]int32, len(m))
	for p, r := range m {
		if r == nil {
			r = []int32{}
		}
		out[strconv.Itoa(int(p))] = r
	}
	return out
}

// decodeReplicaMap parses a partition-keyed map; empty decodes as nil so that
// values round-trip through the store unchanged.
func decodeReplicaMap(m map[string][]int32) (map[int32][]int32, error) {
	if len(m) == 0 {
		return nil, nil
	}
	out := make(map[int32][]int32, len(m))
	for k, r := range m {
		p, err := strconv.ParseInt(k, 10, 32)
		if err != nil || p < 0 {
			return nil, fmt.Errorf("partition key %q", k)
		}
		if r == nil {
			r = []int32{}
		}
		out[int32(p)] = r
	}
	return out, nil
}

// --- /brokers/topics/<t>/partitions/<p>/state
//
//	{"controller_epoch":1,"leader":3,"version":1,"leader_epoch":55,"isr":[1,2,3]}

type partitionStateJSON struct {
	ControllerEpoch *int32  `json:"controller_epoch"`
	Leader          *int32  `json:"leader"`
	Version         int     `json:"version"`
	LeaderEpoch     *int32  `json:"leader_epoch"`
	ISR             []int32 `json:"isr"`
}

// EncodePartitionState encodes a partition state (st.Version is not part of
// the data).
func EncodePartitionState(st store.PartitionState) []byte {
	isr := st.ISR
	if isr == nil {
		isr = []int32{}
	}
	return mustMarshal(partitionStateJSON{
		ControllerEpoch: &st.ControllerEpoch,
		Leader:          &st.Leader,
		Version:         partitionStateVersion,
		LeaderEpoch:     &st.LeaderEpoch,
		ISR:             isr,
	})
}

// DecodePartitionState decodes a partition state read at znode version
// version.
func DecodePartitionState(data []byte, version int32) (store.PartitionState, error) {
	var v partitionStateJSON
	if err := json.Unmarshal(data, &v); err != nil {
		return store.PartitionState{}, corrupt("partition state", err)
	}
	if v.Leader == nil || v.LeaderEpoch == nil || v.ControllerEpoch == nil || v.ISR == nil {
		return store.PartitionState{}, corrupt("partition state", fmt.Errorf("missing field in %q", data))
	}
	return store.PartitionState{
		Leader: *v.Leader, LeaderEpoch: *v.LeaderEpoch, ISR: v.ISR,
		ControllerEpoch: *v.ControllerEpoch, Version: version,
	}, nil
}

// --- /config/topics/<t>: {"version":1,"config":{"retention.ms":"1000"}}

type topicConfigJSON struct {
	Version int               `json:"version"`
	Config  map[string]string `json:"config"`
}

// EncodeTopicConfig encodes a topic's config overrides.
func EncodeTopicConfig(configs map[string]string) []byte {
	return mustMarshal(topicConfigJSON{Version: topicConfigVersion, Config: store.CloneConfigs(configs)})
}

// DecodeTopicConfig decodes a topic's config overrides; never nil.
func DecodeTopicConfig(data []byte) (map[string]string, error) {
	var v topicConfigJSON
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, corrupt("topic config", err)
	}
	return store.CloneConfigs(v.Config), nil
}

// --- /config/changes/config_change_<seq>
//
//	v2 (Kafka 1.1+): {"version":2,"entity_path":"topics/foo"}
//	v1:              {"version":1,"entity_type":"topics","entity_name":"foo"}
//	0.8.2:           "foo" (a bare JSON string: a topic)

type configChangeJSON struct {
	Version    int    `json:"version"`
	EntityPath string `json:"entity_path,omitempty"`
	EntityType string `json:"entity_type,omitempty"`
	EntityName string `json:"entity_name,omitempty"`
}

// configChangeVersion is the notification version Strom writes.
const configChangeVersion = 2

// EncodeTopicConfigChange encodes the notification that a topic's config
// changed (v2, as Kafka 1.1+ writes it).
func EncodeTopicConfigChange(topic string) []byte {
	return mustMarshal(configChangeJSON{Version: configChangeVersion, EntityPath: ConfigEntityTopics + "/" + topic})
}

// ConfigEntityTopics is the entity type of topic configs.
const ConfigEntityTopics = "topics"

// DecodeConfigChange decodes a config change notification of any version
// into the entity's type and name ("topics", "foo"). Entity types other
// than topics (clients, users, brokers, ips) decode too; the caller decides
// which it acts on.
func DecodeConfigChange(data []byte) (entityType, name string, err error) {
	var bare string
	if json.Unmarshal(data, &bare) == nil {
		if bare == "" {
			return "", "", corrupt("config change", fmt.Errorf("empty topic in %q", data))
		}
		return ConfigEntityTopics, bare, nil
	}
	var v configChangeJSON
	if err := json.Unmarshal(data, &v); err != nil {
		return "", "", corrupt("config change", err)
	}
	switch v.Version {
	case 1:
		entityType, name = v.EntityType, v.EntityName
	case 2:
		entityType, name, _ = strings.Cut(v.EntityPath, "/")
	default:
		return "", "", corrupt("config change", fmt.Errorf("unknown version %d in %q", v.Version, data))
	}
	if entityType == "" || name == "" {
		return "", "", corrupt("config change", fmt.Errorf("no entity in %q", data))
	}
	return entityType, name, nil
}

// --- /latest_producer_id_block
//
//	{"version":1,"broker":1,"block_start":"0","block_end":"999"}

type producerIDBlockJSON struct {
	Version    int    `json:"version"`
	Broker     int32  `json:"broker"`
	BlockStart string `json:"block_start"`
	BlockEnd   string `json:"block_end"`
}

// EncodeProducerIDBlock encodes /latest_producer_id_block.
func EncodeProducerIDBlock(b store.ProducerIDBlock) []byte {
	return mustMarshal(producerIDBlockJSON{
		Version: producerIDBlockVersion, Broker: b.BrokerID,
		BlockStart: strconv.FormatInt(b.Start, 10), BlockEnd: strconv.FormatInt(b.End, 10),
	})
}

// DecodeProducerIDBlock decodes /latest_producer_id_block.
func DecodeProducerIDBlock(data []byte) (store.ProducerIDBlock, error) {
	var v producerIDBlockJSON
	if err := json.Unmarshal(data, &v); err != nil {
		return store.ProducerIDBlock{}, corrupt("producer id block", err)
	}
	start, err1 := strconv.ParseInt(v.BlockStart, 10, 64)
	end, err2 := strconv.ParseInt(v.BlockEnd, 10, 64)
	if err1 != nil || err2 != nil || end < start {
		return store.ProducerIDBlock{}, corrupt("producer id block", fmt.Errorf("bad range in %q", data))
	}
	return store.ProducerIDBlock{BrokerID: v.Broker, Start: start, End: end}, nil
}

// mustMarshal marshals values whose types cannot fail to encode.
func mustMarshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("znode: marshal %T: %v", v, err)) // unreachable: fixed types
	}
	return b
}

// --- /admin/preferred_replica_election:
// {"version":1,"partitions":[{"topic":"t","partition":0}]}

type electionJSON struct {
	Version    int `json:"version"`
	Partitions []struct {
		Topic     string `json:"topic"`
		Partition *int32 `json:"partition"`
	} `json:"partitions"`
}

// EncodePreferredReplicaElection encodes a preferred election request.
func EncodePreferredReplicaElection(tps []store.TopicPartition) []byte {
	type entry struct {
		Topic     string `json:"topic"`
		Partition int32  `json:"partition"`
	}
	v := struct {
		Version    int     `json:"version"`
		Partitions []entry `json:"partitions"`
	}{Version: 1, Partitions: []entry{}}
	for _, tp := range tps {
		v.Partitions = append(v.Partitions, entry{tp.Topic, tp.Partition})
	}
	return mustMarshal(v)
}

// DecodePreferredReplicaElection decodes a preferred election request.
func DecodePreferredReplicaElection(data []byte) ([]store.TopicPartition, error) {
	var v electionJSON
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, corrupt(PreferredReplicaElectionPath, err)
	}
	out := make([]store.TopicPartition, 0, len(v.Partitions))
	for _, p := range v.Partitions {
		if p.Topic == "" || p.Partition == nil {
			return nil, corrupt(PreferredReplicaElectionPath, fmt.Errorf("an entry without topic or partition"))
		}
		out = append(out, store.TopicPartition{Topic: p.Topic, Partition: *p.Partition})
	}
	return out, nil
}

// --- /admin/reassign_partitions:
// {"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[1,2,3]}]}
// (Kafka's tools may add "log_dirs"; they are ignored.)

type reassignmentJSON struct {
	Version    int `json:"version"`
	Partitions []struct {
		Topic     string  `json:"topic"`
		Partition *int32  `json:"partition"`
		Replicas  []int32 `json:"replicas"`
	} `json:"partitions"`
}

// EncodeReassignment encodes a reassignment request, partitions sorted.
func EncodeReassignment(m map[store.TopicPartition][]int32) []byte {
	type entry struct {
		Topic     string  `json:"topic"`
		Partition int32   `json:"partition"`
		Replicas  []int32 `json:"replicas"`
	}
	v := struct {
		Version    int     `json:"version"`
		Partitions []entry `json:"partitions"`
	}{Version: 1, Partitions: []entry{}}
	for _, tp := range slices.SortedFunc(maps.Keys(m), compareTopicPartitions) {
		v.Partitions = append(v.Partitions, entry{tp.Topic, tp.Partition, m[tp]})
	}
	return mustMarshal(v)
}

// DecodeReassignment decodes a reassignment request.
func DecodeReassignment(data []byte) (map[store.TopicPartition][]int32, error) {
	var v reassignmentJSON
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, corrupt(ReassignPartitionsPath, err)
	}
	out := make(map[store.TopicPartition][]int32, len(v.Partitions))
	for _, p := range v.Partitions {
		if p.Topic == "" || p.Partition == nil || p.Replicas == nil {
			return nil, corrupt(ReassignPartitionsPath, fmt.Errorf("an entry without topic, partition or replicas"))
		}
		out[store.TopicPartition{Topic: p.Topic, Partition: *p.Partition}] = p.Replicas
	}
	return out, nil
}

func compareTopicPartitions(a, b store.TopicPartition) int {
	if c := strings.Compare(a.Topic, b.Topic); c != 0 {
		return c
	}
	return int(a.Partition) - int(b.Partition)
}
