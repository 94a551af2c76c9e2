package broker

import (
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/engine/partlog"
	"github.com/strom-broker/strom/net/kerr"
)

// DeleteRecords (key 21): moves a partition's log start offset forward
// (offset -1 means the high watermark); whole segments below it are
// deleted. Offsets above the high watermark are OFFSET_OUT_OF_RANGE. A
// topic whose cleanup.policy does not include "delete" (compact only)
// answers POLICY_VIOLATION before the offset is looked at, as Kafka's
// Partition.deleteRecordsOnLeader does.
func (b *Broker) handleDeleteRecords(req *kmsg.DeleteRecordsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.DeleteRecordsResponse)
	for _, rt := range req.Topics {
		st := kmsg.NewDeleteRecordsResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewDeleteRecordsResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.LowWatermark = -1
			p, err := b.parts.leader(rt.Topic, rp.Partition, -1)
			switch {
			case err != nil:
				sp.ErrorCode = errorCode(err)
			case !strings.Contains(p.Log().Config().CleanupPolicy, partlog.CleanupDelete):
				sp.ErrorCode = kerr.PolicyViolation.Code
			default:
				off := rp.Offset
				hw := p.HighWatermark()
				if off == -1 {
					off = hw
				}
				if off < 0 || off > hw {
					sp.ErrorCode = kerr.OffsetOutOfRange.Code
					break
				}
				low, err := p.Log().DeleteRecordsBefore(off)
				sp.LowWatermark = low
				sp.ErrorCode = errorCode(err)
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}
