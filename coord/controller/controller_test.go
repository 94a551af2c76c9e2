package controller

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strom-broker/strom/coord/embedded"
	"github.com/strom-broker/strom/coord/store"
)

// cluster is a store with registered brokers and broker ids[0] as active
// controller.
type cluster struct {
	s store.Store
	c *Controller
}

func quietOptions() Options {
	return Options{Rand: func(int) int { return 0 }, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

func newCluster(t *testing.T, opts Options, ids ...int32) cluster {
	t.Helper()
	s, err := embedded.Open(filepath.Join(t.TempDir(), embedded.DefaultFileName))
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	ctx := context.Background()
	for _, id := range ids {
		require.NoError(t, s.RegisterBroker(ctx, store.BrokerInfo{ID: id, JMXPort: -1}))
	}
	c, err := New(s, ids[0], opts)
	require.NoError(t, err)
	ok, err := c.Elect(ctx)
	require.NoError(t, err)
	require.True(t, ok)
	return cluster{s: s, c: c}
}

func (cl cluster) state(t *testing.T, topic string, p int32) store.PartitionState {
	t.Helper()
	st, err := cl.s.PartitionState(context.Background(), store.TopicPartition{Topic: topic, Partition: p})
	require.NoError(t, err)
	return st
}

func TestOptionsValidate(t *testing.T) {
	err := Options{DefaultPartitions: -1, DefaultReplicationFactor: -2}.Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "num.partitions")
	assert.Contains(t, err.Error(), "default.replication.factor")
	assert.NoError(t, Options{}.Validate())
}

func TestCreateTopic(t *testing.T) {
	ctx := context.Background()
	cl := newCluster(t, quietOptions(), 1, 2, 3)
	_, epoch := cl.c.Active()

	a, err := cl.c.CreateTopic(ctx, TopicSpec{Name: "orders", NumPartitions: 6, ReplicationFactor: 2,
		Configs: map[string]string{"retention.ms": "100"}}, false)
	require.NoError(t, err)
	assert.False(t, a.ID.IsZero())
	assert.Equal(t, AssignReplicas([]int32{1, 2, 3}, 6, 2, 0, 0, 0), a.Partitions)

	stored, err := cl.s.Topic(ctx, "orders")
	require.NoError(t, err)
	assert.Equal(t, a.Partitions, stored.Partitions)
	assert.Equal(t, a.ID, stored.ID)
	cfg, err := cl.s.TopicConfig(ctx, "orders")
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"retention.ms": "100"}, cfg)

	for p, replicas := range a.Partitions {
		assert.Equal(t, store.PartitionState{Leader: replicas[0], LeaderEpoch: 0, ISR: replicas, ControllerEpoch: epoch},
			cl.state(t, "orders", p), "partition %d", p)
	}
}

func TestCreateTopicDefaultsAndValidateOnly(t *testing.T) {
	ctx := context.Background()
	opts := quietOptions()
	opts.DefaultPartitions, opts.DefaultReplicationFactor = 4, 2
	cl := newCluster(t, opts, 1, 2)

	a, err := cl.c.CreateTopic(ctx, TopicSpec{Name: "dry", NumPartitions: -1, ReplicationFactor: -1}, true)
	require.NoError(t, err)
	assert.Len(t, a.Partitions, 4)
	assert.Len(t, a.Partitions[0], 2)
	_, err = cl.s.Topic(ctx, "dry")
	assert.ErrorIs(t, err, store.ErrUnknownTopic, "validateOnly writes nothing")

	explicit := map[int32][]int32{0: {2, 1}, 1: {1, 2}}
	a, err = cl.c.CreateTopic(ctx, TopicSpec{Name: "explicit", NumPartitions: -1, ReplicationFactor: -1, Assignment: explicit}, false)
	require.NoError(t, err)
	assert.Equal(t, explicit, a.Partitions)
	assert.Equal(t, int32(2), cl.state(t, "explicit", 0).Leader, "first replica leads")
}

