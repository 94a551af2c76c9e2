package controller

import (
	"context"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strom-broker/strom/coord/metacache"
	"github.com/strom-broker/strom/coord/store"
)

// simBroker is what a broker keeps from the control requests it receives:
// its metadata cache and its local replicas with their leader epochs.
type simBroker struct {
	fence    *metacache.Fence
	cache    *metacache.Cache
	replicas map[store.TopicPartition]LeaderAndIsrPartition
	deleted  []store.TopicPartition
	refused  int
}

// simBrokers applies control requests to brokers as a Sender, in order.
type simBrokers map[int32]*simBroker

func (s simBrokers) Send(to store.BrokerInfo, req any) {
	b := s[to.ID]
	if b == nil {
		b = &simBroker{fence: metacache.NewFence(-1), cache: metacache.New(), replicas: map[store.TopicPartition]LeaderAndIsrPartition{}}
		s[to.ID] = b
	}
	if b.fence.Check(epochsOf(req)) != nil {
		b.refused++
		return
	}
	switch r := req.(type) {
	case *LeaderAndIsr:
		for _, p := range r.Partitions {
			tp := store.TopicPartition{Topic: p.Topic, Partition: p.Partition}
			if cur, ok := b.replicas[tp]; ok && p.LeaderEpoch <= cur.LeaderEpoch && !p.IsNew {
				continue // Kafka: an older or equal leader epoch is stale
			}
			b.replicas[tp] = p
		}
	case *metacache.Update:
		b.cache.Apply(*r)
	case *StopReplica:
		for _, p := range r.Partitions {
			tp := store.TopicPartition{Topic: p.Topic, Partition: p.Partition}
			delete(b.replicas, tp)
			if p.Delete {
				b.deleted = append(b.deleted, tp)
			}
		}
	}
}

// epochsOf returns a control request's controller and broker epochs.
func epochsOf(req any) (int32, int64) {
	switch r := req.(type) {
	case *LeaderAndIsr:
		return r.ControllerEpoch, r.BrokerEpoch
	case *metacache.Update:
		return r.ControllerEpoch, r.BrokerEpoch
	case *StopReplica:
		return r.ControllerEpoch, r.BrokerEpoch
	}
	panic("not a control request")
}

// checkAgree asserts that every live broker's cache holds exactly the
// store's partitions with the store's leader, epoch and ISR, and that each
// live replica knows its partition's current leader epoch.
func checkAgree(t *testing.T, s store.Store, sim simBrokers) {
	t.Helper()
	ctx := context.Background()
	brokers, err := s.Brokers(ctx)
	require.NoError(t, err)
	topics, err := s.Topics(ctx)
	require.NoError(t, err)
	for _, br := range brokers {
		b := sim[br.ID]
		require.NotNil(t, b, "broker %d received nothing", br.ID)
		snap := b.cache.Snapshot()
		assert.Equal(t, topics, snap.Topics(), "broker %d: cached topics", br.ID)
		assert.Len(t, snap.Brokers(), len(brokers), "broker %d: live brokers", br.ID)
		for _, name := range topics {
			a, err := s.Topic(ctx, name)
			require.NoError(t, err)
			states, err := s.PartitionStates(ctx, name)
			require.NoError(t, err)
			assert.Equal(t, a.ID, snap.TopicID(name), "broker %d: id of %s", br.ID, name)
			for p, st := range states {
				got, ok := snap.Partition(name, p)
				require.True(t, ok, "broker %d: %s-%d not cached", br.ID, name, p)
				assert.Equal(t, st.Leader, got.Leader, "broker %d: leader of %s-%d", br.ID, name, p)
				assert.Equal(t, st.LeaderEpoch, got.LeaderEpoch, "broker %d: epoch of %s-%d", br.ID, name, p)
				assert.Equal(t, st.ISR, got.ISR, "broker %d: isr of %s-%d", br.ID, name, p)
				assert.Equal(t, st.Version, got.PartitionEpoch, "broker %d: partition epoch of %s-%d", br.ID, name, p)
				if slices.Contains(a.Partitions[p], br.ID) {
					r, ok := b.replicas[store.TopicPartition{Topic: name, Partition: p}]
					require.True(t, ok, "broker %d hosts %s-%d but got no LeaderAndIsr", br.ID, name, p)
					assert.Equal(t, st.LeaderEpoch, r.LeaderEpoch, "broker %d: replica epoch of %s-%d", br.ID, name, p)
					assert.Equal(t, st.Leader, r.Leader)
				}
			}
		}
	}
}

