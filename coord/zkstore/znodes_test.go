package zkstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strom-broker/strom/coord/store"
	"github.com/strom-broker/strom/coord/zkstore"
	"github.com/strom-broker/strom/coord/znode"
)

// getJSON reads a znode with a plain client and decodes it generically, so
// that field types (string vs number) are checked as Kafka writes them.
func getJSON(t *testing.T, c *zk.Conn, path string) (map[string]any, *zk.Stat) {
	t.Helper()
	syncClient(t, c)
	data, st, err := c.Get(path)
	require.NoError(t, err, path)
	var v map[string]any
	require.NoError(t, json.Unmarshal(data, &v), "%s: %s", path, data)
	return v, st
}

var millis = regexp.MustCompile(`^[0-9]{13}$`)

// TestZnodesAreKafkaJSON writes every kind of znode through the store and
// reads each back with a plain ZooKeeper client, checking Kafka's JSON
// field by field (research/ZK_CLUSTER.md sections 1 and 6; Kafka's
// ZkData.scala), including its type quirks.
func TestZnodesAreKafkaJSON(t *testing.T) {
	ctx := context.Background()
	s, root := openChroot(t)
	c := plainClient(t)

	// Kafka's top-level znodes exist (its tools expect them).
	syncClient(t, c)
	for _, p := range []string{"/consumers", "/brokers/ids", "/brokers/topics", "/brokers/seqid", "/config/changes",
		"/config/topics", "/config/clients", "/config/users", "/config/brokers", "/config/ips", "/admin/delete_topics",
		"/isr_change_notification", "/latest_producer_id_block", "/log_dir_event_notification"} {
		ok, _, err := c.Exists(root + p)
		require.NoError(t, err)
		assert.True(t, ok, p)
	}

	// /cluster/id: "version" is the string "1".
	id, err := s.GetOrCreateClusterID(ctx, "Xq3SH7ZLTRaR1dhvgO0l9A")
	require.NoError(t, err)
	v, _ := getJSON(t, c, root+"/cluster/id")
	assert.Equal(t, map[string]any{"version": "1", "id": id}, v)

	// /brokers/ids/<id>: v5, ephemeral of the store's session, czxid = epoch.
	b := store.BrokerInfo{ID: 3, JMXPort: -1, Timestamp: 1700000000123, Rack: "rack-a", Endpoints: []store.Endpoint{
		{Listener: "INTERNAL", SecurityProtocol: "PLAINTEXT", Host: "10.0.0.3", Port: 19092},
		{Listener: "EXTERNAL", SecurityProtocol: "SSL", Host: "broker3.example", Port: 9093},
	}}
	require.NoError(t, s.RegisterBroker(ctx, b))
	v, st := getJSON(t, c, root+"/brokers/ids/3")
	assert.Equal(t, map[string]any{
		"version":                        float64(5),
		"host":                           "10.0.0.3",
		"port":                           float64(19092),
		"jmx_port":                       float64(-1),
		"timestamp":                      "1700000000123",
		"rack":                           "rack-a",
		"features":                       map[string]any{},
		"endpoints":                      []any{"INTERNAL://10.0.0.3:19092", "EXTERNAL://broker3.example:9093"},
		"listener_security_protocol_map": map[string]any{"INTERNAL": "PLAINTEXT", "EXTERNAL": "SSL"},
	}, v)
	assert.Equal(t, s.SessionID(), st.EphemeralOwner, "ephemeral, owned by the store's session")
	got, err := s.Broker(ctx, 3)
	require.NoError(t, err)
	assert.Equal(t, st.Czxid, got.Epoch, "broker epoch = czxid")

	// /controller_epoch is a bare integer; /controller is JSON with a
	// string timestamp.
	epoch, err := s.TryBecomeController(ctx, 3)
	require.NoError(t, err)
	syncClient(t, c)
	data, est, err := c.Get(root + "/controller_epoch")
	require.NoError(t, err)
	assert.Equal(t, "1", string(data), "created as 0, bumped to 1 by the first election")
	assert.Equal(t, int32(1), epoch)
	assert.Zero(t, est.EphemeralOwner, "persistent")
	v, st = getJSON(t, c, root+"/controller")
	assert.Equal(t, float64(1), v["version"])
	assert.Equal(t, float64(3), v["brokerid"])
	assert.Regexp(t, millis, v["timestamp"], "timestamp is a string of epoch millis")
	assert.Len(t, v, 3)
	assert.Equal(t, s.SessionID(), st.EphemeralOwner)

	// /brokers/topics/<t> v2 with topic_id, and /config/topics/<t>.
	tid, err := store.NewUUID()
	require.NoError(t, err)
	a := store.TopicAssignment{Name: "orders", ID: tid, Partitions: map[int32][]int32{0: {3, 1}, 1: {1, 3}}}
	require.NoError(t, s.CreateTopic(ctx, a, map[string]string{"retention.ms": "60000", "cleanup.policy": "compact"}))
	v, _ = getJSON(t, c, root+"/brokers/topics/orders")
	assert.Equal(t, map[string]any{
		"version":           float64(2),
		"topic_id":          tid.String(),
		"partitions":        map[string]any{"0": []any{float64(3), float64(1)}, "1": []any{float64(1), float64(3)}},
		"adding_replicas":   map[string]any{},
		"removing_replicas": map[string]any{},
	}, v)
	v, _ = getJSON(t, c, root+"/config/topics/orders")
	assert.Equal(t, map[string]any{"version": float64(1), "config": map[string]any{"retention.ms": "60000", "cleanup.policy": "compact"}}, v)
	require.NoError(t, s.CreateTopic(ctx, store.TopicAssignment{Name: "plain", Partitions: map[int32][]int32{0: {3}}}, nil))
	v, _ = getJSON(t, c, root+"/config/topics/plain")
	assert.Equal(t, map[string]any{"version": float64(1), "config": map[string]any{}}, v, "written even without overrides")

	// A config change writes Kafka's v2 change notification.
	require.NoError(t, s.SetTopicConfig(ctx, "orders", map[string]string{"retention.ms": "1000"}))
	syncClient(t, c)
	notices, _, err := c.Children(root + "/config/changes")
	require.NoError(t, err)
	require.Len(t, notices, 1)
	assert.Regexp(t, `^config_change_\d{10}$`, notices[0])
	v, _ = getJSON(t, c, root+"/config/changes/"+notices[0])
	assert.Equal(t, map[string]any{"version": float64(2), "entity_path": "topics/orders"}, v)

	// Partition state; its znode version is the partition epoch; parents
	// have no data.
	tp := store.TopicPartition{Topic: "orders", Partition: 1}
	_, err = s.SetPartitionState(ctx, tp, store.PartitionState{Leader: 1, LeaderEpoch: 4, ISR: []int32{1, 3}, ControllerEpoch: epoch}, store.NewVersion)
	require.NoError(t, err)
	ver, err := s.Fenced(epoch).SetPartitionState(ctx, tp, store.PartitionState{Leader: 1, LeaderEpoch: 5, ISR: []int32{1}, ControllerEpoch: epoch}, 0)
	require.NoError(t, err)
	v, st = getJSON(t, c, root+"/brokers/topics/orders/partitions/1/state")
	assert.Equal(t, map[string]any{
		"version": float64(1), "leader": float64(1), "leader_epoch": float64(5),
		"controller_epoch": float64(1), "isr": []any{float64(1)},
	}, v)
	assert.Equal(t, ver, st.Version)
	assert.Equal(t, int32(1), st.Version)
	syncClient(t, c)
	for _, p := range []string{"/brokers/topics/orders/partitions", "/brokers/topics/orders/partitions/1"} {
		data, _, err := c.Get(root + p)
		require.NoError(t, err)
		assert.Empty(t, data, p)
	}

	// Deletion mark: no data.
	require.NoError(t, s.MarkTopicForDeletion(ctx, "plain"))
	syncClient(t, c)
	data, _, err = c.Get(root + "/admin/delete_topics/plain")
	require.NoError(t, err)
	assert.Empty(t, data)

	// Producer id blocks: bounds are strings; the first block is [0, 999].
	_, err = s.AllocateProducerIDBlock(ctx, 3, 1000)
	require.NoError(t, err)
	v, _ = getJSON(t, c, root+"/latest_producer_id_block")
	assert.Equal(t, map[string]any{"version": float64(1), "broker": float64(3), "block_start": "0", "block_end": "999"}, v)
	_, err = s.AllocateProducerIDBlock(ctx, 3, 1000)
	require.NoError(t, err)
	v, _ = getJSON(t, c, root+"/latest_producer_id_block")
	assert.Equal(t, "1000", v["block_start"])
	assert.Equal(t, "1999", v["block_end"])

	// Deletion removes the whole subtree, config and mark.
	require.NoError(t, s.DeleteTopic(ctx, "orders"))
	syncClient(t, c)
	for _, p := range []string{"/brokers/topics/orders", "/config/topics/orders"} {
		ok, _, err := c.Exists(root + p)
		require.NoError(t, err)
		assert.False(t, ok, p)
	}
}

