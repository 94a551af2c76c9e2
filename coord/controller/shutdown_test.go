package controller

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strom-broker/strom/coord/store"
)

// TestControlledShutdown: broker 2 asks to shut down. The partitions it
// leads move to the first live in-sync replica in assignment order, the
// ISRs it is in shrink, every change bumps the leader epoch and reaches the
// other replicas as LeaderAndIsr while broker 2 gets StopReplica (no
// delete); an RF 1 partition stays; a partition whose only in-sync replica
// is broker 2 stays led by it and is reported as remaining. While shutting
// down, broker 2 cannot rejoin an ISR; once it registers anew it can.
func TestControlledShutdown(t *testing.T) {
	ctx := context.Background()
	cl, sim := newPushCluster(t, 1, 2, 3)
	_, err := cl.c.CreateTopic(ctx, TopicSpec{Name: "t", NumPartitions: -1, ReplicationFactor: -1, Assignment: map[int32][]int32{
		0: {2, 3, 1}, // led by 2: moves to 3, the first other in-sync replica in assignment order
		1: {1, 2, 3}, // led by 1: 2 leaves the ISR
	}}, false)
	require.NoError(t, err)
	_, err = cl.c.CreateTopic(ctx, TopicSpec{Name: "u", NumPartitions: -1, ReplicationFactor: -1, Assignment: map[int32][]int32{
		0: {2, 3}, // led by 2 with ISR {2} only (set below): stays, remaining
		1: {3, 1}, // broker 2 not a replica: untouched
	}}, false)
	require.NoError(t, err)
	_, err = cl.c.CreateTopic(ctx, TopicSpec{Name: "single", NumPartitions: -1, ReplicationFactor: -1,
		Assignment: map[int32][]int32{0: {2}}}, false)
	require.NoError(t, err)
	tp := func(p int32) store.TopicPartition { return store.TopicPartition{Topic: "t", Partition: p} }
	u0, u1 := store.TopicPartition{Topic: "u", Partition: 0}, store.TopicPartition{Topic: "u", Partition: 1}
	lone := cl.state(t, "u", 0)
	lone.ISR = []int32{2}
	_, err = cl.s.SetPartitionState(ctx, u0, lone, lone.Version)
	require.NoError(t, err)
	before := map[store.TopicPartition]store.PartitionState{}
	for _, x := range []store.TopicPartition{tp(0), tp(1), u0, u1} {
		before[x] = cl.state(t, x.Topic, x.Partition)
	}
	single := cl.state(t, "single", 0)
	reg, err := cl.s.Broker(ctx, 2)
	require.NoError(t, err)

	_, err = cl.c.ControlledShutdown(ctx, 2, reg.Epoch-1)
	require.ErrorIs(t, err, ErrStaleBrokerEpoch)
	_, err = cl.c.ControlledShutdown(ctx, 9, UnknownBrokerEpoch)
	require.ErrorIs(t, err, ErrBrokerNotAvailable)
	other, err := New(cl.s, 3, quietOptions())
	require.NoError(t, err)
	_, err = other.ControlledShutdown(ctx, 2, reg.Epoch)
	require.ErrorIs(t, err, ErrNotController)
	assert.Equal(t, before[tp(0)], cl.state(t, "t", 0), "refused requests change nothing")

	remaining, err := cl.c.ControlledShutdown(ctx, 2, reg.Epoch)
	require.NoError(t, err)
	assert.Equal(t, []store.TopicPartition{u0}, remaining)

	p0 := cl.state(t, "t", 0)
	assert.Equal(t, int32(3), p0.Leader)
	assert.ElementsMatch(t, []int32{3, 1}, p0.ISR)
	assert.Equal(t, before[tp(0)].LeaderEpoch+1, p0.LeaderEpoch)
	p1 := cl.state(t, "t", 1)
	assert.Equal(t, int32(1), p1.Leader)
	assert.ElementsMatch(t, []int32{1, 3}, p1.ISR)
	assert.Equal(t, before[tp(1)].LeaderEpoch+1, p1.LeaderEpoch)
	assert.Equal(t, before[u0], cl.state(t, "u", 0), "no eligible leader: unchanged")
	assert.Equal(t, before[u1], cl.state(t, "u", 1))
	assert.Equal(t, single, cl.state(t, "single", 0), "RF 1 partitions are not moved")

	// The other replicas learned the new states; broker 2 stopped its
	// replicas of the partitions that changed and knows the new leaders.
	assert.Equal(t, p0.LeaderEpoch, sim[3].replicas[tp(0)].LeaderEpoch)
	assert.Equal(t, int32(3), sim[3].replicas[tp(0)].Leader)
	assert.Equal(t, p1.LeaderEpoch, sim[1].replicas[tp(1)].LeaderEpoch)
	_, hosted0 := sim[2].replicas[tp(0)]
	_, hosted1 := sim[2].replicas[tp(1)]
	_, hosted2 := sim[2].replicas[u0]
	assert.False(t, hosted0 || hosted1, "broker 2 stopped the replicas that moved")
	assert.True(t, hosted2, "broker 2 keeps leading what could not move")
	assert.Empty(t, sim[2].deleted, "StopReplica without delete")
	st, ok := sim[2].cache.Snapshot().Partition("t", 0)
	require.True(t, ok)
	assert.Equal(t, int32(3), st.Leader, "broker 2's metadata names the new leader")

	// A retry moves nothing more and reports the same.
	remaining, err = cl.c.ControlledShutdown(ctx, 2, reg.Epoch)
	require.NoError(t, err)
	assert.Equal(t, []store.TopicPartition{u0}, remaining)
	assert.Equal(t, p0, cl.state(t, "t", 0))

	// The new leader of partition 0 may not take broker 2 back.
	res, err := cl.c.AlterPartition(ctx, 3, epochOf(t, cl.s, 3), []ISRChange{{Partition: tp(0),
		LeaderEpoch: p0.LeaderEpoch, PartitionEpoch: p0.Version, ISR: []int32{3, 1, 2}}})
	require.NoError(t, err)
	assert.ErrorIs(t, res[0].Err, ErrIneligibleReplica)

	// Broker 2 restarts (a new registration): it is no longer shutting
	// down and may rejoin.
	require.NoError(t, cl.s.UnregisterBroker(ctx, 2))
	_, err = cl.c.Elect(ctx)
	require.NoError(t, err)
	require.NoError(t, cl.s.RegisterBroker(ctx, store.BrokerInfo{ID: 2, JMXPort: -1}))
	_, err = cl.c.Elect(ctx)
	require.NoError(t, err)
	p0 = cl.state(t, "t", 0)
	res, err = cl.c.AlterPartition(ctx, 3, epochOf(t, cl.s, 3), []ISRChange{{Partition: tp(0),
		LeaderEpoch: p0.LeaderEpoch, PartitionEpoch: p0.Version, ISR: []int32{3, 1, 2}}})
	require.NoError(t, err)
	assert.NoError(t, res[0].Err)
}

// TestRetiredControllerStandsNoMore: a stopping controller resigns and
// another broker takes over; the retired one does not win again.
func TestRetiredControllerStandsNoMore(t *testing.T) {
	ctx := context.Background()
	cl := newCluster(t, quietOptions(), 1, 2)
	require.NoError(t, cl.c.Retire(ctx))
	won, err := cl.c.Elect(ctx)
	require.NoError(t, err)
	assert.False(t, won, "a retired broker does not stand")
	other, err := New(cl.s, 2, quietOptions())
	require.NoError(t, err)
	won, err = other.Elect(ctx)
	require.NoError(t, err)
	assert.True(t, won)
}

func epochOf(t *testing.T, s store.Store, id int32) int64 {
	t.Helper()
	b, err := s.Broker(context.Background(), id)
	require.NoError(t, err)
	return b.Epoch
}