func TestCreateTopicErrors(t *testing.T) {
	ctx := context.Background()
	opts := quietOptions()
	opts.ValidateTopicConfig = func(_ string, c map[string]string) error {
		if c["bad"] != "" {
			return errors.New("unknown key bad")
		}
		return nil
	}
	cl := newCluster(t, opts, 1, 2)
	_, err := cl.c.CreateTopic(ctx, TopicSpec{Name: "metrics_cpu", NumPartitions: 1, ReplicationFactor: 1}, false)
	require.NoError(t, err)

	tests := []struct {
		name string
		spec TopicSpec
		want error
	}{
		{"bad name", TopicSpec{Name: "a/b", NumPartitions: 1, ReplicationFactor: 1}, ErrInvalidTopicName},
		{"exists", TopicSpec{Name: "metrics_cpu", NumPartitions: 1, ReplicationFactor: 1}, ErrTopicExists},
		{"collision", TopicSpec{Name: "metrics.cpu", NumPartitions: 1, ReplicationFactor: 1}, ErrTopicNameCollision},
		{"zero partitions", TopicSpec{Name: "t", NumPartitions: 0, ReplicationFactor: 1}, ErrInvalidPartitions},
		{"zero rf", TopicSpec{Name: "t", NumPartitions: 1, ReplicationFactor: 0}, ErrInvalidReplicationFactor},
		{"rf above live brokers", TopicSpec{Name: "t", NumPartitions: 1, ReplicationFactor: 3}, ErrInvalidReplicationFactor},
		{"assignment and counts", TopicSpec{Name: "t", NumPartitions: 1, ReplicationFactor: -1, Assignment: map[int32][]int32{0: {1}}}, ErrInvalidRequest},
		{"assignment unknown broker", TopicSpec{Name: "t", NumPartitions: -1, ReplicationFactor: -1, Assignment: map[int32][]int32{0: {7}}}, ErrInvalidReplicaAssignment},
		{"assignment gap", TopicSpec{Name: "t", NumPartitions: -1, ReplicationFactor: -1, Assignment: map[int32][]int32{1: {1}}}, ErrInvalidReplicaAssignment},
		{"bad config", TopicSpec{Name: "t", NumPartitions: 1, ReplicationFactor: 1, Configs: map[string]string{"bad": "x"}}, ErrInvalidConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := cl.c.CreateTopic(ctx, tt.spec, false)
			assert.ErrorIs(t, err, tt.want)
			_, err = cl.c.CreateTopic(ctx, tt.spec, true)
			assert.ErrorIs(t, err, tt.want, "validateOnly checks the same")
		})
	}
	names, err := cl.s.Topics(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"metrics_cpu"}, names, "no failed request wrote anything")
}