// TestReadsWhatKafkaToolsWrite: znodes written by a plain client the way
// Kafka 0.8's kafka-topics.sh --zookeeper did (a v1 assignment, no topic
// id) and a Kafka 0.9-style broker registration are read by the store, and
// its watches report them.
func TestReadsWhatKafkaToolsWrite(t *testing.T) {
	ctx := context.Background()
	s, root := openChroot(t)
	c := plainClient(t)
	sub := s.Subscribe()
	defer sub.Close()

	_, err := c.Create(root+"/config/topics/legacy", []byte(`{"version":1,"config":{"retention.ms":"1000"}}`), 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)
	_, err = c.Create(root+"/brokers/topics/legacy", []byte(`{"version":1,"partitions":{"0":[1,2],"1":[2,1]}}`), 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)
	var a store.TopicAssignment
	waitUntil(t, sub, store.Event{Kind: store.EventTopic, Topic: "legacy"}, func() bool {
		a, err = s.Topic(ctx, "legacy")
		return err == nil
	})
	assert.Equal(t, map[int32][]int32{0: {1, 2}, 1: {2, 1}}, a.Partitions)
	assert.True(t, a.ID.IsZero())
	cfg, err := s.TopicConfig(ctx, "legacy")
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"retention.ms": "1000"}, cfg)

	// A config change is seen through Kafka's notification protocol: the
	// config znode, then a sequential /config/changes entry, in each
	// version Kafka has written (v2, v1, 0.8.2's bare string). The watch is
	// re-armed after it fires, so every change is reported.
	for i, notice := range []string{
		`{"version":2,"entity_path":"topics/legacy"}`,
		`{"version":1,"entity_type":"topics","entity_name":"legacy"}`,
		`"legacy"`,
	} {
		retention := strconv.Itoa(2000 + i)
		_, err = c.Set(root+"/config/topics/legacy", []byte(`{"version":1,"config":{"retention.ms":"`+retention+`"}}`), -1)
		require.NoError(t, err)
		_, err = c.Create(root+"/config/changes/config_change_", []byte(notice), zk.FlagSequence, zk.WorldACL(zk.PermAll))
		require.NoError(t, err)
		waitUntil(t, sub, store.Event{Kind: store.EventTopicConfig, Topic: "legacy"}, func() bool {
			cfg, err := s.TopicConfig(ctx, "legacy")
			require.NoError(t, err)
			return cfg["retention.ms"] == retention
		})
	}

	// A partition state created by another writer (Kafka's controller) is
	// read as written. (Nobody watches states: the controller writes them
	// and tells the brokers.)
	for _, p := range []string{"/brokers/topics/legacy/partitions", "/brokers/topics/legacy/partitions/1"} {
		_, err = c.Create(root+p, nil, 0, zk.WorldACL(zk.PermAll))
		require.NoError(t, err)
	}
	_, err = c.Create(root+"/brokers/topics/legacy/partitions/1/state",
		[]byte(`{"controller_epoch":7,"leader":2,"version":1,"leader_epoch":3,"isr":[2,1]}`), 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)
	// (The store's session may be on a ZooKeeper node that has not seen
	// the write yet: read until it has.)
	var st store.PartitionState
	eventually(t, "the state read", func() error {
		st, err = s.PartitionState(ctx, store.TopicPartition{Topic: "legacy", Partition: 1})
		return err
	})
	assert.Equal(t, store.PartitionState{Leader: 2, LeaderEpoch: 3, ISR: []int32{2, 1}, ControllerEpoch: 7}, st)

	// A 0.9-style (v2) broker registration.
	_, err = c.Create(root+"/brokers/ids/2",
		[]byte(`{"jmx_port":-1,"timestamp":"1450000000000","endpoints":["PLAINTEXT://h2:9092"],"host":"h2","version":2,"port":9092}`),
		zk.FlagEphemeral, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)
	var b store.BrokerInfo
	waitUntil(t, sub, store.Event{Kind: store.EventBrokers}, func() bool {
		b, err = s.Broker(ctx, 2)
		return err == nil
	})
	assert.Equal(t, []store.Endpoint{{Listener: "PLAINTEXT", SecurityProtocol: "PLAINTEXT", Host: "h2", Port: 9092}}, b.Endpoints)

	// A corrupt state znode is an error naming its path, not a crash.
	_, err = c.Set(root+"/brokers/topics/legacy/partitions/1/state", []byte(`{"leader":`), -1)
	require.NoError(t, err)
	eventually(t, "the corrupt state seen", func() error {
		if _, err = s.PartitionState(ctx, store.TopicPartition{Topic: "legacy", Partition: 1}); err == nil {
			return errors.New("still the old state")
		}
		return nil
	})
	assert.ErrorIs(t, err, store.ErrCorrupt)
	assert.ErrorContains(t, err, znode.PartitionStatePath(store.TopicPartition{Topic: "legacy", Partition: 1}))
}

