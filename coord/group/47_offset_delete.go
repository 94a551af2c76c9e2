package group

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// OffsetDelete answers OffsetDelete (key 47, v0): deletes committed offsets
// of an empty group, or of topics no member of a consumer group subscribes
// to (GROUP_SUBSCRIBED_TO_TOPIC for the others, read from the members'
// consumer-protocol subscriptions). A non-consumer group with members is
// NON_EMPTY_GROUP, an unknown group GROUP_ID_NOT_FOUND, a partition that
// does not exist UNKNOWN_TOPIC_OR_PARTITION.
//
// As in Kafka, the offsets leave memory once their tombstones are in the
// local log, under the partition's lock, and the wait for the commit holds
// no lock; a commit appended later applies after them, one appended
// earlier and acknowledged later does not bring them back
// (group.applyOffset). The partitions' codes are the commit's outcome.
func (c *Coordinator) OffsetDelete(ctx context.Context, req *kmsg.OffsetDeleteRequest) *kmsg.OffsetDeleteResponse {
	r := kmsg.NewPtrOffsetDeleteResponse()
	r.Version = req.Version
	codes := make([][]int16, len(req.Topics))
	for i, t := range req.Topics {
		codes[i] = make([]int16, len(t.Partitions))
	}
	r.ErrorCode = c.offsetDelete(ctx, req, codes)
	if r.ErrorCode != errNone {
		return r
	}
	for i, t := range req.Topics {
		rt := kmsg.OffsetDeleteResponseTopic{Topic: t.Topic}
		for j, p := range t.Partitions {
			rt.Partitions = append(rt.Partitions, kmsg.OffsetDeleteResponseTopicPartition{Partition: p.Partition, ErrorCode: codes[i][j]})
		}
		r.Topics = append(r.Topics, rt)
	}
	return r
}

func (c *Coordinator) offsetDelete(ctx context.Context, req *kmsg.OffsetDeleteRequest, codes [][]int16) int16 {
	s, code := c.acquire(req.Group)
	if code != errNone {
		return code
	}
	defer c.unlock(s)
	g := s.groups[req.Group]
	if g == nil {
		return errGroupIDNotFound
	}
	if g.state != Empty && g.protocolType != ConsumerProtocolType {
		return errNonEmptyGroup
	}
	var recs []kv
	var del []topicPartition
	var where [][2]int
	for i, t := range req.Topics {
		for j, p := range t.Partitions {
			tp := topicPartition{t.Topic, p.Partition}
			switch {
			case !c.exists(t.Topic, p.Partition):
				codes[i][j] = errUnknownTopicOrPartition
			case g.state != Empty && g.isSubscribedTo(t.Topic):
				codes[i][j] = errGroupSubscribedToTopic
			default:
				if _, ok := g.offsets[tp]; ok {
					recs = append(recs, kv{key: EncodeOffsetKey(g.id, tp.topic, tp.partition)})
					del = append(del, tp)
					where = append(where, [2]int{i, j})
				}
			}
		}
	}
	if len(recs) == 0 {
		return errNone
	}
	w, code := c.appendAsync(ctx, s, recs)
	if code == errNone {
		for _, tp := range del {
			g.removeOffset(tp, w.pos)
		}
		code = c.await(s, w)
	}
	for _, wh := range where {
		codes[wh[0]][wh[1]] = code
	}
	return errNone
}