// TestAdminOnAnyBroker: as in Kafka's ZooKeeper mode, a broker that is
// not the controller writes admin requests to the store and the active
// controller acts on them when its watch fires.
func TestAdminOnAnyBroker(t *testing.T) {
	ctx := context.Background()
	cl := newCluster(t, quietOptions(), 1, 2)
	other, err := New(cl.s, 2, quietOptions())
	require.NoError(t, err)
	ok, err := other.Elect(ctx)
	require.NoError(t, err)
	assert.False(t, ok, "broker 1 holds control")
	assert.ErrorIs(t, other.OnBrokerGone(ctx, 1), ErrNotController, "elections stay the controller's")

	a, err := other.CreateTopic(ctx, TopicSpec{Name: "t", NumPartitions: 2, ReplicationFactor: 2}, false)
	require.NoError(t, err)
	stored, err := cl.s.Topic(ctx, "t")
	require.NoError(t, err)
	assert.Equal(t, a.Partitions, stored.Partitions, "the assignment is written by the broker that was asked")
	states, err := cl.s.PartitionStates(ctx, "t")
	require.NoError(t, err)
	assert.Empty(t, states, "only the controller elects leaders")
	require.NoError(t, other.OnTopicChange(ctx, "t"), "a non-controller ignores the watch")
	states, err = cl.s.PartitionStates(ctx, "t")
	require.NoError(t, err)
	assert.Empty(t, states)

	require.NoError(t, cl.c.OnTopicChange(ctx, "t"))
	assert.Equal(t, int32(0), cl.state(t, "t", 0).LeaderEpoch)
	assert.Equal(t, int32(0), cl.state(t, "t", 1).LeaderEpoch)

	_, err = other.CreatePartitions(ctx, "t", 3, nil, false)
	require.NoError(t, err)
	require.NoError(t, cl.c.OnTopicChange(ctx, "t"))
	st := cl.state(t, "t", 2)
	assert.Len(t, st.ISR, 2, "the added partition got its first state from the controller")

	require.NoError(t, other.DeleteTopic(ctx, "t"))
	marked, err := cl.s.TopicsMarkedForDeletion(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"t"}, marked, "a non-controller only marks the topic")
	require.NoError(t, cl.c.OnTopicChange(ctx, "t"))
	_, err = cl.s.Topic(ctx, "t")
	assert.ErrorIs(t, err, store.ErrUnknownTopic, "the controller finishes the deletion")

	// Broker 1 leaves; broker 2 takes over with the next epoch, and broker
	// 1's controller notices it lost control.
	_, e1 := cl.c.Active()
	require.NoError(t, cl.s.UnregisterBroker(ctx, 1))
	ok, err = other.Elect(ctx)
	require.NoError(t, err)
	require.True(t, ok)
	_, e2 := other.Active()
	assert.Equal(t, e1+1, e2)
	assert.ErrorIs(t, cl.c.Reconcile(ctx), ErrNotController)
	active, _ := cl.c.Active()
	assert.False(t, active)
}

// TestRunActsOnTopicWrites: a topic written straight into the store (a
// plain ZooKeeper client, the 0.8 tool) gets leaders from Run.
func TestRunActsOnTopicWrites(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cl := newCluster(t, quietOptions(), 1)
	done := make(chan error, 1)
	go func() { done <- cl.c.Run(ctx) }()
	require.NoError(t, cl.s.CreateTopic(ctx, store.TopicAssignment{Name: "raw", Partitions: map[int32][]int32{0: {1}}}, nil))
	require.Eventually(t, func() bool {
		_, err := cl.s.PartitionState(ctx, store.TopicPartition{Topic: "raw", Partition: 0})
		return err == nil
	}, time.Minute, 5*time.Millisecond)
	assert.Equal(t, int32(1), cl.state(t, "raw", 0).Leader)
	a, err := cl.s.Topic(ctx, "raw")
	require.NoError(t, err)
	assert.False(t, a.ID.IsZero(), "a topic written without an id gets one")
	cancel()
	assert.ErrorIs(t, <-done, context.Canceled)
}

