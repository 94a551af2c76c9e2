package broker

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/engine/partlog"
)

// ListOffsets (key 2): earliest (-2), latest (-1: the high watermark for
// consumers, the log end for replicas), max timestamp (-3) and by
// timestamp (the first offset whose timestamp is at or after it). v0
// answers in the old style, a list of offsets.
func (b *Broker) handleListOffsets(req *kmsg.ListOffsetsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
	for _, rt := range req.Topics {
		st := kmsg.NewListOffsetsResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewListOffsetsResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.Timestamp, sp.Offset, sp.LeaderEpoch = -1, -1, -1
			if err := b.listOffset(req.ReplicaID, rt.Topic, rp, &sp); err != nil {
				sp.ErrorCode = errorCode(err)
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

func (b *Broker) listOffset(replicaID int32, topic string, rp kmsg.ListOffsetsRequestTopicPartition, sp *kmsg.ListOffsetsResponseTopicPartition) error {
	p, err := b.parts.leader(topic, rp.Partition, rp.CurrentLeaderEpoch)
	if err != nil {
		return err
	}
	l := p.Log()
	if rp.Timestamp == partlog.LatestTimestamp {
		sp.Offset = p.HighWatermark()
		if replicaID >= 0 {
			sp.Offset = l.LogEndOffset()
		}
	} else {
		to, found, err := l.OffsetForTimestamp(rp.Timestamp)
		if err != nil {
			return err
		}
		if !found {
			return nil // Kafka answers offset -1, timestamp -1
		}
		if rp.Timestamp >= 0 && to.Offset >= p.HighWatermark() && replicaID < 0 {
			return nil // not committed yet
		}
		sp.Offset, sp.Timestamp = to.Offset, to.Timestamp
	}
	// The epoch of the record at the answered offset; for "latest" (the
	// offset after the last record) the latest epoch, as Kafka does.
	ep, ok := l.EpochCache().EpochForOffset(sp.Offset)
	if rp.Timestamp == partlog.LatestTimestamp {
		ep, ok = l.EpochCache().LatestEpoch()
	}
	if ok && sp.Offset >= 0 {
		sp.LeaderEpoch = ep
	}
	return nil
}
