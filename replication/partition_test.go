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

	p.MakeLeader(3, []int32{1}, []int32{1})
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
	p.MakeLeader(5, []int32{1}, []int32{1})
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
	p.MakeLeader(1, []int32{1, 2, 3}, []int32{1, 2, 3})
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
// limit leaves the ISR (the high watermark may then advance); it rejoins
// once it reaches the high watermark.
func TestISRShrinkAndExpand(t *testing.T) {
	clock := &fakeClock{t: time.Unix(100, 0)}
	p := newPartition(t, clock)
	p.MakeLeader(1, []int32{1, 2}, []int32{1, 2})
	_, err := p.Append(batch(4), AcksLeader, 1)
	require.NoError(t, err)

	_, changed := p.ShrinkISR(30 * time.Second)
	assert.False(t, changed, "within the lag limit")
	clock.t = clock.t.Add(31 * time.Second)
	isr, changed := p.ShrinkISR(30 * time.Second)
	require.True(t, changed)
	assert.Equal(t, []int32{1}, isr)
	assert.Equal(t, int64(4), p.HighWatermark(), "leader alone in the ISR")

	res, grew, err := p.FollowerFetch(2, 4, 1<<20)
	require.NoError(t, err)
	res.Release()
	assert.True(t, grew)
	assert.ElementsMatch(t, []int32{1, 2}, p.State().ISR)
}

// TestLeadershipLossWakesWaiters: acks=all waiters and long polls wake up
// when the replica becomes a follower.
func TestLeadershipLossWakesWaiters(t *testing.T) {
	p := newPartition(t, &fakeClock{t: time.Unix(0, 0)})
	p.MakeLeader(1, []int32{1, 2}, []int32{1, 2})
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
	p.MakeLeader(1, []int32{1, 2}, []int32{1, 2})
	info, err := p.Append(batch(1), AcksAll, 1)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.ErrorIs(t, p.WaitCommitted(ctx, info.LastOffset, 1), context.Canceled)
}