func TestCreatePartitions(t *testing.T) {
	ctx := context.Background()
	cl := newCluster(t, quietOptions(), 1, 2, 3)
	a, err := cl.c.CreateTopic(ctx, TopicSpec{Name: "t", NumPartitions: 3, ReplicationFactor: 2}, false)
	require.NoError(t, err)

	_, err = cl.c.CreatePartitions(ctx, "t", 3, nil, false)
	assert.ErrorIs(t, err, ErrInvalidPartitions)
	_, err = cl.c.CreatePartitions(ctx, "t", 2, nil, false)
	assert.ErrorIs(t, err, ErrInvalidPartitions)
	_, err = cl.c.CreatePartitions(ctx, "nope", 5, nil, false)
	assert.ErrorIs(t, err, ErrUnknownTopic)
	_, err = cl.c.CreatePartitions(ctx, "t", 5, [][]int32{{1, 2}}, false)
	assert.ErrorIs(t, err, ErrInvalidReplicaAssignment, "two new partitions, one assignment")
	_, err = cl.c.CreatePartitions(ctx, "t", 4, [][]int32{{1}}, false)
	assert.ErrorIs(t, err, ErrInvalidReplicaAssignment, "replication factor must match")

	dry, err := cl.c.CreatePartitions(ctx, "t", 5, nil, true)
	require.NoError(t, err)
	assert.Len(t, dry.Partitions, 5)
	cur, err := cl.s.Topic(ctx, "t")
	require.NoError(t, err)
	assert.Len(t, cur.Partitions, 3, "validateOnly writes nothing")

	grown, err := cl.c.CreatePartitions(ctx, "t", 6, nil, false)
	require.NoError(t, err)
	require.Len(t, grown.Partitions, 6)
	for p := range int32(3) {
		assert.Equal(t, a.Partitions[p], grown.Partitions[p], "existing partitions unchanged")
	}
	for p := int32(3); p < 6; p++ {
		r := grown.Partitions[p]
		assert.Len(t, r, 2)
		assert.Equal(t, r[0], cl.state(t, "t", p).Leader, "new partition %d has a state", p)
	}

	explicit, err := cl.c.CreatePartitions(ctx, "t", 7, [][]int32{{3, 1}}, false)
	require.NoError(t, err)
	assert.Equal(t, []int32{3, 1}, explicit.Partitions[6])
	assert.Equal(t, int32(3), cl.state(t, "t", 6).Leader)
}

func TestDeleteTopic(t *testing.T) {
	ctx := context.Background()
	cl := newCluster(t, quietOptions(), 1)
	_, err := cl.c.CreateTopic(ctx, TopicSpec{Name: "t", NumPartitions: 2, ReplicationFactor: 1}, false)
	require.NoError(t, err)
	require.NoError(t, cl.c.DeleteTopic(ctx, "t"))
	_, err = cl.s.Topic(ctx, "t")
	assert.ErrorIs(t, err, ErrUnknownTopic)
	assert.ErrorIs(t, cl.c.DeleteTopic(ctx, "t"), ErrUnknownTopic)

	// A deletion request left behind (crash between mark and delete) is
	// finished by Reconcile.
	_, err = cl.c.CreateTopic(ctx, TopicSpec{Name: "u", NumPartitions: 1, ReplicationFactor: 1}, false)
	require.NoError(t, err)
	require.NoError(t, cl.s.MarkTopicForDeletion(ctx, "u"))
	_, err = cl.c.CreatePartitions(ctx, "u", 2, nil, false)
	assert.ErrorIs(t, err, ErrTopicMarkedForDeletion)
	require.NoError(t, cl.c.Reconcile(ctx))
	names, err := cl.s.Topics(ctx)
	require.NoError(t, err)
	assert.Empty(t, names)
}

func TestAlterTopicConfig(t *testing.T) {
	ctx := context.Background()
	opts := quietOptions()
	opts.ValidateTopicConfig = func(_ string, c map[string]string) error {
		if _, ok := c["nope"]; ok {
			return errors.New("unknown config nope")
		}
		return nil
	}
	cl := newCluster(t, opts, 1)
	_, err := cl.c.CreateTopic(ctx, TopicSpec{Name: "t", NumPartitions: 1, ReplicationFactor: 1}, false)
	require.NoError(t, err)

	assert.ErrorIs(t, cl.c.AlterTopicConfig(ctx, "t", map[string]string{"nope": "1"}, false), ErrInvalidConfig)
	assert.ErrorIs(t, cl.c.AlterTopicConfig(ctx, "x", nil, false), ErrUnknownTopic)
	require.NoError(t, cl.c.AlterTopicConfig(ctx, "t", map[string]string{"retention.ms": "1"}, true))
	cfg, err := cl.s.TopicConfig(ctx, "t")
	require.NoError(t, err)
	assert.Empty(t, cfg, "validateOnly writes nothing")
	require.NoError(t, cl.c.AlterTopicConfig(ctx, "t", map[string]string{"retention.ms": "1"}, false))
	cfg, err = cl.s.TopicConfig(ctx, "t")
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"retention.ms": "1"}, cfg)
}

