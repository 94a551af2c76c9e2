package znode

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strom-broker/strom/coord/store"
)

// The JSON literals below are written from Kafka's documented znode formats
// (ZkData / ProducerIdManager), not produced by this package.

func TestBrokerDecodeKafkaVersions(t *testing.T) {
	tests := []struct {
		name string
		json string
		want store.BrokerInfo
	}{
		{
			name: "v1 host and port only",
			json: `{"version":1,"host":"localhost","port":9092,"jmx_port":9999,"timestamp":"2233345666"}`,
			want: store.BrokerInfo{ID: 7, JMXPort: 9999, Timestamp: 2233345666,
				Endpoints: []store.Endpoint{{Listener: "PLAINTEXT", SecurityProtocol: "PLAINTEXT", Host: "localhost", Port: 9092}}},
		},
		{
			name: "v2 endpoints without protocol map",
			json: `{"version":2,"host":"localhost","port":9092,"jmx_port":9999,"timestamp":"2233345666","endpoints":["PLAINTEXT://host1:9092","SSL://host1:9093"]}`,
			want: store.BrokerInfo{ID: 7, JMXPort: 9999, Timestamp: 2233345666, Endpoints: []store.Endpoint{
				{Listener: "PLAINTEXT", SecurityProtocol: "PLAINTEXT", Host: "host1", Port: 9092},
				{Listener: "SSL", SecurityProtocol: "SSL", Host: "host1", Port: 9093}}},
		},
		{
			name: "v4 named listeners and rack",
			json: `{"listener_security_protocol_map":{"CLIENT":"SASL_SSL","REPLICATION":"PLAINTEXT"},"endpoints":["CLIENT://host1:9092","REPLICATION://host1:9093"],"rack":"dc1","jmx_port":-1,"host":null,"timestamp":"1543300074836","port":-1,"version":4}`,
			want: store.BrokerInfo{ID: 7, JMXPort: -1, Timestamp: 1543300074836, Rack: "dc1", Endpoints: []store.Endpoint{
				{Listener: "CLIENT", SecurityProtocol: "SASL_SSL", Host: "host1", Port: 9092},
				{Listener: "REPLICATION", SecurityProtocol: "PLAINTEXT", Host: "host1", Port: 9093}}},
		},
		{
			name: "v5 with features and ipv6",
			json: `{"features":{"feature":{"min_version":1,"max_version":3}},"listener_security_protocol_map":{"PLAINTEXT":"PLAINTEXT"},"endpoints":["PLAINTEXT://[::1]:9092"],"jmx_port":-1,"port":9092,"host":"::1","version":5,"timestamp":"1"}`,
			want: store.BrokerInfo{ID: 7, JMXPort: -1, Timestamp: 1, Endpoints: []store.Endpoint{
				{Listener: "PLAINTEXT", SecurityProtocol: "PLAINTEXT", Host: "::1", Port: 9092}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeBroker(7, []byte(tt.json))
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			// Re-encoding and decoding again keeps every field.
			again, err := DecodeBroker(7, EncodeBroker(got))
			require.NoError(t, err)
			assert.Equal(t, got, again)
		})
	}
}

func TestBrokerEncodeMatchesKafkaV5(t *testing.T) {
	b := store.BrokerInfo{ID: 1, JMXPort: -1, Timestamp: 1543300074836, Endpoints: []store.Endpoint{
		{Listener: "INTERNAL", SecurityProtocol: "SSL", Host: "10.0.0.1", Port: 9093},
		{Listener: "PLAINTEXT", SecurityProtocol: "PLAINTEXT", Host: "10.0.0.1", Port: 9092},
	}}
	assert.JSONEq(t, `{"features":{},"listener_security_protocol_map":{"INTERNAL":"SSL","PLAINTEXT":"PLAINTEXT"},`+
		`"endpoints":["INTERNAL://10.0.0.1:9093","PLAINTEXT://10.0.0.1:9092"],"jmx_port":-1,`+
		`"host":"10.0.0.1","timestamp":"1543300074836","port":9092,"version":5}`, string(EncodeBroker(b)))

	// No PLAINTEXT listener: Kafka writes host null and port -1.
	b.Endpoints = b.Endpoints[:1]
	b.Rack = "r1"
	assert.JSONEq(t, `{"features":{},"listener_security_protocol_map":{"INTERNAL":"SSL"},`+
		`"endpoints":["INTERNAL://10.0.0.1:9093"],"jmx_port":-1,"rack":"r1",`+
		`"host":null,"timestamp":"1543300074836","port":-1,"version":5}`, string(EncodeBroker(b)))
}

func TestTopicAssignmentCodec(t *testing.T) {
	id, err := store.ParseUUID("AAAAAAAAAAAAAAAAAAAAAQ")
	require.NoError(t, err)
	tests := []struct {
		name   string
		json   string
		want   store.TopicAssignment
		encode bool // the literal is exactly what Strom writes
	}{
		{
			name: "kafka 0.8-2.3 version 1",
			json: `{"version":1,"partitions":{"0":[1,2,3],"1":[2,3,1]}}`,
			want: store.TopicAssignment{Name: "t", Version: 4,
				Partitions: map[int32][]int32{0: {1, 2, 3}, 1: {2, 3, 1}},
			},
		},
		{
			name:   "kafka 2.4 version 2",
			json:   `{"version":2,"partitions":{"0":[1]},"adding_replicas":{},"removing_replicas":{}}`,
			want:   store.TopicAssignment{Name: "t", Version: 4, Partitions: map[int32][]int32{0: {1}}},
			encode: true,
		},
		{
			name: "kafka 2.8 with topic id and reassignment",
			json: `{"version":2,"topic_id":"AAAAAAAAAAAAAAAAAAAAAQ","partitions":{"0":[1,2],"10":[3,1]},"adding_replicas":{"0":[2]},"removing_replicas":{"10":[3]}}`,
			want: store.TopicAssignment{Name: "t", ID: id, Version: 4,
				Partitions:       map[int32][]int32{0: {1, 2}, 10: {3, 1}},
				AddingReplicas:   map[int32][]int32{0: {2}},
				RemovingReplicas: map[int32][]int32{10: {3}}},
			encode: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeTopicAssignment("t", []byte(tt.json), 4)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			if tt.encode {
				assert.JSONEq(t, tt.json, string(EncodeTopicAssignment(got)))
			}
			again, err := DecodeTopicAssignment("t", EncodeTopicAssignment(got), 4)
			require.NoError(t, err)
			assert.Equal(t, got, again)
		})
	}
}