func newPushCluster(t *testing.T, ids ...int32) (cluster, simBrokers) {
	t.Helper()
	sim := simBrokers{}
	opts := quietOptions()
	opts.Sender = sim
	return newCluster(t, opts, ids...), sim
}

// electPushing makes broker id the controller, sending to sim.
func electPushing(t *testing.T, s store.Store, id int32, sim simBrokers) {
	t.Helper()
	opts := quietOptions()
	opts.Sender = sim
	c, err := New(s, id, opts)
	require.NoError(t, err)
	ok, err := c.Elect(context.Background())
	require.NoError(t, err)
	require.True(t, ok)
}

func TestPushFailoverSendsEverything(t *testing.T) {
	ctx := context.Background()
	cl := newCluster(t, quietOptions(), 1, 2, 3) // no sender: nothing pushed yet
	_, err := cl.c.CreateTopic(ctx, TopicSpec{Name: "a", NumPartitions: 4, ReplicationFactor: 2}, false)
	require.NoError(t, err)
	require.NoError(t, cl.c.Resign(ctx))

	sim := simBrokers{}
	electPushing(t, cl.s, 2, sim)
	checkAgree(t, cl.s, sim)
	for id, b := range sim {
		ctrl, known := b.cache.Snapshot().Controller()
		assert.True(t, known)
		assert.Equal(t, int32(2), ctrl, "broker %d learns the new controller", id)
	}
}

func TestPushCreateTopicMarksNew(t *testing.T) {
	ctx := context.Background()
	cl, sim := newPushCluster(t, 1, 2, 3)
	_, err := cl.c.CreateTopic(ctx, TopicSpec{Name: "a", NumPartitions: 3, ReplicationFactor: 3}, false)
	require.NoError(t, err)
	checkAgree(t, cl.s, sim)
	for _, b := range sim {
		for _, r := range b.replicas {
			assert.True(t, r.IsNew, "first LeaderAndIsr of a new partition says IsNew")
		}
	}
	_, err = cl.c.CreatePartitions(ctx, "a", 5, nil, false)
	require.NoError(t, err)
	checkAgree(t, cl.s, sim)
}

func TestPushBrokerLossAndReturn(t *testing.T) {
	ctx := context.Background()
	cl, sim := newPushCluster(t, 1, 2, 3)
	_, err := cl.c.CreateTopic(ctx, TopicSpec{Name: "a", NumPartitions: 6, ReplicationFactor: 2}, false)
	require.NoError(t, err)
	_, err = cl.c.CreateTopic(ctx, TopicSpec{Name: "single", NumPartitions: 3, ReplicationFactor: 1}, false)
	require.NoError(t, err)

	require.NoError(t, cl.s.UnregisterBroker(ctx, 3))
	_, err = cl.c.Elect(ctx) // what Run does on the broker event
	require.NoError(t, err)
	checkAgree(t, cl.s, sim)
	snap := sim[1].cache.Snapshot()
	assert.False(t, snap.Alive(3))
	offline := 0
	for _, st := range snap.Partitions("single") {
		if st.Leader == store.NoLeader {
			offline++
			assert.Equal(t, []int32{3}, st.OfflineReplicas, "metadata reports the dead replica offline")
		}
	}
	assert.Equal(t, 1, offline, "the RF 1 partition on broker 3 has no leader")

	// Broker 3 comes back with a new epoch (a new process): it gets the
	// whole state, including LeaderAndIsr for every replica it hosts.
	delete(sim, 3)
	require.NoError(t, cl.s.RegisterBroker(ctx, store.BrokerInfo{ID: 3, JMXPort: -1}))
	_, err = cl.c.Elect(ctx)
	require.NoError(t, err)
	checkAgree(t, cl.s, sim)
}