func TestOnBrokerGoneElectsFromISR(t *testing.T) {
	ctx := context.Background()
	cl := newCluster(t, quietOptions(), 1, 2, 3)
	_, err := cl.c.CreateTopic(ctx, TopicSpec{Name: "t", NumPartitions: -1, ReplicationFactor: -1,
		Assignment: map[int32][]int32{0: {1, 2, 3}, 1: {2, 3, 1}, 2: {3, 1, 2}}}, false)
	require.NoError(t, err)
	_, epoch := cl.c.Active()

	require.NoError(t, cl.c.OnBrokerGone(ctx, 2))
	assert.Equal(t, store.PartitionState{Leader: 1, LeaderEpoch: 1, ISR: []int32{1, 3}, ControllerEpoch: epoch, Version: 1}, cl.state(t, "t", 0),
		"follower lost: ISR shrinks, leader stays, epoch bumps")
	assert.Equal(t, store.PartitionState{Leader: 3, LeaderEpoch: 1, ISR: []int32{3, 1}, ControllerEpoch: epoch, Version: 1}, cl.state(t, "t", 1),
		"leader lost: next replica in the ISR leads")

	leaders := map[int32]int32{}
	for p := range int32(3) {
		leaders[p] = cl.state(t, "t", p).Leader
	}
	assert.Equal(t, map[int32]int32{0: 1, 1: 3, 2: 3}, leaders, "broker 3 follows 0 and leads 1 and 2; the dead broker 2 leads nothing")
}

func TestNoElectionOutsideISR(t *testing.T) {
	for _, unclean := range []bool{false, true} {
		t.Run(map[bool]string{false: "clean", true: "unclean"}[unclean], func(t *testing.T) {
			ctx := context.Background()
			cl := newCluster(t, quietOptions(), 3, 1, 2) // broker 3 controls
			cfg := map[string]string{}
			if unclean {
				cfg[UncleanLeaderElectionConfig] = "true"
			}
			_, err := cl.c.CreateTopic(ctx, TopicSpec{Name: "t", NumPartitions: -1, ReplicationFactor: -1,
				Assignment: map[int32][]int32{0: {1, 2, 3}}, Configs: cfg}, false)
			require.NoError(t, err)
			// The leader shrank the ISR to itself (followers fell behind).
			tp := store.TopicPartition{Topic: "t", Partition: 0}
			cur := cl.state(t, "t", 0)
			cur.ISR = []int32{1}
			cur.LeaderEpoch++
			_, err = cl.s.SetPartitionState(ctx, tp, cur, cur.Version)
			require.NoError(t, err)

			require.NoError(t, cl.s.UnregisterBroker(ctx, 1))
			require.NoError(t, cl.c.Reconcile(ctx))
			st := cl.state(t, "t", 0)
			if unclean {
				assert.Equal(t, int32(2), st.Leader, "unclean: first live replica")
				assert.Equal(t, []int32{2}, st.ISR)
			} else {
				assert.Equal(t, store.NoLeader, st.Leader, "clean: offline rather than lose records")
				assert.Equal(t, []int32{1}, st.ISR, "the last in-sync replica is remembered")
			}
			assert.Equal(t, cur.LeaderEpoch+1, st.LeaderEpoch)

			// Broker 1 returns: it leads again (clean) or rejoins nothing (unclean).
			require.NoError(t, cl.s.RegisterBroker(ctx, store.BrokerInfo{ID: 1, JMXPort: -1}))
			require.NoError(t, cl.c.Reconcile(ctx))
			st = cl.state(t, "t", 0)
			if unclean {
				assert.Equal(t, int32(2), st.Leader)
			} else {
				assert.Equal(t, int32(1), st.Leader)
				assert.Equal(t, []int32{1}, st.ISR)
			}
		})
	}
}

