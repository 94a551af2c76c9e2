package replication

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strom-broker/strom/engine/partlog"
	"github.com/strom-broker/strom/engine/record"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func newPartition(t *testing.T, clock *fakeClock) *Partition {
	t.Helper()
	l, err := partlog.Open(t.TempDir(), partlog.DefaultConfig())
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	return New("t", 0, 1, l, 0, clock.now)
}

func batch(n int) []byte {
	b := record.NewBuilder(0)
	for i := range n {
		b.Add(int64(1000+i), []byte("k"), []byte("v"))
	}
	return b.Build()
}

func TestSingleReplicaLeaderCommitsAtOnce(t *testing.T) {
	p := newPartition(t, &fakeClock{t: time.Unix(0, 0)})
	_, err := p.Append(batch(1), AcksAll, 1)
	require.ErrorIs(t, err, ErrNotLeader, "no role yet")

	require.NoError(t, p.MakeLeader(3, []int32{1}, []int32{1}, 0))
	require.True(t, p.IsLeader())
	info, err := p.Append(batch(5), AcksAll, 1)
	require.NoError(t, err)
	assert.Equal(t, int64(4), info.LastOffset)
	assert.Equal(t, int64(5), p.HighWatermark(), "ISR of one: HW = LEO")
	require.NoError(t, p.WaitCommitted(context.Background(), info.LastOffset, 1))

	_, err = p.Append(batch(1), AcksAll, 2)
	assert.ErrorIs(t, err, ErrNotEnoughReplicas, "ISR 1 < min.insync.replicas 2")
	assert.Equal(t, int64(5), p.Log().LogEndOffset(), "nothing appended")

	res, err := p.ReadCommitted(0, 1<<20)
	require.NoError(t, err)
	defer res.Release()
	assert.Equal(t, int64(5), res.LogEndOffset)
	assert.NotEmpty(t, res.Slices)
}

func TestCheckEpoch(t *testing.T) {
	p := newPartition(t, &fakeClock{t: time.Unix(0, 0)})
	require.NoError(t, p.MakeLeader(5, []int32{1}, []int32{1}, 0))
	assert.NoError(t, p.CheckEpoch(-1))
	assert.NoError(t, p.CheckEpoch(5))
	assert.ErrorIs(t, p.CheckEpoch(4), ErrFencedLeaderEpoch)
	assert.ErrorIs(t, p.CheckEpoch(6), ErrUnknownLeaderEpoch)
}

// TestFollowersMoveHighWatermark: with followers in the ISR the high
// watermark is the smallest follower fetch offset; acks=all waits for it.
func TestFollowersMoveHighWatermark(t *testing.T) {
	clock := &fakeClock{t: time.Unix(100, 0)}
	p := newPartition(t, clock)
	require.NoError(t, p.MakeLeader(1, []int32{1, 2, 3}, []int32{1, 2, 3}, 0))
	info, err := p.Append(batch(10), AcksAll, 2)
	require.NoError(t, err)
	assert.Equal(t, int64(0), p.HighWatermark())

	done := make(chan error, 1)
	go func() { done <- p.WaitCommitted(context.Background(), info.LastOffset, 2) }()

	res, grew, err := p.FollowerFetch(2, 10, 1<<20)
	require.NoError(t, err)
	res.Release()
	assert.False(t, grew, "2 was already in the ISR")
	assert.Equal(t, int64(0), p.HighWatermark(), "follower 3 has nothing yet")
	select {
	case err := <-done:
		t.Fatalf("acks=all returned before the ISR had the records: %v", err)
	default:
	}

	res, _, err = p.FollowerFetch(3, 6, 1<<20)
	require.NoError(t, err)
	res.Release()
	assert.Equal(t, int64(6), p.HighWatermark())
	res, _, err = p.FollowerFetch(3, 10, 1<<20)
	require.NoError(t, err)
	res.Release()
	assert.Equal(t, int64(10), p.HighWatermark())
	require.NoError(t, <-done)
}

