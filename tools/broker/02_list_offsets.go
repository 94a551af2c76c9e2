package broker

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/engine/partlog"
	"github.com/strom-broker/strom/net/kerr"
	"github.com/strom-broker/strom/replication"
)

// Special timestamps of ListOffsets beyond the engine's (-1 latest, -2
// earliest, -3 max timestamp).
const (
	earliestLocalTimestamp = -4 // the local log start (no tiered storage: the log start)
	latestTieredTimestamp  = -5 // the highest tiered offset (none here: -1)
)

// minVersionOfTimestamp is the first ListOffsets version that may carry
// each special timestamp (Kafka's ReplicaManager.timestampMinSupportedVersion).
var minVersionOfTimestamp = map[int64]int16{
	partlog.LatestTimestamp:       1,
	partlog.EarliestTimestamp:     1,
	partlog.MaxTimestampTimestamp: 7,
	earliestLocalTimestamp:        8,
	latestTieredTimestamp:         9,
}

// ListOffsets (key 2): earliest (-2), latest (-1: the high watermark for
// consumers, the log end for replicas), max timestamp (-3), earliest local
// (-4: the log start, as there is no tiered storage), latest tiered (-5:
// offset -1, leader epoch -1) and by timestamp (the first offset whose
// timestamp is at or after it). v0 answers in the old style, a list of
// offsets.
//
// From v1, as Kafka's ReplicaManager.fetchOffset: a partition listed twice
// answers INVALID_REQUEST (each time); an unknown negative timestamp, or a
// special one below its minimum version (-3 from v7, -4 from v8, -5 from
// v9), UNSUPPORTED_VERSION. A consumer is not told of offsets at or above
// the high watermark (offset -1) except for latest. The leader epoch of
// latest is the partition's current leader epoch (Partition.fetchOffsetForTimestamp).
func (b *Broker) handleListOffsets(req *kmsg.ListOffsetsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
	type tp struct {
		topic string
		p     int32
	}
	seen := map[tp]int{}
	for _, rt := range req.Topics {
		for _, rp := range rt.Partitions {
			seen[tp{rt.Topic, rp.Partition}]++
		}
	}
	for _, rt := range req.Topics {
		st := kmsg.NewListOffsetsResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewListOffsetsResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.Timestamp, sp.Offset, sp.LeaderEpoch = -1, -1, -1
			switch {
			case req.Version >= 1 && seen[tp{rt.Topic, rp.Partition}] > 1:
				sp.ErrorCode = kerr.InvalidRequest.Code
			case req.Version >= 1 && timestampUnsupported(rp.Timestamp, req.Version):
				sp.ErrorCode = kerr.UnsupportedVersion.Code
			default:
				if err := b.listOffset(req.ReplicaID, rt.Topic, rp, &sp); err != nil {
					sp.Timestamp, sp.Offset, sp.LeaderEpoch = -1, -1, -1
					sp.ErrorCode = errorCode(err)
				}
			}
			if req.Version == 0 && sp.ErrorCode == 0 {
				sp.OldStyleOffsets = []int64{sp.Offset}
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

// timestampUnsupported is Kafka's ReplicaManager.isListOffsetsTimestampUnsupported.
func timestampUnsupported(ts int64, version int16) bool {
	if ts >= 0 {
		return false
	}
	min, ok := minVersionOfTimestamp[ts]
	return !ok || version < min
}

func (b *Broker) listOffset(replicaID int32, topic string, rp kmsg.ListOffsetsRequestTopicPartition, sp *kmsg.ListOffsetsResponseTopicPartition) error {
	p, err := b.parts.leader(topic, rp.Partition, rp.CurrentLeaderEpoch)
	if err != nil {
		return err
	}
	l := p.Log()
	client := replicaID < 0
	switch rp.Timestamp {
	case partlog.LatestTimestamp:
		sp.Offset = p.HighWatermark()
		if !client {
			sp.Offset = l.LogEndOffset()
		}
		sp.LeaderEpoch = p.State().LeaderEpoch
		return nil
	case latestTieredTimestamp:
		return nil // offset -1, leader epoch -1: nothing is tiered
	case earliestLocalTimestamp:
		return setOffsetAndEpoch(p, partlog.EarliestTimestamp, client, sp)
	}
	return setOffsetAndEpoch(p, rp.Timestamp, client, sp)
}

// setOffsetAndEpoch answers ts (earliest, max timestamp or a time) from the
// log, with the epoch of the record at the answered offset.
func setOffsetAndEpoch(p *replication.Partition, ts int64, client bool, sp *kmsg.ListOffsetsResponseTopicPartition) error {
	l := p.Log()
	to, found, err := l.OffsetForTimestamp(ts)
	if err != nil {
		return err
	}
	if !found {
		return nil // Kafka answers offset -1, timestamp -1
	}
	if ts != partlog.EarliestTimestamp && client && to.Offset >= p.HighWatermark() {
		return nil // not committed yet
	}
	sp.Offset, sp.Timestamp = to.Offset, to.Timestamp
	if ep, ok := l.EpochCache().EpochForOffset(sp.Offset); ok && sp.Offset >= 0 {
		sp.LeaderEpoch = ep
	}
	return nil
}
