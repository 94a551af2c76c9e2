package replication

import (
	"fmt"

	"github.com/strom-broker/strom/engine/epoch"
	"github.com/strom-broker/strom/net/kerr"
)

// This file is the leader's side of truncation on fetch (KIP-320, Kafka
// 2.7+): a follower's Fetch v12+ names the epoch of the last batch it
// holds (LastFetchedEpoch); when the leader's log diverges from it there,
// the leader answers with where that epoch ends on its log
// (DivergingEpoch) instead of records, and the follower truncates
// (TruncationPoint) without an OffsetForLeaderEpoch round trip. Kafka's
// rules: Partition.readRecords (research/ZK_CLUSTER.md 5.1).

// DivergingEpoch checks a fetch at fetchOffset whose last fetched batch
// has lastFetchedEpoch against this leader's log. diverged is true when
// the leader's log ends that epoch earlier than fetchOffset or knows only
// a smaller epoch: the answer is then end (the largest epoch at or below
// lastFetchedEpoch and where it ends) and no records; the follower's fetch
// state must not be updated from such a fetch. It returns
// kerr.OffsetOutOfRange when the leader cannot place the epoch (it lies
// below its log start) or fetchOffset is below its log start.
func (p *Partition) DivergingEpoch(lastFetchedEpoch int32, fetchOffset int64) (end EpochEnd, diverged bool, err error) {
	ep, off := p.log.EndOffsetForEpoch(lastFetchedEpoch)
	if ep == epoch.UndefinedEpoch || off == epoch.UndefinedEpochOffset {
		return EpochEnd{}, false, fmt.Errorf("%w: last fetched epoch %d unknown to the leader", kerr.OffsetOutOfRange, lastFetchedEpoch)
	}
	if start := p.log.LogStartOffset(); fetchOffset < start {
		return EpochEnd{}, false, fmt.Errorf("%w: fetch offset %d below the log start %d", kerr.OffsetOutOfRange, fetchOffset, start)
	}
	if ep < lastFetchedEpoch || off < fetchOffset {
		return EpochEnd{Epoch: ep, EndOffset: off}, true, nil
	}
	return EpochEnd{}, false, nil
}
