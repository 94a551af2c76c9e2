package embedded

import (
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strom-broker/strom/coord/store"
	"github.com/strom-broker/strom/coord/store/storetest"
)

func openTemp(t *testing.T) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), DefaultFileName))
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestStoreContract(t *testing.T) {
	storetest.RunStoreTests(t, func(t *testing.T) store.Store { return openTemp(t) })
}

func TestPersistAcrossReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), DefaultFileName)
	s, err := Open(path)
	require.NoError(t, err)

	_, err = s.GetOrCreateClusterID(ctx, "c1uster-id-xxxxxxxxxxx")
	require.NoError(t, err)
	require.NoError(t, s.RegisterBroker(ctx, store.BrokerInfo{ID: 1, JMXPort: -1}))
	epoch, err := s.TryBecomeController(ctx, 1)
	require.NoError(t, err)
	id, err := store.NewUUID()
	require.NoError(t, err)
	a := storetest.Assignment("orders", 3, 1)
	a.ID = id
	require.NoError(t, s.CreateTopic(ctx, a, map[string]string{"retention.ms": "5"}))
	require.NoError(t, s.CreateTopic(ctx, storetest.Assignment("doomed", 1, 1), nil))
	require.NoError(t, s.MarkTopicForDeletion(ctx, "doomed"))
	tp := store.TopicPartition{Topic: "orders", Partition: 2}
	v, err := s.SetPartitionState(ctx, tp, store.PartitionState{Leader: 1, LeaderEpoch: 3, ISR: []int32{1}, ControllerEpoch: epoch}, store.NewVersion)
	require.NoError(t, err)
	_, err = s.SetPartitionState(ctx, tp, store.PartitionState{Leader: 1, LeaderEpoch: 4, ISR: []int32{1}, ControllerEpoch: epoch}, v)
	require.NoError(t, err)
	pid, err := s.AllocateProducerIDBlock(ctx, 1, 1000)
	require.NoError(t, err)

	wantTopic, err := s.Topic(ctx, "orders")
	require.NoError(t, err)
	wantStates, err := s.PartitionStates(ctx, "orders")
	require.NoError(t, err)
	require.NoError(t, s.Close())

	r, err := Open(path)
	require.NoError(t, err)
	defer r.Close()

	cid, err := r.GetOrCreateClusterID(ctx, "other")
	require.NoError(t, err)
	assert.Equal(t, "c1uster-id-xxxxxxxxxxx", cid)
	gotTopic, err := r.Topic(ctx, "orders")
	require.NoError(t, err)
	assert.Equal(t, wantTopic, gotTopic)
	gotStates, err := r.PartitionStates(ctx, "orders")
	require.NoError(t, err)
	assert.Equal(t, wantStates, gotStates)
	cfg, err := r.TopicConfig(ctx, "orders")
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"retention.ms": "5"}, cfg)
	marked, err := r.TopicsMarkedForDeletion(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"doomed"}, marked)

	// Ephemeral records are gone; persistent counters continue.
	bs, err := r.Brokers(ctx)
	require.NoError(t, err)
	assert.Empty(t, bs)
	_, err = r.Controller(ctx)
	assert.ErrorIs(t, err, store.ErrNoController)
	e2, err := r.TryBecomeController(ctx, 1)
	require.NoError(t, err)
	assert.Equal(t, epoch+1, e2)
	pid2, err := r.AllocateProducerIDBlock(ctx, 1, 1000)
	require.NoError(t, err)
	assert.Equal(t, pid.End+1, pid2.Start)
}

func TestFileIsKafkaZnodeLayout(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	require.NoError(t, s.CreateTopic(ctx, storetest.Assignment("t", 1, 1), nil))
	_, err := s.SetPartitionState(ctx, store.TopicPartition{Topic: "t"}, store.PartitionState{Leader: 1, ISR: []int32{1}, ControllerEpoch: 2}, store.NewVersion)
	require.NoError(t, err)

	var f struct {
		Format int `json:"format"`
		Znodes map[string]struct {
			Version int32           `json:"version"`
			Data    json.RawMessage `json:"data"`
		} `json:"znodes"`
	}
	data, err := os.ReadFile(s.Path())
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &f))
	assert.Equal(t, 1, f.Format)
	assert.JSONEq(t, `{"version":2,"partitions":{"0":[1]},"adding_replicas":{},"removing_replicas":{}}`,
		string(f.Znodes["/brokers/topics/t"].Data))
	assert.JSONEq(t, `{"controller_epoch":2,"leader":1,"version":1,"leader_epoch":0,"isr":[1]}`,
		string(f.Znodes["/brokers/topics/t/partitions/0/state"].Data))
	assert.JSONEq(t, `{"version":1,"config":{}}`, string(f.Znodes["/config/topics/t"].Data))
}

