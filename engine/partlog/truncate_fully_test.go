package partlog

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strom-broker/strom/engine/record"
)

// TestTruncateFullyAndStartAt: the log restarts empty at an offset beyond
// its end (a follower behind the leader's log start), takes the leader's
// batches from there, and reopens so.
func TestTruncateFullyAndStartAt(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, smallConfig())
	for i := 0; i < 5; i++ {
		_, err := l.Append(makeBatch(3, int64(i), "x"), 1)
		require.NoError(t, err)
	}
	require.Equal(t, int64(15), l.LogEndOffset())
	require.NoError(t, l.TruncateFullyAndStartAt(100))
	assert.Equal(t, int64(100), l.LogStartOffset())
	assert.Equal(t, int64(100), l.LogEndOffset())
	assert.Empty(t, l.EpochCache().Entries(), "the epoch cache is emptied")

	b := makeBatch(2, 7, "leader")
	record.SetBaseOffset(b, 100)
	record.SetPartitionLeaderEpoch(b, 4)
	_, err := l.AppendAsFollower(b)
	require.NoError(t, err)
	assert.Equal(t, int64(102), l.LogEndOffset())
	ep, end := l.EndOffsetForEpoch(4)
	assert.Equal(t, int32(4), ep)
	assert.Equal(t, int64(102), end)
	require.NoError(t, l.Close())

	l = openLog(t, dir, smallConfig(), WithCleanShutdown(true), WithLogStartOffset(100))
	assert.Equal(t, int64(100), l.LogStartOffset())
	assert.Equal(t, int64(102), l.LogEndOffset())
	got, err := l.ReadBytes(100, 1<<20, 1000)
	require.NoError(t, err)
	assert.Equal(t, b, got)
	assert.ErrorIs(t, l.TruncateFullyAndStartAt(-1), ErrOffsetOutOfRange)
	require.NoError(t, l.Close())
}
