package replication

import "github.com/strom-broker/strom/engine/epoch"

// This file decides where a follower truncates: by leader epoch only
// (KIP-101), iterating when the follower lacks the leader's epoch
// (KIP-279), never to its own high watermark (the data-loss case KIP-101
// fixed). research/ZK_CLUSTER.md 5.4 gives Kafka's rules
// (AbstractFetcherThread.getOffsetTruncationState).

// EpochEnd is an answer to OffsetForLeaderEpoch: the largest epoch at or
// below the one asked about, and the offset where it ends (the start of
// the next epoch, or the log end for the latest). epoch.UndefinedEpoch /
// epoch.UndefinedEpochOffset when unknown.
type EpochEnd struct {
	Epoch     int32
	EndOffset int64
}

// TruncationPoint returns where a follower whose log ends at leo truncates
// given the leader's answer for the follower's latest epoch; localEnd
// answers the same question from the follower's own leader-epoch cache.
// done is false when the follower must ask again with its (new) latest
// epoch after truncating to offset. Offsets at or above leo cut nothing.
//
//   - The leader knows no such epoch (UNDEFINED end offset): nothing is
//     cut here; fetching from leo then meets OFFSET_OUT_OF_RANGE if the
//     leader's log is shorter, which truncates to the leader's end.
//   - An old leader without epochs in its answer (UNDEFINED epoch):
//     min(leader's end, leo).
//   - The follower has no epoch at or below the leader's: min(leader's
//     end, leo).
//   - The follower's largest epoch at or below the leader's is smaller:
//     cut where that epoch ends locally and ask again.
//   - The follower has the leader's epoch: min(its end of that epoch, the
//     leader's end, leo).
func TruncationPoint(leader EpochEnd, localEnd func(epoch int32) EpochEnd, leo int64) (offset int64, done bool) {
	switch {
	case leader.EndOffset == epoch.UndefinedEpochOffset:
		return leo, true
	case leader.Epoch == epoch.UndefinedEpoch:
		return min(leader.EndOffset, leo), true
	}
	local := localEnd(leader.Epoch)
	switch {
	case local.EndOffset == epoch.UndefinedEpochOffset:
		return min(leader.EndOffset, leo), true
	case local.Epoch != leader.Epoch:
		return min(local.EndOffset, leo), false
	default:
		return min(local.EndOffset, leader.EndOffset, leo), true
	}
}

// OutOfRangeRestart decides what a follower at leo does when the leader
// answered its fetch OFFSET_OUT_OF_RANGE, given the leader's log end and
// log start (research/ZK_CLUSTER.md 5.5): the leader's log is shorter
// (an unclean election) -> truncate to leaderEnd and fetch from there;
// the leader's log starts beyond leo -> empty the log and restart at
// leaderStart (restart true); otherwise fetch again from leo.
func OutOfRangeRestart(leo, leaderStart, leaderEnd int64) (offset int64, truncate, restart bool) {
	switch {
	case leaderEnd < leo:
		return leaderEnd, true, false
	case leaderStart > leo:
		return leaderStart, false, true
	default:
		return leo, false, false
	}
}
