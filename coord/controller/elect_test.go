package controller

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strom-broker/strom/coord/store"
)

// TestElectPreferredLeader: after the preferred replica lost leadership
// and is back in the ISR, a preferred election returns leadership to it;
// partitions already led by it need no election; one whose preferred
// replica is out of the ISR cannot have it.
func TestElectPreferredLeader(t *testing.T) {
	ctx := context.Background()
	cl, sim := newPushCluster(t, 1, 2, 3)
	_, err := cl.c.CreateTopic(ctx, TopicSpec{Name: "t", NumPartitions: -1, ReplicationFactor: -1,
		Assignment: map[int32][]int32{0: {1, 2, 3}, 1: {2, 3, 1}, 2: {3, 1, 2}}}, false)
	require.NoError(t, err)
	tp0 := store.TopicPartition{Topic: "t", Partition: 0}
	// Partition 0 is led by 2 with the full ISR (as after broker 1 came
	// back and caught up); partition 2 has 3 out of its ISR.
	for p, st := range map[int32]store.PartitionState{
		0: {Leader: 2, LeaderEpoch: 1, ISR: []int32{2, 3, 1}},
		2: {Leader: 1, LeaderEpoch: 1, ISR: []int32{1, 2}},
	} {
		cur := cl.state(t, "t", p)
		_, err := cl.s.SetPartitionState(ctx, store.TopicPartition{Topic: "t", Partition: p}, st, cur.Version)
		require.NoError(t, err)
	}

	res, err := cl.c.ElectLeaders(ctx, ElectPreferred, []store.TopicPartition{tp0, {Topic: "t", Partition: 1},
		{Topic: "t", Partition: 2}, {Topic: "t", Partition: 9}, {Topic: "nope", Partition: 0}})
	require.NoError(t, err)
	assert.NoError(t, res[tp0])
	assert.ErrorIs(t, res[store.TopicPartition{Topic: "t", Partition: 1}], ErrElectionNotNeeded)
	assert.ErrorIs(t, res[store.TopicPartition{Topic: "t", Partition: 2}], ErrPreferredLeaderNotAvailable)
	assert.ErrorIs(t, res[store.TopicPartition{Topic: "t", Partition: 9}], ErrUnknownPartition)
	assert.ErrorIs(t, res[store.TopicPartition{Topic: "nope", Partition: 0}], ErrUnknownPartition)

	st := cl.state(t, "t", 0)
	assert.Equal(t, int32(1), st.Leader)
	assert.Equal(t, int32(2), st.LeaderEpoch, "an election bumps the leader epoch")
	assert.Equal(t, []int32{2, 3, 1}, st.ISR, "the ISR is unchanged")
	snap := sim[3].cache.Snapshot()
	got, _ := snap.Partition("t", 0)
	assert.Equal(t, int32(1), got.Leader, "every broker learns the new leader")

	other, err := New(cl.s, 2, quietOptions())
	require.NoError(t, err)
	res, err = other.ElectLeaders(ctx, ElectPreferred, []store.TopicPartition{tp0})
	require.NoError(t, err)
	assert.ErrorIs(t, res[tp0], ErrNotController, "only the controller elects")
}

// TestElectUncleanLeader: a partition whose only in-sync replica is dead
// gets a live replica from outside the ISR; one with a live leader needs
// no election; one with no live replica has no eligible leader. (The
// broker the controller runs on, 2, is the only one left.)
func TestElectUncleanLeader(t *testing.T) {
	ctx := context.Background()
	cl, _ := newPushCluster(t, 1, 2, 3)
	_, err := cl.c.CreateTopic(ctx, TopicSpec{Name: "u", NumPartitions: -1, ReplicationFactor: -1,
		Assignment: map[int32][]int32{0: {1, 2}, 1: {3, 1}, 2: {2, 3}}}, false)
	require.NoError(t, err)
	// Partition 0: ISR {1} only, then broker 1 and broker 3 die.
	cur := cl.state(t, "u", 0)
	_, err = cl.s.SetPartitionState(ctx, store.TopicPartition{Topic: "u", Partition: 0},
		store.PartitionState{Leader: 1, LeaderEpoch: 1, ISR: []int32{1}}, cur.Version)
	require.NoError(t, err)
	require.NoError(t, cl.s.UnregisterBroker(ctx, 1))
	require.NoError(t, cl.s.UnregisterBroker(ctx, 3))
	ctrl, err := New(cl.s, 2, quietOptions())
	require.NoError(t, err)
	ok, err := ctrl.Elect(ctx)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, int32(store.NoLeader), cl.state(t, "u", 0).Leader, "clean election finds no one")

	res, err := ctrl.ElectLeaders(ctx, ElectUnclean, []store.TopicPartition{{Topic: "u", Partition: 0},
		{Topic: "u", Partition: 1}, {Topic: "u", Partition: 2}})
	require.NoError(t, err)
	assert.NoError(t, res[store.TopicPartition{Topic: "u", Partition: 0}])
	st := cl.state(t, "u", 0)
	assert.Equal(t, int32(2), st.Leader, "the live replica outside the ISR leads")
	assert.Equal(t, []int32{2}, st.ISR)
	assert.ErrorIs(t, res[store.TopicPartition{Topic: "u", Partition: 1}], ErrEligibleLeadersNotAvailable)
	assert.ErrorIs(t, res[store.TopicPartition{Topic: "u", Partition: 2}], ErrElectionNotNeeded)
}

// TestRebalanceLeaders: leadership returns to preferred replicas once a
// broker's share of partitions led by others passes the threshold, and
// only then.
func TestRebalanceLeaders(t *testing.T) {
	ctx := context.Background()
	cl, _ := newPushCluster(t, 1, 2)
	assignment := map[int32][]int32{}
	for p := int32(0); p < 10; p++ {
		assignment[p] = []int32{1, 2} // broker 1 is every partition's preferred replica
	}
	_, err := cl.c.CreateTopic(ctx, TopicSpec{Name: "r", NumPartitions: -1, ReplicationFactor: -1, Assignment: assignment}, false)
	require.NoError(t, err)
	moveTo2 := func(ps ...int32) {
		for _, p := range ps {
			cur := cl.state(t, "r", p)
			_, err := cl.s.SetPartitionState(ctx, store.TopicPartition{Topic: "r", Partition: p},
				store.PartitionState{Leader: 2, LeaderEpoch: cur.LeaderEpoch + 1, ISR: []int32{2, 1}}, cur.Version)
			require.NoError(t, err)
		}
	}
	moveTo2(0) // 1 of 10 = 10%: not above the 10% threshold
	moved, err := cl.c.RebalanceLeaders(ctx, 10)
	require.NoError(t, err)
	assert.Zero(t, moved)
	assert.Equal(t, int32(2), cl.state(t, "r", 0).Leader)

	moveTo2(1, 2) // 3 of 10
	moved, err = cl.c.RebalanceLeaders(ctx, 10)
	require.NoError(t, err)
	assert.Equal(t, 3, moved)
	for p := int32(0); p < 3; p++ {
		assert.Equal(t, int32(1), cl.state(t, "r", p).Leader, "partition %d back on its preferred replica", p)
	}
}
