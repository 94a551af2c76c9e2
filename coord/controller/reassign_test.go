package controller

import (
	"context"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strom-broker/strom/coord/store"
)

// TestReassignment: a partition on brokers 1, 2 moves to 3, 4. Started,
// its assignment is RS = target + original with adding/removing set (as
// ListPartitionReassignments reports), the leader epoch is bumped and the
// new replicas get LeaderAndIsr. When the leader's AlterPartition brings
// them into the ISR the reassignment completes: the leader moves to 3, the
// ISR and the assignment become {3, 4}, and brokers 1, 2 get StopReplica
// with delete.
func TestReassignment(t *testing.T) {
	ctx := context.Background()
	cl, sim := newPushCluster(t, 1, 2, 3, 4)
	_, err := cl.c.CreateTopic(ctx, TopicSpec{Name: "t", NumPartitions: -1, ReplicationFactor: -1,
		Assignment: map[int32][]int32{0: {1, 2}, 1: {2, 1}}}, false)
	require.NoError(t, err)
	tp := store.TopicPartition{Topic: "t", Partition: 0}
	before := cl.state(t, "t", 0)

	results, err := cl.c.AlterPartitionReassignments(ctx, map[store.TopicPartition][]int32{
		tp:                            {3, 4},
		{Topic: "t", Partition: 1}:    {2, 9}, // broker 9 is not live
		{Topic: "t", Partition: 7}:    {1, 2}, // no such partition
		{Topic: "nope", Partition: 0}: {1},    // no such topic
	})
	require.NoError(t, err)
	assert.NoError(t, results[tp])
	assert.ErrorIs(t, results[store.TopicPartition{Topic: "t", Partition: 1}], ErrInvalidReplicaAssignment)
	assert.ErrorIs(t, results[store.TopicPartition{Topic: "t", Partition: 7}], ErrUnknownPartition)
	assert.ErrorIs(t, results[store.TopicPartition{Topic: "nope", Partition: 0}], ErrUnknownPartition)

	a, err := cl.s.Topic(ctx, "t")
	require.NoError(t, err)
	assert.Equal(t, []int32{3, 4, 1, 2}, a.Partitions[0])
	assert.Equal(t, []int32{3, 4}, a.AddingReplicas[0])
	assert.Equal(t, []int32{1, 2}, a.RemovingReplicas[0])
	assert.Equal(t, []int32{2, 1}, a.Partitions[1], "refused: unchanged")
	res, err := cl.c.AlterPartitionReassignments(ctx, map[store.TopicPartition][]int32{{Topic: "t", Partition: 1}: {2, 2}})
	require.NoError(t, err)
	assert.ErrorIs(t, res[store.TopicPartition{Topic: "t", Partition: 1}], ErrInvalidReplicaAssignment, "a broker twice")
	mid := cl.state(t, "t", 0)
	assert.Equal(t, before.LeaderEpoch+1, mid.LeaderEpoch)
	assert.Equal(t, before.Leader, mid.Leader)
	for _, b := range []int32{3, 4} {
		r, ok := sim[b].replicas[tp]
		require.True(t, ok, "broker %d got LeaderAndIsr", b)
		assert.Equal(t, []int32{3, 4, 1, 2}, r.Replicas)
	}
	list, err := cl.c.ListPartitionReassignments(ctx, nil)
	require.NoError(t, err)
	assert.Equal(t, map[store.TopicPartition]PartitionReassignment{tp: {Replicas: []int32{3, 4, 1, 2},
		Adding: []int32{3, 4}, Removing: []int32{1, 2}}}, list)

	// Broker 3 caught up first: not complete yet.
	alter := func(isr ...int32) {
		t.Helper()
		st := cl.state(t, "t", 0)
		res, err := cl.c.AlterPartition(ctx, st.Leader, epochOf(t, cl.s, st.Leader), []ISRChange{{Partition: tp,
			LeaderEpoch: st.LeaderEpoch, PartitionEpoch: st.Version, ISR: isr}})
		require.NoError(t, err)
		require.NoError(t, res[0].Err)
	}
	alter(1, 2, 3)
	a, err = cl.s.Topic(ctx, "t")
	require.NoError(t, err)
	assert.Equal(t, []int32{3, 4}, a.AddingReplicas[0], "still moving")
	alter(1, 2, 3, 4)

	a, err = cl.s.Topic(ctx, "t")
	require.NoError(t, err)
	assert.Equal(t, []int32{3, 4}, a.Partitions[0])
	assert.Empty(t, a.AddingReplicas[0])
	assert.Empty(t, a.RemovingReplicas[0])
	done := cl.state(t, "t", 0)
	assert.Equal(t, int32(3), done.Leader, "the first target replica in the ISR leads")
	assert.Equal(t, []int32{3, 4}, done.ISR)
	assert.Greater(t, done.LeaderEpoch, mid.LeaderEpoch)
	for _, b := range []int32{1, 2} {
		assert.Contains(t, sim[b].deleted, tp, "broker %d deletes its replica", b)
	}
	assert.Equal(t, int32(3), sim[4].replicas[tp].Leader)
	list, err = cl.c.ListPartitionReassignments(ctx, nil)
	require.NoError(t, err)
	assert.Empty(t, list)

	// Not the controller: refused.
	other, err := New(cl.s, 2, quietOptions())
	require.NoError(t, err)
	_, err = other.AlterPartitionReassignments(ctx, map[store.TopicPartition][]int32{tp: {1, 2}})
	assert.ErrorIs(t, err, ErrNotController)
}

