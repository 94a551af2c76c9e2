package replication

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strom-broker/strom/engine/epoch"
	"github.com/strom-broker/strom/engine/partlog"
	"github.com/strom-broker/strom/engine/record"
)

// cacheOf answers EndOffsetFor from a list of (epoch, start) entries and a
// log end, as a follower's leader-epoch cache does.
func cacheOf(t *testing.T, leo int64, entries ...epoch.Entry) func(int32) EpochEnd {
	t.Helper()
	c, err := epoch.Open(t.TempDir())
	require.NoError(t, err)
	for _, e := range entries {
		require.NoError(t, c.Assign(e.Epoch, e.StartOffset))
	}
	return func(ep int32) EpochEnd {
		e, end := c.EndOffsetFor(ep, leo)
		return EpochEnd{Epoch: e, EndOffset: end}
	}
}

// TestTruncationPoint: the cases of research/ZK_CLUSTER.md 5.4.
func TestTruncationPoint(t *testing.T) {
	const undefE, undefO = epoch.UndefinedEpoch, epoch.UndefinedEpochOffset
	tests := []struct {
		name   string
		leader EpochEnd
		local  []epoch.Entry
		leo    int64
		want   int64
		done   bool
	}{
		{"leader knows no such epoch: nothing cut here, OFFSET_OUT_OF_RANGE decides",
			EpochEnd{undefE, undefO}, []epoch.Entry{{Epoch: 1, StartOffset: 0}}, 50, 50, true},
		{"old leader without epochs: its end",
			EpochEnd{undefE, 30}, []epoch.Entry{{Epoch: 1, StartOffset: 0}}, 50, 30, true},
		{"old leader without epochs, ahead: keep all",
			EpochEnd{undefE, 80}, []epoch.Entry{{Epoch: 1, StartOffset: 0}}, 50, 50, true},
		{"same epoch, leader's ends first (KIP-101 scenario 1: uncommitted tail)",
			EpochEnd{2, 40}, []epoch.Entry{{Epoch: 1, StartOffset: 0}, {Epoch: 2, StartOffset: 20}}, 50, 40, true},
		{"same epoch, follower's ends first (it has a later epoch too)",
			EpochEnd{1, 40}, []epoch.Entry{{Epoch: 1, StartOffset: 0}, {Epoch: 3, StartOffset: 25}}, 50, 25, true},
		{"same epoch, leader ahead: nothing cut",
			EpochEnd{2, 90}, []epoch.Entry{{Epoch: 2, StartOffset: 0}}, 50, 50, true},
		{"follower lacks the leader's epoch: cut at its own smaller epoch's end, ask again (KIP-279)",
			EpochEnd{3, 40}, []epoch.Entry{{Epoch: 1, StartOffset: 0}, {Epoch: 2, StartOffset: 10}, {Epoch: 4, StartOffset: 30}}, 50, 30, false},
		{"leader's epoch below every local one: the follower's first epoch start",
			EpochEnd{0, 40}, []epoch.Entry{{Epoch: 2, StartOffset: 5}}, 50, 5, true},
		{"follower's cache empty: the leader's end",
			EpochEnd{2, 40}, nil, 50, 40, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, done := TruncationPoint(tc.leader, cacheOf(t, tc.leo, tc.local...), tc.leo)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.done, done)
		})
	}
}

// TestTruncationNeverToHighWatermark: a follower whose high watermark lags
// its log (it had records the old leader committed, but had not heard of
// the commit yet) keeps them: KIP-101's scenario 1, where truncating to
// the high watermark lost acknowledged data.
func TestTruncationNeverToHighWatermark(t *testing.T) {
	// Follower: epoch 1 from 0, log end 2, high watermark 1. New leader
	// (elected in epoch 2) has epoch 1 up to 2, then its epoch 2.
	got, done := TruncationPoint(EpochEnd{Epoch: 1, EndOffset: 2}, cacheOf(t, 2, epoch.Entry{Epoch: 1, StartOffset: 0}), 2)
	assert.True(t, done)
	assert.Equal(t, int64(2), got, "the record above the high watermark stays")
}

func TestOutOfRangeRestart(t *testing.T) {
	off, trunc, restart := OutOfRangeRestart(50, 0, 30)
	assert.Equal(t, []any{int64(30), true, false}, []any{off, trunc, restart}, "leader shorter: truncate to its end")
	off, trunc, restart = OutOfRangeRestart(50, 70, 100)
	assert.Equal(t, []any{int64(70), false, true}, []any{off, trunc, restart}, "leader starts beyond: restart there")
	off, trunc, restart = OutOfRangeRestart(50, 10, 100)
	assert.Equal(t, []any{int64(50), false, false}, []any{off, trunc, restart}, "in range again: fetch from the log end")
}