func TestRunFailsOverAndReelects(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cl := newCluster(t, quietOptions(), 1, 2)
	_, err := cl.c.CreateTopic(ctx, TopicSpec{Name: "t", NumPartitions: -1, ReplicationFactor: -1,
		Assignment: map[int32][]int32{0: {1, 2}}}, false)
	require.NoError(t, err)

	c2, err := New(cl.s, 2, quietOptions())
	require.NoError(t, err)
	states := cl.s.Subscribe(store.EventPartitionState)
	defer states.Close()
	done := make(chan error, 1)
	go func() { done <- c2.Run(ctx) }()

	// Broker 1 (controller and leader) dies: broker 2 becomes controller
	// and leader.
	require.NoError(t, cl.s.UnregisterBroker(ctx, 1))
	deadline := time.After(20 * time.Second)
	for cl.state(t, "t", 0).Leader != 2 {
		select {
		case <-states.Ready():
			states.Drain()
		case <-deadline:
			t.Fatalf("no failover; state %+v", cl.state(t, "t", 0))
		}
	}
	active, _ := c2.Active()
	assert.True(t, active)
	cancel()
	assert.ErrorIs(t, <-done, context.Canceled)
}

// racingStore makes the first batch write lose a race: just before it, a
// "concurrent writer" bumps the version of the batch's first partition.
type racingStore struct {
	store.Store
	raced bool
}

func (r *racingStore) SetPartitionStates(ctx context.Context, updates []store.PartitionStateUpdate) ([]int32, error) {
	if !r.raced && len(updates) > 0 && updates[0].ExpectedVersion != store.NewVersion {
		r.raced = true
		u := updates[0]
		cur, err := r.Store.PartitionState(ctx, u.Partition)
		if err != nil {
			return nil, err
		}
		if _, err := r.Store.SetPartitionState(ctx, u.Partition, cur, cur.Version); err != nil {
			return nil, err
		}
	}
	return r.Store.SetPartitionStates(ctx, updates)
}

func TestReconcileRetriesAfterLostRace(t *testing.T) {
	ctx := context.Background()
	cl := newCluster(t, quietOptions(), 3, 1, 2)
	_, err := cl.c.CreateTopic(ctx, TopicSpec{Name: "t", NumPartitions: -1, ReplicationFactor: -1,
		Assignment: map[int32][]int32{0: {1, 2, 3}, 1: {1, 3, 2}}}, false)
	require.NoError(t, err)

	rs := &racingStore{Store: cl.s}
	c, err := New(rs, 3, quietOptions())
	require.NoError(t, err)
	c.active, c.epoch = cl.c.Active() // the same controller, seen through the racing store
	c.fenced = rs                     // (fencing is not under test here)
	require.NoError(t, c.OnBrokerGone(ctx, 1))
	require.True(t, rs.raced)

	st0 := cl.state(t, "t", 0)
	assert.Equal(t, int32(2), st0.Leader)
	assert.Equal(t, []int32{2, 3}, st0.ISR)
	assert.Equal(t, int32(2), st0.Version, "the racing write and ours")
	st1 := cl.state(t, "t", 1)
	assert.Equal(t, int32(3), st1.Leader)
	assert.Equal(t, []int32{3, 2}, st1.ISR)
}