func TestCorruptFile(t *testing.T) {
	valid := `{"format":1,"znodes":{"/brokers/topics/t":{"version":0,"data":{"version":2,"partitions":{"0":[1]}}}}}`
	tests := []struct {
		name string
		data string
	}{
		{"empty file", ``},
		{"truncated", valid[:len(valid)/2]},
		{"not an object", `[1,2]`},
		{"future format", `{"format":2,"znodes":{}}`},
		{"bad topic json", `{"format":1,"znodes":{"/brokers/topics/t":{"version":0,"data":{"partitions":{"x":[1]}}}}}`},
		{"unknown znode", `{"format":1,"znodes":{"/strange":{"version":0,"data":null}}}`},
		{"state without topic", `{"format":1,"znodes":{"/brokers/topics/u/partitions/0/state":{"version":0,"data":{"controller_epoch":1,"leader":1,"leader_epoch":0,"isr":[1]}}}}`},
		{"state of unassigned partition", strings.Replace(valid, `}}}}`,
			`}}},"/brokers/topics/t/partitions/5/state":{"version":0,"data":{"controller_epoch":1,"leader":1,"leader_epoch":0,"isr":[1]}}}}`, 1)},
		{"config without topic", `{"format":1,"znodes":{"/config/topics/u":{"version":0,"data":{"version":1,"config":{}}}}}`},
		{"bad controller epoch", `{"format":1,"znodes":{"/controller_epoch":{"version":0,"data":"x"}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), DefaultFileName)
			require.NoError(t, os.WriteFile(path, []byte(tt.data), 0o644))
			_, err := Open(path)
			require.ErrorIs(t, err, store.ErrCorrupt)
			assert.Contains(t, err.Error(), path, "the error names the file")
		})
	}
	t.Run("valid control", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), DefaultFileName)
		require.NoError(t, os.WriteFile(path, []byte(valid), 0o644))
		s, err := Open(path)
		require.NoError(t, err)
		defer s.Close()
		names, err := s.Topics(context.Background())
		require.NoError(t, err)
		assert.Equal(t, []string{"t"}, names)
	})
}

func TestFailedSaveChangesNothing(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	require.NoError(t, os.Mkdir(dir, 0o755))
	s, err := Open(filepath.Join(dir, DefaultFileName))
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.CreateTopic(ctx, storetest.Assignment("a", 1, 1), nil))
	sub := s.Subscribe()
	defer sub.Close()

	// Take the directory away so the next save cannot create its temp file.
	require.NoError(t, os.RemoveAll(dir))
	err = s.CreateTopic(ctx, storetest.Assignment("b", 1, 1), nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "save metadata")

	names, err := s.Topics(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"a"}, names)
	assert.Empty(t, sub.Drain(), "no event for a change that did not happen")
}

func TestOpenRemovesTempLeftovers(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, DefaultFileName)
	leftover := path + ".tmp-12345"
	require.NoError(t, os.WriteFile(leftover, []byte("half a snapshot"), 0o644))
	s, err := Open(path)
	require.NoError(t, err)
	defer s.Close()
	_, err = os.Stat(leftover)
	assert.ErrorIs(t, err, fs.ErrNotExist)
}

func TestOpenIsExclusive(t *testing.T) {
	path := filepath.Join(t.TempDir(), DefaultFileName)
	s, err := Open(path)
	require.NoError(t, err)
	_, err = Open(path)
	assert.ErrorIs(t, err, ErrLocked)
	require.NoError(t, s.Close())
	again, err := Open(path)
	require.NoError(t, err, "closing releases the lock")
	require.NoError(t, again.Close())
}