// TestISRShrinkAndExpand: a follower that has not caught up within the lag
// limit is proposed for removal; until the controller commits the shrink
// the high watermark still waits for it (maximal ISR); once committed the
// high watermark advances. It is proposed back once it reaches the high
// watermark, and counts for the high watermark from the proposal on.
func TestISRShrinkAndExpand(t *testing.T) {
	clock := &fakeClock{t: time.Unix(100, 0)}
	p := newPartition(t, clock)
	var told []ISRChange
	p.SetISRListener(func(p *Partition) {
		c, ok := p.PendingISRChange()
		require.True(t, ok)
		told = append(told, c)
	})
	require.NoError(t, p.MakeLeader(1, []int32{1, 2}, []int32{1, 2}, 7))
	_, err := p.Append(batch(4), AcksLeader, 1)
	require.NoError(t, err)

	_, changed := p.ShrinkISR(30 * time.Second)
	assert.False(t, changed, "within the lag limit")
	clock.t = clock.t.Add(31 * time.Second)
	isr, changed := p.ShrinkISR(30 * time.Second)
	require.True(t, changed)
	assert.Equal(t, []int32{1}, isr)
	require.Len(t, told, 1)
	assert.Equal(t, ISRChange{Topic: "t", Partition: 0, LeaderEpoch: 1, PartitionEpoch: 7, ISR: []int32{1}}, told[0])
	assert.Equal(t, int64(0), p.HighWatermark(), "shrink in flight: the HW still waits for 2")
	_, again := p.ShrinkISR(30 * time.Second)
	assert.False(t, again, "one change in flight at a time")

	assert.False(t, p.CompleteISRChange(ISRChange{LeaderEpoch: 0, PartitionEpoch: 7, ISR: []int32{1}}, true, []int32{1}, 8),
		"an answer for another change is ignored")
	require.True(t, p.CompleteISRChange(told[0], true, []int32{1}, 8))
	assert.Equal(t, int64(4), p.HighWatermark(), "leader alone in the committed ISR")
	assert.Equal(t, int32(8), p.State().PartitionEpoch)

	res, grew, err := p.FollowerFetch(2, 3, 1<<20)
	require.NoError(t, err)
	res.Release()
	assert.False(t, grew, "below the high watermark: not caught up")
	res, grew, err = p.FollowerFetch(2, 4, 1<<20)
	require.NoError(t, err)
	res.Release()
	require.True(t, grew)
	require.Len(t, told, 2)
	assert.Equal(t, []int32{1, 2}, told[1].ISR)
	assert.Equal(t, []int32{1}, p.State().ISR, "not committed yet")
	_, err = p.Append(batch(2), AcksAll, 1)
	require.NoError(t, err)
	assert.Equal(t, int64(4), p.HighWatermark(), "expansion in flight: 2 counts at once")

	require.True(t, p.CompleteISRChange(told[1], false, nil, 0), "refused")
	assert.Equal(t, []int32{1}, p.State().ISR)
	assert.Equal(t, int64(6), p.HighWatermark())
	res, grew, err = p.FollowerFetch(2, 6, 1<<20)
	require.NoError(t, err)
	res.Release()
	assert.False(t, grew, "no new proposal right after a refusal")
	clock.t = clock.t.Add(ISRRetryBackoff)
	res, grew, err = p.FollowerFetch(2, 6, 1<<20)
	require.NoError(t, err)
	res.Release()
	assert.True(t, grew)
	require.True(t, p.CompleteISRChange(told[2], true, []int32{1, 2}, 9))
	assert.ElementsMatch(t, []int32{1, 2}, p.State().ISR)
}