// TestZombieControllerWritesNothing: a controller that lost its election
// without noticing (paused past its session, say) has every decision
// refused by the store; its successor's states stand.
func TestZombieControllerWritesNothing(t *testing.T) {
	ctx := context.Background()
	cl := newCluster(t, quietOptions(), 1, 2, 3)
	_, err := cl.c.CreateTopic(ctx, TopicSpec{Name: "t", NumPartitions: 3, ReplicationFactor: 2}, false)
	require.NoError(t, err)
	before := map[int32]store.PartitionState{}
	for p := range int32(3) {
		before[p] = cl.state(t, "t", p)
	}

	// Broker 2 is elected behind broker 1's back.
	require.NoError(t, cl.s.ResignController(ctx, 1))
	successor, err := New(cl.s, 2, quietOptions())
	require.NoError(t, err)
	ok, err := successor.Elect(ctx)
	require.NoError(t, err)
	require.True(t, ok)

	// Broker 3 dies; the zombie, still believing itself active, tries to
	// elect new leaders straight away (skipping its liveness check).
	require.NoError(t, cl.s.UnregisterBroker(ctx, 3))
	cl.c.mu.Lock()
	err = cl.c.reconcile(ctx, map[int32]bool{1: true, 2: true})
	cl.c.mu.Unlock()
	require.ErrorIs(t, err, store.ErrControllerMoved)
	for p := range int32(3) {
		assert.Equal(t, before[p], cl.state(t, "t", p), "partition %d: the zombie changed nothing", p)
	}

	// The successor's decisions are written.
	require.NoError(t, successor.Reconcile(ctx))
	for p := range int32(3) {
		st := cl.state(t, "t", p)
		assert.NotContains(t, st.ISR, int32(3))
		_, e2 := successor.Active()
		if !assert.ObjectsAreEqual(before[p].ISR, st.ISR) {
			assert.Equal(t, e2, st.ControllerEpoch, "partition %d changed by the successor", p)
		}
	}
}

// TestLargeTopicWrittenInBatches: a topic with more partitions than one
// atomic write holds gets every state (written maxStatesPerWrite at a time).
func TestLargeTopicWrittenInBatches(t *testing.T) {
	ctx := context.Background()
	cl := newCluster(t, quietOptions(), 1, 2)
	n := int32(2*maxStatesPerWrite + 7)
	_, err := cl.c.CreateTopic(ctx, TopicSpec{Name: "big", NumPartitions: n, ReplicationFactor: 1}, false)
	require.NoError(t, err)
	states, err := cl.s.PartitionStates(ctx, "big")
	require.NoError(t, err)
	assert.Len(t, states, int(n))
}

// TestCreateTopicRackAware: with every broker in a rack, a topic's
// partitions span the racks; with only some brokers in racks, creation is
// refused as Kafka refuses it.
func TestCreateTopicRackAware(t *testing.T) {
	ctx := context.Background()
	s, err := embedded.Open(filepath.Join(t.TempDir(), embedded.DefaultFileName))
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	racks := map[int32]string{1: "a", 2: "a", 3: "b", 4: "b", 5: "c", 6: "c"}
	for id, r := range racks {
		require.NoError(t, s.RegisterBroker(ctx, store.BrokerInfo{ID: id, Rack: r, JMXPort: -1}))
	}
	c, err := New(s, 1, quietOptions())
	require.NoError(t, err)
	_, err = c.Elect(ctx)
	require.NoError(t, err)
	a, err := c.CreateTopic(ctx, TopicSpec{Name: "racked", NumPartitions: 12, ReplicationFactor: 3}, false)
	require.NoError(t, err)
	for p, reps := range a.Partitions {
		seen := map[string]bool{}
		for _, b := range reps {
			seen[racks[b]] = true
		}
		assert.Len(t, seen, 3, "partition %d %v spans the three racks", p, reps)
	}
	grown, err := c.CreatePartitions(ctx, "racked", 18, nil, false)
	require.NoError(t, err)
	for p := int32(12); p < 18; p++ {
		seen := map[string]bool{}
		for _, b := range grown.Partitions[p] {
			seen[racks[b]] = true
		}
		assert.Len(t, seen, 3, "added partition %d spans the three racks", p)
	}

	require.NoError(t, s.RegisterBroker(ctx, store.BrokerInfo{ID: 7, JMXPort: -1})) // no rack
	_, err = c.CreateTopic(ctx, TopicSpec{Name: "mixed", NumPartitions: 1, ReplicationFactor: 1}, false)
	assert.ErrorIs(t, err, ErrInvalidRequest)
	assert.Contains(t, err.Error(), "rack")
}
