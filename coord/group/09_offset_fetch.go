package group

import "github.com/twmb/franz-go/pkg/kmsg"

// OffsetFetch answers OffsetFetch (key 9, v0-v9; v10 names topics by id and
// is answered UNSUPPORTED_VERSION). v0-v7 ask for one group, v8+ for many,
// each answered on its own. Topics null (v2+) means every partition the
// group committed. A partition without a commit answers offset -1. Errors
// of the group (NOT_COORDINATOR, ...) are per partition in v0-v1, top-level
// in v2-v7, per group in v8+. RequireStable (v7+) is accepted: commits here
// are never pending, so nothing is unstable.
func (c *Coordinator) OffsetFetch(req *kmsg.OffsetFetchRequest) *kmsg.OffsetFetchResponse {
	r := kmsg.NewPtrOffsetFetchResponse()
	r.Version = req.Version
	if req.Version >= 8 {
		for _, rg := range req.Groups {
			out := kmsg.OffsetFetchResponseGroup{Group: rg.Group}
			if req.Version >= 10 {
				out.ErrorCode = errUnsupportedVersion
				r.Groups = append(r.Groups, out)
				continue
			}
			var topics []kmsg.OffsetFetchRequestTopic
			if rg.Topics != nil {
				topics = make([]kmsg.OffsetFetchRequestTopic, 0, len(rg.Topics))
				for _, t := range rg.Topics {
					topics = append(topics, kmsg.OffsetFetchRequestTopic{Topic: t.Topic, Partitions: t.Partitions})
				}
			}
			res, code := c.fetchOffsets(rg.Group, topics)
			out.ErrorCode = code
			for _, t := range res {
				ot := kmsg.OffsetFetchResponseGroupTopic{Topic: t.Topic}
				for _, p := range t.Partitions {
					ot.Partitions = append(ot.Partitions, kmsg.OffsetFetchResponseGroupTopicPartition(p))
				}
				out.Topics = append(out.Topics, ot)
			}
			r.Groups = append(r.Groups, out)
		}
		return r
	}
	topics := req.Topics
	if req.Version < 2 && topics == nil {
		topics = []kmsg.OffsetFetchRequestTopic{}
	}
	res, code := c.fetchOffsets(req.Group, topics)
	switch {
	case code == errNone:
		r.Topics = res
	case req.Version >= 2:
		r.ErrorCode = code
	default:
		for _, t := range topics {
			rt := kmsg.OffsetFetchResponseTopic{Topic: t.Topic}
			for _, p := range t.Partitions {
				rt.Partitions = append(rt.Partitions, offsetFetchPartition(p, nil, code))
			}
			r.Topics = append(r.Topics, rt)
		}
	}
	return r
}

func offsetFetchPartition(p int32, v *OffsetValue, code int16) kmsg.OffsetFetchResponseTopicPartition {
	out := kmsg.OffsetFetchResponseTopicPartition{Partition: p, Offset: -1, LeaderEpoch: -1, ErrorCode: code}
	md := ""
	if v != nil {
		out.Offset, out.LeaderEpoch, md = v.Offset, v.LeaderEpoch, v.Metadata
	}
	out.Metadata = &md
	return out
}

// fetchOffsets returns the committed offsets of groupID for topics (nil:
// all), or the group-level error.
func (c *Coordinator) fetchOffsets(groupID string, topics []kmsg.OffsetFetchRequestTopic) ([]kmsg.OffsetFetchResponseTopic, int16) {
	s, code := c.acquire(groupID)
	if code != errNone {
		return nil, code
	}
	defer c.unlock(s)
	g := s.groups[groupID]
	var out []kmsg.OffsetFetchResponseTopic
	if topics == nil {
		if g == nil {
			return []kmsg.OffsetFetchResponseTopic{}, errNone
		}
		for _, tp := range sortedTPs(g.offsets) {
			if n := len(out); n == 0 || out[n-1].Topic != tp.topic {
				out = append(out, kmsg.OffsetFetchResponseTopic{Topic: tp.topic})
			}
			v := g.offsets[tp]
			last := &out[len(out)-1]
			last.Partitions = append(last.Partitions, offsetFetchPartition(tp.partition, &v, errNone))
		}
		if out == nil {
			out = []kmsg.OffsetFetchResponseTopic{}
		}
		return out, errNone
	}
	out = make([]kmsg.OffsetFetchResponseTopic, 0, len(topics))
	for _, t := range topics {
		rt := kmsg.OffsetFetchResponseTopic{Topic: t.Topic}
		for _, p := range t.Partitions {
			var vp *OffsetValue
			if g != nil {
				if v, ok := g.offsets[topicPartition{t.Topic, p}]; ok {
					vp = &v
				}
			}
			rt.Partitions = append(rt.Partitions, offsetFetchPartition(p, vp, errNone))
		}
		out = append(out, rt)
	}
	return out, errNone
}
