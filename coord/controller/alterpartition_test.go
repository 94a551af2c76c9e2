package controller

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strom-broker/strom/coord/store"
)

// TestAlterPartition: a leader's ISR change is checked with Kafka's rules,
// stored by compare-and-set (leader and leader epoch unchanged, the
// partition epoch bumped) and pushed to every live broker; refused changes
// leave the stored state as it was.
func TestAlterPartition(t *testing.T) {
	ctx := context.Background()
	cl, sim := newPushCluster(t, 1, 2, 3)
	_, err := cl.c.CreateTopic(ctx, TopicSpec{Name: "t", NumPartitions: 1, ReplicationFactor: 3}, false)
	require.NoError(t, err)
	tp := store.TopicPartition{Topic: "t", Partition: 0}
	st, err := cl.s.PartitionState(ctx, tp)
	require.NoError(t, err)
	leader := st.Leader
	var follower int32 = 1
	if leader == 1 {
		follower = 2
	}
	epochOf := func(id int32) int64 {
		b, err := cl.s.Broker(ctx, id)
		require.NoError(t, err)
		return b.Epoch
	}
	var shrunk []int32
	for _, r := range st.ISR {
		if r != follower {
			shrunk = append(shrunk, r)
		}
	}
	alter := func(from int32, brokerEpoch int64, ch ISRChange) (ISRChangeResult, error) {
		t.Helper()
		res, err := cl.c.AlterPartition(ctx, from, brokerEpoch, []ISRChange{ch})
		if err != nil {
			return ISRChangeResult{}, err
		}
		require.Len(t, res, 1)
		return res[0], nil
	}
	change := ISRChange{Partition: tp, LeaderEpoch: st.LeaderEpoch, PartitionEpoch: st.Version, ISR: shrunk}

	_, err = alter(leader, epochOf(leader)+1, change)
	assert.ErrorIs(t, err, ErrStaleBrokerEpoch)
	refusals := []struct {
		name string
		from int32
		ch   ISRChange
		want error
	}{
		{"not the leader", follower, change, ErrNotLeader},
		{"older leader epoch", leader, ISRChange{Partition: tp, LeaderEpoch: st.LeaderEpoch - 1, PartitionEpoch: st.Version, ISR: shrunk}, ErrFencedLeaderEpoch},
		{"newer partition epoch", leader, ISRChange{Partition: tp, LeaderEpoch: st.LeaderEpoch, PartitionEpoch: st.Version + 1, ISR: shrunk}, ErrNotController},
		{"without the leader", leader, ISRChange{Partition: tp, LeaderEpoch: st.LeaderEpoch, PartitionEpoch: st.Version, ISR: []int32{follower}}, ErrIneligibleReplica},
		{"an unassigned replica", leader, ISRChange{Partition: tp, LeaderEpoch: st.LeaderEpoch, PartitionEpoch: st.Version, ISR: append([]int32{7}, shrunk...)}, ErrIneligibleReplica},
		{"unknown partition", leader, ISRChange{Partition: store.TopicPartition{Topic: "t", Partition: 5}, ISR: shrunk}, ErrUnknownPartition},
	}
	for _, r := range refusals {
		res, err := alter(r.from, epochOf(r.from), r.ch)
		require.NoError(t, err, r.name)
		assert.ErrorIs(t, res.Err, r.want, r.name)
	}
	after, err := cl.s.PartitionState(ctx, tp)
	require.NoError(t, err)
	assert.Equal(t, st, after, "refusals change nothing")

	res, err := alter(leader, epochOf(leader), change)
	require.NoError(t, err)
	require.NoError(t, res.Err)
	assert.Equal(t, shrunk, res.State.ISR)
	assert.Equal(t, st.Leader, res.State.Leader)
	assert.Equal(t, st.LeaderEpoch, res.State.LeaderEpoch, "a leader's ISR change keeps the leader epoch")
	assert.Equal(t, st.Version+1, res.State.Version)
	stored, err := cl.s.PartitionState(ctx, tp)
	require.NoError(t, err)
	assert.Equal(t, res.State, stored)
	checkAgree(t, cl.s, sim) // every broker's metadata has the new ISR

	again, err := alter(leader, epochOf(leader), change)
	require.NoError(t, err)
	assert.NoError(t, again.Err, "a retried change already stored succeeds")
	assert.Equal(t, stored.Version, again.State.Version)
	stale, err := alter(leader, epochOf(leader), ISRChange{Partition: tp, LeaderEpoch: st.LeaderEpoch, PartitionEpoch: st.Version, ISR: st.ISR})
	require.NoError(t, err)
	assert.ErrorIs(t, stale.Err, ErrInvalidUpdateVersion, "a change made from an older partition epoch")

	// A dead broker may not rejoin the ISR.
	require.NoError(t, cl.s.UnregisterBroker(ctx, follower))
	dead, err := alter(leader, epochOf(leader), ISRChange{Partition: tp, LeaderEpoch: st.LeaderEpoch, PartitionEpoch: stored.Version, ISR: st.ISR})
	require.NoError(t, err)
	assert.ErrorIs(t, dead.Err, ErrIneligibleReplica)

	// Not the controller: the whole request is refused.
	other, err := New(cl.s, 3, quietOptions())
	require.NoError(t, err)
	_, err = other.AlterPartition(ctx, leader, epochOf(leader), []ISRChange{change})
	assert.True(t, errors.Is(err, ErrNotController))
}