func TestPartitionStateCodec(t *testing.T) {
	lit := `{"controller_epoch":1,"leader":3,"version":1,"leader_epoch":55,"isr":[1,2,3]}`
	st, err := DecodePartitionState([]byte(lit), 9)
	require.NoError(t, err)
	assert.Equal(t, store.PartitionState{Leader: 3, LeaderEpoch: 55, ISR: []int32{1, 2, 3}, ControllerEpoch: 1, Version: 9}, st)
	assert.JSONEq(t, lit, string(EncodePartitionState(st)))

	offline := store.PartitionState{Leader: store.NoLeader, LeaderEpoch: 2, ISR: []int32{1}, ControllerEpoch: 3}
	assert.JSONEq(t, `{"controller_epoch":3,"leader":-1,"version":1,"leader_epoch":2,"isr":[1]}`, string(EncodePartitionState(offline)))
}

func TestSmallZnodeCodecs(t *testing.T) {
	t.Run("cluster id", func(t *testing.T) {
		lit := `{"version":"1","id":"1N7JbZwjS-aW9JCXTZUbGQ"}`
		id, err := DecodeClusterID([]byte(lit))
		require.NoError(t, err)
		assert.Equal(t, "1N7JbZwjS-aW9JCXTZUbGQ", id)
		assert.JSONEq(t, lit, string(EncodeClusterID(id)))
	})
	t.Run("controller", func(t *testing.T) {
		lit := `{"version":1,"brokerid":2,"timestamp":"1543300074836"}`
		id, err := DecodeController([]byte(lit))
		require.NoError(t, err)
		assert.Equal(t, int32(2), id)
		assert.JSONEq(t, lit, string(EncodeController(2, 1543300074836)))
	})
	t.Run("controller epoch", func(t *testing.T) {
		e, err := DecodeControllerEpoch([]byte("17"))
		require.NoError(t, err)
		assert.Equal(t, int32(17), e)
		assert.Equal(t, "17", string(EncodeControllerEpoch(17)))
	})
	t.Run("topic config", func(t *testing.T) {
		lit := `{"version":1,"config":{"cleanup.policy":"compact","retention.ms":"1000"}}`
		c, err := DecodeTopicConfig([]byte(lit))
		require.NoError(t, err)
		assert.Equal(t, map[string]string{"cleanup.policy": "compact", "retention.ms": "1000"}, c)
		assert.JSONEq(t, lit, string(EncodeTopicConfig(c)))
		assert.JSONEq(t, `{"version":1,"config":{}}`, string(EncodeTopicConfig(nil)))
	})
	t.Run("producer id block", func(t *testing.T) {
		lit := `{"version":1,"broker":1,"block_start":"1000","block_end":"1999"}`
		b, err := DecodeProducerIDBlock([]byte(lit))
		require.NoError(t, err)
		assert.Equal(t, store.ProducerIDBlock{BrokerID: 1, Start: 1000, End: 1999}, b)
		assert.JSONEq(t, lit, string(EncodeProducerIDBlock(b)))
	})
}