// followerLog returns a Partition on a real log holding batches of the
// given (epoch, records) runs, made a follower of broker 9 in epoch.
func followerLog(t *testing.T, leaderEpoch int32, runs ...[2]int) *Partition {
	t.Helper()
	l, err := partlog.Open(t.TempDir(), partlog.DefaultConfig())
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	var next int64
	for _, r := range runs {
		b := batch(r[1])
		record.SetBaseOffset(b, next)
		record.SetPartitionLeaderEpoch(b, int32(r[0]))
		_, err := l.AppendAsFollower(b)
		require.NoError(t, err)
		next += int64(r[1])
	}
	p := New("t", 0, 1, l, 0, (&fakeClock{t: time.Unix(0, 0)}).now)
	p.MakeFollower(leaderEpoch, 9, []int32{1, 9})
	return p
}

// truncateAgainst runs the follower's truncation loop against the
// leader's real log, as the fetcher does (OffsetForLeaderEpoch answered by
// the leader's Log.EndOffsetForEpoch).
func truncateAgainst(t *testing.T, f, leader *Partition, leaderEpoch int32) int {
	t.Helper()
	rounds := 0
	for {
		rounds++
		require.Less(t, rounds, 10, "truncation must converge")
		latest, ok := f.Log().EpochCache().LatestEpoch()
		if !ok {
			return rounds
		}
		e, end := leader.Log().EndOffsetForEpoch(latest)
		leo := f.Log().LogEndOffset()
		off, done := TruncationPoint(EpochEnd{e, end}, func(ep int32) EpochEnd {
			e, end := f.Log().EndOffsetForEpoch(ep)
			return EpochEnd{e, end}
		}, leo)
		require.NoError(t, f.TruncateTo(leaderEpoch, off))
		if done || off >= leo {
			return rounds
		}
	}
}

// TestTruncationRealLogs: KIP-279's fast leader changes on real logs. The
// follower wrote epochs 1 (0-9), 2 (10-14, never replicated) and 4 (15-19,
// never replicated); the leader has epoch 1 (0-9) and 3 (10-29). The
// follower truncates to 10 in two rounds and then copies the leader's
// batches from there; both logs agree.
func TestTruncationRealLogs(t *testing.T) {
	f := followerLog(t, 5, [2]int{1, 10}, [2]int{2, 5}, [2]int{4, 5})
	leader := followerLog(t, 4, [2]int{1, 10}, [2]int{3, 20})
	require.NoError(t, leader.MakeLeader(5, []int32{1, 9}, []int32{9}, 0))
	f.hw.Store(8)

	rounds := truncateAgainst(t, f, leader, 5)
	assert.Equal(t, 2, rounds, "epoch 4: the leader's 3 ends at 30, the follower lacks 3 (cut at 15); epoch 2: the leader's 1 ends at 10")
	assert.Equal(t, int64(10), f.Log().LogEndOffset())
	assert.Equal(t, int64(8), f.HighWatermark(), "the high watermark is not a truncation point")

	data, err := leader.Log().ReadBytes(10, 1<<20, 1<<40)
	require.NoError(t, err)
	_, err = f.AppendFromLeader(5, data)
	require.NoError(t, err)
	require.NoError(t, f.UpdateFromLeader(5, 25, 0))
	assert.Equal(t, int64(25), f.HighWatermark())
	require.NoError(t, f.UpdateFromLeader(5, 99, 0))
	assert.Equal(t, int64(30), f.HighWatermark(), "clamped to the follower's log end")
	assert.Equal(t, leader.Log().EpochCache().Entries()[:2], f.Log().EpochCache().Entries(),
		"the same epochs (the leader's own epoch 5 has no records yet)")
	want, err := leader.Log().ReadBytes(0, 1<<20, 1<<40)
	require.NoError(t, err)
	got, err := f.Log().ReadBytes(0, 1<<20, 1<<40)
	require.NoError(t, err)
	assert.Equal(t, want, got)

	_, err = f.AppendFromLeader(4, data)
	assert.ErrorIs(t, err, ErrStaleFetch, "data fetched for an older epoch is dropped")
	require.NoError(t, f.MakeLeader(6, []int32{1, 9}, []int32{1}, 0))
	assert.ErrorIs(t, f.TruncateTo(5, 0), ErrStaleFetch, "a leader is never truncated by a fetcher")
	assert.Equal(t, int64(30), f.Log().LogEndOffset())
}

func TestCompleteBatches(t *testing.T) {
	a, b := batch(2), batch(3)
	all := append(append([]byte{}, a...), b...)
	assert.Equal(t, all, completeBatches(all))
	assert.Equal(t, a, completeBatches(all[:len(all)-1]), "a partial last batch is left out")
	assert.Empty(t, completeBatches(all[:10]))
	assert.Empty(t, completeBatches(nil))
}
