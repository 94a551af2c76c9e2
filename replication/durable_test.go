package replication

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDurableAcksSingleReplica: on a replica alone in its ISR, acks=all
// returns only once the record is fsynced (the recovery point passed it);
// without durable acks (the control) it commits at once with nothing
// fsynced, which is what makes the first half able to fail.
func TestDurableAcksSingleReplica(t *testing.T) {
	for _, durable := range []bool{false, true} {
		t.Run(fmt.Sprintf("durable=%v", durable), func(t *testing.T) {
			p := newPartition(t, &fakeClock{t: time.Unix(0, 0)})
			p.SetDurableAcks(durable)
			require.NoError(t, p.MakeLeader(1, []int32{1}, []int32{1}, 0))
			for range 20 {
				info, err := p.Append(batch(3), AcksAll, 1)
				require.NoError(t, err)
				require.NoError(t, p.WaitCommitted(context.Background(), info.LastOffset, 1))
				if durable {
					require.Greater(t, p.Log().RecoveryPoint(), info.LastOffset, "acknowledged before fsync")
				}
				require.LessOrEqual(t, p.HighWatermark(), p.Log().LogEndOffset())
			}
			if !durable {
				assert.Equal(t, int64(0), p.Log().RecoveryPoint(), "the control: default acks fsync nothing")
			}
			assert.Equal(t, int64(60), p.HighWatermark())
		})
	}
}

// TestDurableAcksFollowers: a leader and two followers with real logs and
// real fetchers over TCP, producers appending concurrently with acks=all.
// Every time an acknowledgement returns, the record is below the recovery
// point of the leader and of both followers: on disk on every ISR member.
// The fetch offsets the leader sees are fsynced offsets, so its high
// watermark never exceeds any member's recovery point.
func TestDurableAcksFollowers(t *testing.T) {
	leader := newPartition(t, &fakeClock{t: time.Unix(0, 0)})
	leader.localID = 9
	leader.SetDurableAcks(true)
	require.NoError(t, leader.MakeLeader(1, []int32{9, 1, 2}, []int32{9, 1, 2}, 0))
	addr, _ := serveLeader(t, leader)

	var followers []*Partition
	for _, id := range []int32{1, 2} {
		f := followerLog(t, 1)
		f.localID = id
		f.MakeFollower(1, 9, []int32{9, 1, 2})
		f.SetDurableAcks(true)
		fs := NewFetchers(FetcherConfig{BrokerID: id, MaxWait: 20 * time.Millisecond, Backoff: 20 * time.Millisecond, Logger: quietLogger()})
		t.Cleanup(fs.Close)
		fs.Add(f, 9, addr, 1)
		followers = append(followers, f)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 25 {
				info, err := leader.Append(batch(2), AcksAll, 2)
				if err == nil {
					err = leader.WaitCommitted(ctx, info.LastOffset, 2)
				}
				if err != nil {
					errs <- err
					return
				}
				for _, r := range append([]*Partition{leader}, followers...) {
					if rp := r.Log().RecoveryPoint(); rp <= info.LastOffset {
						errs <- fmt.Errorf("offset %d acknowledged, replica %d fsynced only below %d", info.LastOffset, r.localID, rp)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	assert.Equal(t, int64(200), leader.HighWatermark())
}

// TestFetchOffsetWaitsForFsync: with durable acks, a follower's fetch
// offset (what the leader takes as held) is its log end only once that
// is fsynced; without, it is the log end at once.
func TestFetchOffsetWaitsForFsync(t *testing.T) {
	leader := newPartition(t, &fakeClock{t: time.Unix(0, 0)})
	require.NoError(t, leader.MakeLeader(1, []int32{1, 2}, []int32{1}, 0))
	_, err := leader.Append(batch(5), AcksLeader, 1)
	require.NoError(t, err)
	data, err := leader.Log().ReadBytes(0, 1<<20, 1<<40)
	require.NoError(t, err)

	for _, durable := range []bool{false, true} {
		f := followerLog(t, 1)
		f.SetDurableAcks(durable)
		_, err := f.AppendFromLeader(1, data)
		require.NoError(t, err)
		assert.Equal(t, int64(5), f.FetchOffset())
		if durable {
			assert.Equal(t, int64(5), f.Log().RecoveryPoint(), "durable: fetched at 5 only once 5 is on disk")
		} else {
			assert.Equal(t, int64(0), f.Log().RecoveryPoint(), "default: no fsync")
		}
	}
}

// TestDurableAcksTurnedOff: turning durable acks off lets the high
// watermark reach the log end (followers permitting) without an fsync.
func TestDurableAcksTurnedOff(t *testing.T) {
	p := newPartition(t, &fakeClock{t: time.Unix(0, 0)})
	p.SetDurableAcks(true)
	require.NoError(t, p.MakeLeader(1, []int32{1}, []int32{1}, 0))
	info, err := p.Append(batch(4), AcksAll, 1)
	require.NoError(t, err)
	require.NoError(t, p.WaitCommitted(context.Background(), info.LastOffset, 1))
	p.SetDurableAcks(false)
	assert.False(t, p.DurableAcks())
	_, err = p.Append(batch(4), AcksAll, 1)
	require.NoError(t, err)
	assert.Equal(t, int64(8), p.HighWatermark(), "committed at once")
	assert.Equal(t, int64(4), p.Log().RecoveryPoint(), "and not fsynced")
}