func TestDecodeCorrupt(t *testing.T) {
	tests := []struct {
		name   string
		decode func([]byte) error
		data   string
	}{
		{"cluster id not json", func(b []byte) error { _, err := DecodeClusterID(b); return err }, `{"version"`},
		{"cluster id no id", func(b []byte) error { _, err := DecodeClusterID(b); return err }, `{"version":"1"}`},
		{"broker version 0", func(b []byte) error { _, err := DecodeBroker(1, b); return err }, `{"version":0}`},
		{"broker bad endpoint", func(b []byte) error { _, err := DecodeBroker(1, b); return err }, `{"version":4,"endpoints":["nohost"]}`},
		{"broker bad port", func(b []byte) error { _, err := DecodeBroker(1, b); return err }, `{"version":4,"endpoints":["PLAINTEXT://h:x"]}`},
		{"controller no id", func(b []byte) error { _, err := DecodeController(b); return err }, `{"version":1}`},
		{"controller epoch text", func(b []byte) error { _, err := DecodeControllerEpoch(b); return err }, `x`},
		{"topic bad key", func(b []byte) error { _, err := DecodeTopicAssignment("t", b, 0); return err }, `{"version":2,"partitions":{"a":[1]}}`},
		{"topic bad id", func(b []byte) error { _, err := DecodeTopicAssignment("t", b, 0); return err }, `{"version":2,"topic_id":"zz","partitions":{}}`},
		{"state missing leader", func(b []byte) error { _, err := DecodePartitionState(b, 0); return err }, `{"controller_epoch":1,"leader_epoch":1,"isr":[1]}`},
		{"config not json", func(b []byte) error { _, err := DecodeTopicConfig(b); return err }, `[`},
		{"pid block reversed", func(b []byte) error { _, err := DecodeProducerIDBlock(b); return err }, `{"version":1,"broker":1,"block_start":"10","block_end":"9"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.ErrorIs(t, tt.decode([]byte(tt.data)), store.ErrCorrupt)
		})
	}
}

func TestPaths(t *testing.T) {
	tp := store.TopicPartition{Topic: "orders", Partition: 3}
	assert.Equal(t, "/brokers/ids/5", BrokerPath(5))
	assert.Equal(t, "/brokers/topics/orders", TopicPath("orders"))
	assert.Equal(t, "/brokers/topics/orders/partitions/3/state", PartitionStatePath(tp))
	assert.Equal(t, "/config/topics/orders", TopicConfigPath("orders"))
	assert.Equal(t, "/admin/delete_topics/orders", DeleteTopicPath("orders"))
}

func TestPreferredReplicaElectionJSON(t *testing.T) {
	tps := []store.TopicPartition{{Topic: "a", Partition: 0}, {Topic: "b", Partition: 3}}
	data := EncodePreferredReplicaElection(tps)
	assert.JSONEq(t, `{"version":1,"partitions":[{"topic":"a","partition":0},{"topic":"b","partition":3}]}`, string(data))
	got, err := DecodePreferredReplicaElection(data)
	require.NoError(t, err)
	assert.Equal(t, tps, got)
	for _, bad := range []string{`{`, `{"version":1,"partitions":[{"topic":"a"}]}`, `{"version":1,"partitions":[{"partition":1}]}`} {
		_, err := DecodePreferredReplicaElection([]byte(bad))
		assert.ErrorIs(t, err, store.ErrCorrupt, bad)
	}
}

// TestReassignmentJSON: Kafka's /admin/reassign_partitions (log_dirs, which
// Kafka's tool may write, ignored).
func TestReassignmentJSON(t *testing.T) {
	m := map[store.TopicPartition][]int32{{Topic: "b", Partition: 3}: {2, 3}, {Topic: "a", Partition: 0}: {1}}
	data := EncodeReassignment(m)
	assert.JSONEq(t, `{"version":1,"partitions":[{"topic":"a","partition":0,"replicas":[1]},{"topic":"b","partition":3,"replicas":[2,3]}]}`, string(data))
	got, err := DecodeReassignment(data)
	require.NoError(t, err)
	assert.Equal(t, m, got)
	got, err = DecodeReassignment([]byte(`{"version":1,"partitions":[{"topic":"a","partition":0,"replicas":[1,2],"log_dirs":["any","any"]}]}`))
	require.NoError(t, err)
	assert.Equal(t, map[store.TopicPartition][]int32{{Topic: "a", Partition: 0}: {1, 2}}, got)
	for _, bad := range []string{`{`, `{"version":1,"partitions":[{"topic":"a","partition":0}]}`, `{"version":1,"partitions":[{"partition":1,"replicas":[1]}]}`} {
		_, err := DecodeReassignment([]byte(bad))
		assert.ErrorIs(t, err, store.ErrCorrupt, bad)
	}
}
