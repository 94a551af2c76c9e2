package replication

import (
	"slices"
	"time"
)

// This file holds the leader's decisions as pure functions on values (no
// locks, no log, no clock of their own): the lag rule, ISR shrink and
// expansion, the high watermark over the maximal ISR, and the
// min.insync.replicas checks. Partition applies them under its lock to its
// partition log; the replication simulator (replication/sim) applies the
// very same functions to its model of a log, so what the simulator checks
// is what the broker decides. research/ZK_CLUSTER.md section 4 gives
// Kafka's rules.

// FollowerProgress is the leader's view of one follower replica (Kafka's
// Replica state, research/ZK_CLUSTER.md 4.2).
type FollowerProgress struct {
	// FetchOffset is the last fetch offset the follower asked for: it
	// holds every record below it.
	FetchOffset int64
	// CaughtUpTime is the last time the follower was caught up (the lag
	// rule).
	CaughtUpTime time.Time
	// LastFetchLEO and LastFetchTime are the leader's log end offset and
	// the time at the follower's previous fetch (LastFetchLEO -1: none).
	LastFetchLEO  int64
	LastFetchTime time.Time
}

// NewFollowerProgress is a follower's state when a replica becomes leader
// with high watermark hw: it is assumed to hold everything below hw, and
// counts as caught up now when it is in the ISR (Kafka's makeLeader).
func NewFollowerProgress(hw int64, inISR bool, now time.Time) FollowerProgress {
	f := FollowerProgress{FetchOffset: hw, LastFetchLEO: -1}
	if inISR {
		f.CaughtUpTime = now
	}
	return f
}

// RecordFetch applies a follower fetch at fetchOffset, when the leader's
// log ends at leaderLEO: the follower is caught up now if it fetched at
// the log end, and caught up as of its previous fetch if it fetched at
// least the log end the leader had then.
func (f *FollowerProgress) RecordFetch(fetchOffset, leaderLEO int64, now time.Time) {
	f.FetchOffset = fetchOffset
	switch {
	case fetchOffset >= leaderLEO:
		f.CaughtUpTime = now
	case f.LastFetchLEO >= 0 && fetchOffset >= f.LastFetchLEO:
		f.CaughtUpTime = f.LastFetchTime
	}
	f.LastFetchLEO, f.LastFetchTime = leaderLEO, now
}

// OutOfSync reports whether the follower is out of sync (Kafka's
// getOutOfSyncReplicas): not at the log end and not caught up within
// maxLag.
func (f *FollowerProgress) OutOfSync(leaderLEO int64, now time.Time, maxLag time.Duration) bool {
	return f.FetchOffset < leaderLEO && now.Sub(f.CaughtUpTime) > maxLag
}

// MayJoinISR reports whether a follower fetching at fetchOffset may join
// the ISR: it reached the high watermark and the start of the current
// leader epoch (Kafka's isFollowerInSync).
func MayJoinISR(fetchOffset, hw, epochStart int64) bool {
	return fetchOffset >= hw && fetchOffset >= epochStart
}

// MaximalISR is the committed ISR with the members of the change in flight
// (pending, nil for none) added: while a change is unanswered the high
// watermark and the after-append check count both.
func MaximalISR(isr []int32, pending *ISRChange) []int32 {
	if pending == nil {
		return isr
	}
	out := slices.Clone(isr)
	for _, r := range pending.ISR {
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out
}

// HighWatermark returns the high watermark a leader whose log ends at leo
// may have: the smallest fetch offset among the members of maximalISR
// (followers the leader has no progress for are skipped, as is the leader
// itself), capped at leo. The caller keeps the larger of this and its
// current high watermark, so it never moves back.
func HighWatermark(leo int64, maximalISR []int32, progress func(replica int32) (FollowerProgress, bool)) int64 {
	hw := leo
	for _, r := range maximalISR {
		if f, ok := progress(r); ok {
			hw = min(hw, f.FetchOffset)
		}
	}
	return hw
}

// ShrunkISR returns isr without the followers that are out of sync for a
// leader whose log ends at leo (the leader, which has no progress entry,
// is never removed).
func ShrunkISR(isr []int32, leo int64, now time.Time, maxLag time.Duration, progress func(replica int32) (FollowerProgress, bool)) []int32 {
	out := isr[:0:0]
	for _, r := range isr {
		if f, ok := progress(r); ok && f.OutOfSync(leo, now, maxLag) {
			continue
		}
		out = append(out, r)
	}
	return out
}

// MayPropose reports whether a leader may propose an ISR change: none is
// in flight and the back-off after a refusal has passed.
func MayPropose(pending *ISRChange, now, retryAfter time.Time) bool {
	return pending == nil && !now.Before(retryAfter)
}

// CheckBeforeAppend is min.insync.replicas before an append: acks=all with
// a committed ISR of fewer than minISR members is refused with
// ErrNotEnoughReplicas and nothing is appended.
func CheckBeforeAppend(acks int16, isrSize, minISR int) error {
	if acks == AcksAll && isrSize < minISR {
		return ErrNotEnoughReplicas
	}
	return nil
}

// CheckAfterCommit is min.insync.replicas once an acks=all record is
// committed: a maximal ISR of fewer than minISR members answers
// ErrNotEnoughReplicasAfterAppend (Kafka's
// Partition.checkEnoughReplicasReachOffset).
func CheckAfterCommit(maximalISRSize, minISR int) error {
	if maximalISRSize < minISR {
		return ErrNotEnoughReplicasAfterAppend
	}
	return nil
}