// TestFailedMultiNamesItsOp: a multi that fails at its last op reports that
// op (ZooKeeper answers OK for the ops before it), not a retry exhaustion.
func TestFailedMultiNamesItsOp(t *testing.T) {
	ctx := context.Background()
	s, _ := openChroot(t)
	require.NoError(t, s.CreateTopic(ctx, store.TopicAssignment{Name: "t", Partitions: map[int32][]int32{0: {1}, 1: {1}, 2: {1}}}, nil))
	st := store.PartitionState{Leader: 1, ISR: []int32{1}}
	_, err := s.SetPartitionState(ctx, store.TopicPartition{Topic: "t", Partition: 1}, st, store.NewVersion)
	require.NoError(t, err)
	_, err = s.SetPartitionStates(ctx, []store.PartitionStateUpdate{
		{Partition: store.TopicPartition{Topic: "t", Partition: 0}, State: st, ExpectedVersion: store.NewVersion},
		{Partition: store.TopicPartition{Topic: "t", Partition: 2}, State: st, ExpectedVersion: store.NewVersion},
		{Partition: store.TopicPartition{Topic: "t", Partition: 1}, State: st, ExpectedVersion: 7},
	})
	require.ErrorIs(t, err, store.ErrBadVersion)
	assert.ErrorContains(t, err, "set state of t-1 at version 7")
}