// TestUnassignedReplicaChangesNothing: a fetch naming a replica id that is
// not an assigned replica is refused: it reads nothing and moves neither
// the ISR nor the high watermark.
func TestUnassignedReplicaChangesNothing(t *testing.T) {
	clock := &fakeClock{t: time.Unix(100, 0)}
	p := newPartition(t, clock)
	p.SetISRListener(func(*Partition) { t.Fatal("no ISR change may be proposed") })
	require.NoError(t, p.MakeLeader(1, []int32{1, 2}, []int32{1}, 0))
	_, err := p.Append(batch(4), AcksLeader, 1)
	require.NoError(t, err)
	require.Equal(t, int64(4), p.HighWatermark())
	require.NoError(t, p.MakeLeader(2, []int32{1, 2, 3}, []int32{1, 2, 3}, 1))
	_, err = p.Append(batch(4), AcksLeader, 1)
	require.NoError(t, err)
	for _, forged := range []int32{4, 99, 1} { // 1 is the leader itself
		res, grew, err := p.FollowerFetch(forged, 8, 1<<20)
		assert.ErrorIs(t, err, ErrNotAssignedReplica)
		assert.Nil(t, res, "nothing read: records above the HW are for replicas only")
		assert.False(t, grew)
	}
	assert.Equal(t, int64(4), p.HighWatermark(), "followers 2 and 3 have not fetched")
	assert.Equal(t, []int32{1, 2, 3}, p.State().ISR)
}

// TestMaximalISRAfterAppend: acks=all with the ISR shrunk below
// min.insync.replicas answers NOT_ENOUGH_REPLICAS_AFTER_APPEND once the
// record is committed.
func TestMaximalISRAfterAppend(t *testing.T) {
	clock := &fakeClock{t: time.Unix(100, 0)}
	p := newPartition(t, clock)
	require.NoError(t, p.MakeLeader(1, []int32{1, 2}, []int32{1, 2}, 0))
	info, err := p.Append(batch(1), AcksAll, 2)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- p.WaitCommitted(context.Background(), info.LastOffset, 2) }()
	clock.t = clock.t.Add(time.Minute)
	_, ok := p.ShrinkISR(30 * time.Second)
	require.True(t, ok)
	c, _ := p.PendingISRChange()
	require.True(t, p.CompleteISRChange(c, true, []int32{1}, 1))
	assert.ErrorIs(t, <-done, ErrNotEnoughReplicasAfterAppend)
	_, err = p.Append(batch(1), AcksAll, 2)
	assert.ErrorIs(t, err, ErrNotEnoughReplicas)
}

// TestLeaderRecordsItsEpoch: a new leader records its epoch at its log end
// at once, so OffsetForLeaderEpoch answers a follower ahead of it.
func TestLeaderRecordsItsEpoch(t *testing.T) {
	p := newPartition(t, &fakeClock{t: time.Unix(0, 0)})
	require.NoError(t, p.MakeLeader(1, []int32{1, 2}, []int32{1}, 0))
	_, err := p.Append(batch(3), AcksLeader, 1)
	require.NoError(t, err)
	require.NoError(t, p.MakeLeader(4, []int32{1, 2}, []int32{1}, 1))
	ep, end := p.Log().EndOffsetForEpoch(2)
	assert.Equal(t, int32(1), ep)
	assert.Equal(t, int64(3), end, "epoch 1 ends where epoch 4 starts")
}

// TestLeadershipLossWakesWaiters: acks=all waiters and long polls wake up
// when the replica becomes a follower.
func TestLeadershipLossWakesWaiters(t *testing.T) {
	p := newPartition(t, &fakeClock{t: time.Unix(0, 0)})
	require.NoError(t, p.MakeLeader(1, []int32{1, 2}, []int32{1, 2}, 0))
	info, err := p.Append(batch(1), AcksAll, 1)
	require.NoError(t, err)
	changed := p.Changed()
	done := make(chan error, 1)
	go func() { done <- p.WaitCommitted(context.Background(), info.LastOffset, 1) }()
	p.MakeFollower(2, 2, []int32{1, 2})
	<-changed
	assert.True(t, errors.Is(<-done, ErrNotLeader))
	_, err = p.Append(batch(1), AcksLeader, 1)
	assert.ErrorIs(t, err, ErrNotLeader)
}

func TestWaitCommittedTimesOut(t *testing.T) {
	p := newPartition(t, &fakeClock{t: time.Unix(0, 0)})
	require.NoError(t, p.MakeLeader(1, []int32{1, 2}, []int32{1, 2}, 0))
	info, err := p.Append(batch(1), AcksAll, 1)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.ErrorIs(t, p.WaitCommitted(ctx, info.LastOffset, 1), context.Canceled)
}