// TestReassignmentCancel: a reassignment is cancelled before its new
// replica caught up: the assignment is the original again, the replica
// being added is deleted; a second cancellation finds none in progress.
func TestReassignmentCancel(t *testing.T) {
	ctx := context.Background()
	cl, sim, tp := startMove(t, 1, 3)
	a, err := cl.s.Topic(ctx, "t")
	require.NoError(t, err)
	require.Equal(t, []int32{1, 3, 2}, a.Partitions[0])

	res, err := cl.c.AlterPartitionReassignments(ctx, map[store.TopicPartition][]int32{tp: nil})
	require.NoError(t, err)
	require.NoError(t, res[tp])
	a, err = cl.s.Topic(ctx, "t")
	require.NoError(t, err)
	assert.Equal(t, []int32{1, 2}, a.Partitions[0])
	assert.Empty(t, a.AddingReplicas[0])
	assert.Empty(t, a.RemovingReplicas[0])
	assert.Contains(t, sim[3].deleted, tp, "the replica being added is deleted")
	st := cl.state(t, "t", 0)
	assert.False(t, slices.Contains(st.ISR, 3))

	res, err = cl.c.AlterPartitionReassignments(ctx, map[store.TopicPartition][]int32{tp: nil})
	require.NoError(t, err)
	assert.ErrorIs(t, res[tp], ErrNoReassignmentInProgress)
}

// TestReassignmentResumedByNewController: the controller dies after the
// new replicas joined the ISR but before completing; its successor finds
// the reassignment in the topic's assignment and completes it.
func TestReassignmentResumedByNewController(t *testing.T) {
	ctx := context.Background()
	cl, sim, tp := startMove(t, 2, 3)
	st := cl.state(t, "t", 0)
	st.ISR = []int32{1, 2, 3} // as the leader's AlterPartition would, written before the crash
	_, err := cl.s.SetPartitionState(ctx, tp, st, st.Version)
	require.NoError(t, err)
	require.NoError(t, cl.c.Resign(ctx))

	electPushing(t, cl.s, 2, sim)
	a, err := cl.s.Topic(ctx, "t")
	require.NoError(t, err)
	assert.Equal(t, []int32{2, 3}, a.Partitions[0])
	assert.Empty(t, a.RemovingReplicas[0])
	done := cl.state(t, "t", 0)
	assert.Equal(t, int32(2), done.Leader, "leader 1 is not in the target: 2 takes over")
	assert.Equal(t, []int32{2, 3}, done.ISR)
}

// startMove creates topic t with partition 0 on brokers 1, 2 of a cluster
// of 1, 2, 3 and starts its reassignment to target.
func startMove(t *testing.T, target ...int32) (cluster, simBrokers, store.TopicPartition) {
	t.Helper()
	ctx := context.Background()
	cl, sim := newPushCluster(t, 1, 2, 3)
	_, err := cl.c.CreateTopic(ctx, TopicSpec{Name: "t", NumPartitions: -1, ReplicationFactor: -1,
		Assignment: map[int32][]int32{0: {1, 2}}}, false)
	require.NoError(t, err)
	tp := store.TopicPartition{Topic: "t", Partition: 0}
	res, err := cl.c.AlterPartitionReassignments(ctx, map[store.TopicPartition][]int32{tp: target})
	require.NoError(t, err)
	require.NoError(t, res[tp])
	return cl, sim, tp
}