// TestConfigChangesPurged: a config change notification older than Kafka's
// 15 minutes is deleted by the store that processes it (as every Kafka
// broker does), after its event was published; newer ones stay.
func TestConfigChangesPurged(t *testing.T) {
	ctx := context.Background()
	chroot := newChroot(t)
	fresh := open(t, ens.Connect()+chroot, sessionTimeout)
	require.NoError(t, fresh.CreateTopic(ctx, store.TopicAssignment{Name: "t", Partitions: map[int32][]int32{0: {1}}}, nil))

	// A store whose clock runs 16 minutes ahead sees every notification as
	// expired.
	late, err := zkstore.Open(ctx, zkstore.Config{Connect: ens.Connect() + chroot, SessionTimeout: sessionTimeout,
		Logger: quietLogger(), Now: func() time.Time { return time.Now().Add(16 * time.Minute) }})
	require.NoError(t, err)
	defer late.Close()
	sub := late.Subscribe(store.EventTopicConfig)
	defer sub.Close()

	c := plainClient(t)
	require.NoError(t, fresh.SetTopicConfig(ctx, "t", map[string]string{"retention.ms": "5"}))
	waitEvent(t, sub, store.Event{Kind: store.EventTopicConfig, Topic: "t"})
	eventually(t, "notification purged", func() error {
		names, _, err := c.Children(chroot + "/config/changes")
		if err == nil && len(names) > 0 {
			err = fmt.Errorf("still there: %v", names)
		}
		return err
	})
	cfg, err := late.TopicConfig(ctx, "t")
	require.NoError(t, err)
	assert.Equal(t, "5", cfg["retention.ms"])
}

// TestReassignmentZnode: /admin/reassign_partitions as Kafka's tool writes
// it (log_dirs included) is read by the store and its watch fires; the
// store rewrites it in Kafka's JSON and deletes it when emptied.
func TestReassignmentZnode(t *testing.T) {
	ctx := context.Background()
	s, root := openChroot(t)
	c := plainClient(t)
	sub := s.Subscribe(store.EventReassignment)
	defer sub.Close()
	got, err := s.PartitionReassignments(ctx)
	require.NoError(t, err)
	assert.Nil(t, got, "no request yet")

	_, err = c.Create(root+znode.ReassignPartitionsPath,
		[]byte(`{"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[1,2],"log_dirs":["any","any"]}]}`), 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)
	want := map[store.TopicPartition][]int32{{Topic: "t", Partition: 0}: {1, 2}}
	waitUntil(t, sub, store.Event{Kind: store.EventReassignment}, func() bool {
		got, err = s.PartitionReassignments(ctx)
		return err == nil && len(got) == 1
	})
	assert.Equal(t, want, got)

	want[store.TopicPartition{Topic: "u", Partition: 3}] = []int32{3}
	require.NoError(t, s.SetPartitionReassignments(ctx, want))
	v, _ := getJSON(t, c, root+znode.ReassignPartitionsPath)
	assert.Equal(t, map[string]any{"version": 1.0, "partitions": []any{
		map[string]any{"topic": "t", "partition": 0.0, "replicas": []any{1.0, 2.0}},
		map[string]any{"topic": "u", "partition": 3.0, "replicas": []any{3.0}},
	}}, v)

	require.NoError(t, s.SetPartitionReassignments(ctx, nil))
	ok, _, err := c.Exists(root + znode.ReassignPartitionsPath)
	require.NoError(t, err)
	assert.False(t, ok, "an empty request is deleted")
	require.NoError(t, s.SetPartitionReassignments(ctx, nil), "deleting what is not there is no error")
}
