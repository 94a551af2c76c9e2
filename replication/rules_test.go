package replication

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/strom-broker/strom/net/kerr"
)

func TestFollowerProgressLagRule(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const maxLag = 100 * time.Millisecond
	f := NewFollowerProgress(10, true, t0)
	assert.False(t, f.OutOfSync(10, t0.Add(time.Hour), maxLag), "at the log end: never out of sync")
	assert.True(t, f.OutOfSync(12, t0.Add(maxLag+1), maxLag), "behind and not caught up within maxLag")

	f.RecordFetch(12, 12, t0.Add(50*time.Millisecond)) // at the log end: caught up now
	assert.Equal(t, t0.Add(50*time.Millisecond), f.CaughtUpTime)
	f.RecordFetch(12, 20, t0.Add(80*time.Millisecond)) // reached the previous fetch's log end (12)
	assert.Equal(t, t0.Add(50*time.Millisecond), f.CaughtUpTime, "caught up as of the previous fetch")
	f.RecordFetch(15, 30, t0.Add(90*time.Millisecond)) // below the previous log end (20)
	assert.Equal(t, t0.Add(50*time.Millisecond), f.CaughtUpTime, "not caught up")
	assert.True(t, f.OutOfSync(30, t0.Add(151*time.Millisecond), maxLag))

	out := NewFollowerProgress(10, false, t0)
	assert.True(t, out.CaughtUpTime.IsZero(), "a follower outside the ISR is not caught up at the start")
}

func TestHighWatermarkOverMaximalISR(t *testing.T) {
	progress := map[int32]FollowerProgress{2: {FetchOffset: 7}, 3: {FetchOffset: 4}}
	get := func(r int32) (FollowerProgress, bool) { f, ok := progress[r]; return f, ok }
	assert.Equal(t, int64(7), HighWatermark(10, []int32{1, 2}, get))
	shrink := &ISRChange{ISR: []int32{1, 2}}
	maximal := MaximalISR([]int32{1, 2, 3}, shrink)
	assert.ElementsMatch(t, []int32{1, 2, 3}, maximal, "a shrink in flight still counts the removed member")
	assert.Equal(t, int64(4), HighWatermark(10, maximal, get))
	expand := &ISRChange{ISR: []int32{1, 2, 3}}
	assert.ElementsMatch(t, []int32{1, 2, 3}, MaximalISR([]int32{1, 2}, expand), "an expansion in flight counts the new member")
	assert.Equal(t, int64(10), HighWatermark(10, []int32{1}, get), "the leader alone: its log end")
}

func TestShrinkAndJoin(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 1, 0, time.UTC)
	progress := map[int32]FollowerProgress{
		2: {FetchOffset: 10, CaughtUpTime: now.Add(-time.Hour)}, // at the log end
		3: {FetchOffset: 8, CaughtUpTime: now.Add(-time.Second)},
		4: {FetchOffset: 8, CaughtUpTime: now.Add(-time.Millisecond)},
	}
	get := func(r int32) (FollowerProgress, bool) { f, ok := progress[r]; return f, ok }
	assert.Equal(t, []int32{1, 2, 4}, ShrunkISR([]int32{1, 2, 3, 4}, 10, now, 100*time.Millisecond, get),
		"only the follower behind for longer than maxLag leaves; the leader never")
	assert.True(t, MayJoinISR(10, 10, 5))
	assert.False(t, MayJoinISR(9, 10, 5), "below the high watermark")
	assert.False(t, MayJoinISR(10, 8, 12), "below the start of the leader's epoch")
	assert.True(t, MayPropose(nil, now, now))
	assert.False(t, MayPropose(&ISRChange{}, now, time.Time{}), "one change in flight at a time")
	assert.False(t, MayPropose(nil, now, now.Add(time.Millisecond)), "backing off after a refusal")
}

func TestMinInsyncChecks(t *testing.T) {
	assert.ErrorIs(t, CheckBeforeAppend(AcksAll, 1, 2), ErrNotEnoughReplicas)
	assert.NoError(t, CheckBeforeAppend(AcksLeader, 1, 2), "acks=1 ignores min.insync.replicas")
	assert.NoError(t, CheckBeforeAppend(AcksAll, 2, 2))
	assert.ErrorIs(t, CheckAfterCommit(1, 2), ErrNotEnoughReplicasAfterAppend)
	assert.NoError(t, CheckAfterCommit(2, 2))
}

func TestRefusalResetsISR(t *testing.T) {
	assert.True(t, RefusalResetsISR(kerr.IneligibleReplica), "refused without being applied")
	assert.True(t, RefusalResetsISR(kerr.OperationNotAttempted))
	for _, err := range []error{kerr.FencedLeaderEpoch, kerr.InvalidUpdateVersion, kerr.NotLeaderForPartition, kerr.NotController} {
		assert.False(t, RefusalResetsISR(err), "%v may answer a resend of a stored change", err)
	}
}