func TestPushDeleteTopic(t *testing.T) {
	ctx := context.Background()
	cl, sim := newPushCluster(t, 1, 2)
	_, err := cl.c.CreateTopic(ctx, TopicSpec{Name: "gone", NumPartitions: 2, ReplicationFactor: 2}, false)
	require.NoError(t, err)
	_, err = cl.c.CreateTopic(ctx, TopicSpec{Name: "kept", NumPartitions: 1, ReplicationFactor: 1}, false)
	require.NoError(t, err)
	require.NoError(t, cl.c.DeleteTopic(ctx, "gone"))
	checkAgree(t, cl.s, sim)
	for id, b := range sim {
		assert.ElementsMatch(t, []store.TopicPartition{{Topic: "gone", Partition: 0}, {Topic: "gone", Partition: 1}}, b.deleted,
			"broker %d deletes its replicas of the topic", id)
		assert.False(t, b.cache.Snapshot().HasTopic("gone"))
	}
}

func TestPushStaleControllerIsFenced(t *testing.T) {
	ctx := context.Background()
	cl, sim := newPushCluster(t, 1, 2)
	_, err := cl.c.CreateTopic(ctx, TopicSpec{Name: "a", NumPartitions: 2, ReplicationFactor: 2}, false)
	require.NoError(t, err)
	_, oldEpoch := cl.c.Active()

	// Broker 2 takes over (broker 1's session "expired").
	require.NoError(t, cl.s.ResignController(ctx, 1))
	electPushing(t, cl.s, 2, sim)

	// A request of the old controller still in flight arrives late.
	b := newBatch()
	b.addUpdateMetadata([]int32{1, 2}, metacache.PartitionState{Topic: "a", Partition: 0, Leader: 99, LeaderEpoch: 99}, store.UUID{})
	b.send(sim, 1, oldEpoch, liveBrokers(1, 2), nil)
	for id, sb := range sim {
		assert.Equal(t, 1, sb.refused, "broker %d refuses the stale controller", id)
	}
	checkAgree(t, cl.s, sim)
}

func TestNoSenderNoBatch(t *testing.T) {
	ctx := context.Background()
	cl := newCluster(t, quietOptions(), 1)
	_, err := cl.c.CreateTopic(ctx, TopicSpec{Name: "a", NumPartitions: 1, ReplicationFactor: 1}, false)
	require.NoError(t, err)
	assert.Nil(t, cl.c.pending, "without a Sender no requests are collected")
}

// racyStore registers a broker right after the next read of the broker
// set, to land between the two reads of one controller step.
type racyStore struct {
	store.Store
	after func()
}

func (s *racyStore) Brokers(ctx context.Context) ([]store.BrokerInfo, error) {
	bs, err := s.Store.Brokers(ctx)
	if f := s.after; f != nil {
		s.after = nil
		f()
	}
	return bs, err
}

// TestPushBrokerRegisteredMidStep: a broker that registers while the
// controller's step is under way (after it read the live brokers) gets the
// whole state at the step its registration triggers. Before the fix the
// step recorded it as known without sending it anything, and it never got
// any metadata (found by clustertest's all-brokers restart).
func TestPushBrokerRegisteredMidStep(t *testing.T) {
	ctx := context.Background()
	cl, sim := newPushCluster(t, 1, 2)
	_, err := cl.c.CreateTopic(ctx, TopicSpec{Name: "a", NumPartitions: 2, ReplicationFactor: 2}, false)
	require.NoError(t, err)
	require.NoError(t, cl.c.Resign(ctx))

	rs := &racyStore{Store: cl.s}
	opts := quietOptions()
	opts.Sender = sim
	c, err := New(rs, 2, opts)
	require.NoError(t, err)
	rs.after = func() { require.NoError(t, cl.s.RegisterBroker(ctx, store.BrokerInfo{ID: 3, JMXPort: -1})) }
	ok, err := c.Elect(ctx) // the fail-over step: reads the brokers, then 3 registers
	require.NoError(t, err)
	require.True(t, ok)
	require.Nil(t, rs.after, "broker 3 registered during the step")
	_, err = c.Elect(ctx) // the step broker 3's registration triggers (Run)
	require.NoError(t, err)
	require.Contains(t, sim, int32(3), "broker 3 was sent the state")
	checkAgree(t, cl.s, sim)
}
