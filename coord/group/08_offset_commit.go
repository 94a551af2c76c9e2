package group

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// OffsetCommit answers OffsetCommit (key 8, v0-v9; v10 names topics by id,
// which Strom does not keep, and is answered UNSUPPORTED_VERSION). The
// commit is one atomic append to __consumer_offsets; it returns once
// committed. The partition's lock is not held while the append waits for
// its commit (Kafka appends with a callback and does not hold the group
// lock while it waits either), so other groups of the partition, and the
// coordinator's timers, are served meanwhile.
//
// Fencing: a commit naming a member or generation (generation >= 0, a
// member id, or an instance id) must come from a current member of the
// current generation (UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID,
// ILLEGAL_GENERATION; REBALANCE_IN_PROGRESS while the group completes a
// rebalance). A commit naming a generation to a group that does not exist
// is GROUP_ID_NOT_FOUND from v9 and ILLEGAL_GENERATION before (Kafka's
// OffsetMetadataManager.validateOffsetCommit). A commit with generation -1
// and no member id (manual assignment, and every v0 commit) is accepted
// only while the group has no members, and creates the group when it does
// not exist.
//
// Per partition: UNKNOWN_TOPIC_OR_PARTITION when the partition does not
// exist, decided first, before the coordinator and member checks (Kafka's
// KafkaApis.handleOffsetCommitRequest answers them before the coordinator
// sees the request), so it wins over NOT_COORDINATOR or UNKNOWN_MEMBER_ID
// for that partition; OFFSET_METADATA_TOO_LARGE past
// offset.metadata.max.bytes.
//
// Retention: v1's per-partition timestamp sets the commit timestamp; v2-v4's
// retention time gives the offset an explicit expiry (commit time +
// retention), which replaces offsets.retention.minutes only where Kafka's
// 2.1+ rules let the offset expire at all (see expiredOffsets): never for a
// topic a stable group subscribes to, never in a rebalancing group.
func (c *Coordinator) OffsetCommit(ctx context.Context, req *kmsg.OffsetCommitRequest) *kmsg.OffsetCommitResponse {
	r := kmsg.NewPtrOffsetCommitResponse()
	r.Version = req.Version
	codes := make([][]int16, len(req.Topics))
	for i, t := range req.Topics {
		codes[i] = make([]int16, len(t.Partitions))
	}
	c.offsetCommit(ctx, req, codes)
	for i, t := range req.Topics {
		rt := kmsg.OffsetCommitResponseTopic{Topic: t.Topic, TopicID: t.TopicID}
		for j, p := range t.Partitions {
			rt.Partitions = append(rt.Partitions, kmsg.OffsetCommitResponseTopicPartition{
				Partition: p.Partition, ErrorCode: codes[i][j],
			})
		}
		r.Topics = append(r.Topics, rt)
	}
	return r
}

// fillCodes sets code on every partition that has no error yet.
func fillCodes(codes [][]int16, code int16) {
	for _, t := range codes {
		for j := range t {
			if t[j] == errNone {
				t[j] = code
			}
		}
	}
}

func (c *Coordinator) offsetCommit(ctx context.Context, req *kmsg.OffsetCommitRequest, codes [][]int16) {
	if req.Version >= 10 {
		fillCodes(codes, errUnsupportedVersion)
		return
	}
	valid := 0
	for i, t := range req.Topics {
		for j, p := range t.Partitions {
			if !c.exists(t.Topic, p.Partition) {
				codes[i][j] = errUnknownTopicOrPartition
			} else {
				valid++
			}
		}
	}
	if valid == 0 {
		return
	}
	s, code := c.acquire(req.Group)
	if code != errNone {
		fillCodes(codes, code)
		return
	}
	defer c.unlock(s)
	now := c.now()
	generation, memberID := req.Generation, req.MemberID
	if req.Version == 0 {
		generation, memberID = -1, ""
	}
	var instance *string
	if req.Version >= 7 {
		instance = req.InstanceID
	}
	g := s.groups[req.Group]
	if g == nil {
		if generation >= 0 {
			if req.Version >= 9 {
				fillCodes(codes, errGroupIDNotFound)
			} else {
				fillCodes(codes, errIllegalGeneration)
			}
			return
		}
		g = newGroup(req.Group, now)
		s.groups[req.Group] = g
		defer func() {
			if g.unused() && s.groups[g.id] == g {
				delete(s.groups, g.id)
			}
		}()
	}
	var m *member
	if generation >= 0 || memberID != "" || instance != nil {
		switch {
		case g.isStaticFenced(instance, memberID):
			code = errFencedInstanceID
		case g.members[memberID] == nil:
			code = errUnknownMemberID
		case generation != g.generation:
			code = errIllegalGeneration
		case g.state == CompletingRebalance:
			code = errRebalanceInProgress
		}
		m = g.members[memberID]
	} else if len(g.members) > 0 {
		code = errUnknownMemberID
	}
	if code != errNone {
		fillCodes(codes, code)
		return
	}

	commitTS := now.UnixMilli()
	expire := int64(-1)
	if req.Version >= 2 && req.Version <= 4 && req.RetentionTimeMillis != -1 {
		expire = commitTS + req.RetentionTimeMillis
	}
	type pending struct {
		tp topicPartition
		v  OffsetValue
	}
	var recs []kv
	var apply []pending
	var where [][2]int
	for i, t := range req.Topics {
		for j, p := range t.Partitions {
			switch {
			case codes[i][j] != errNone: // unknown partition
				continue
			case p.Metadata != nil && len(*p.Metadata) > c.cfg.OffsetMetadataMaxBytes:
				codes[i][j] = errOffsetMetadataTooLarge
				continue
			}
			v := OffsetValue{Offset: p.Offset, LeaderEpoch: -1, CommitTimestamp: commitTS, ExpireTimestamp: expire}
			if p.Metadata != nil {
				v.Metadata = *p.Metadata
			}
			if req.Version >= 6 {
				v.LeaderEpoch = p.LeaderEpoch
			}
			if req.Version == 1 && p.Timestamp != -1 {
				v.CommitTimestamp = p.Timestamp
			}
			tp := topicPartition{t.Topic, p.Partition}
			recs = append(recs, kv{key: EncodeOffsetKey(g.id, tp.topic, tp.partition), value: EncodeOffsetValue(v)})
			apply = append(apply, pending{tp, v})
			where = append(where, [2]int{i, j})
		}
	}
	if m != nil {
		m.lastHeartbeat = now // a commit is a heartbeat (before the append, as Kafka's doCommitOffsets)
	}
	if len(recs) == 0 {
		return
	}
	// Append under the lock (the log's order is the order of the state
	// changes), then wait for the commit without it: a slow commit
	// (acks=all to slow followers) must not stall the other groups of
	// this partition, nor the coordinator's timers. The offsets apply
	// once committed, unless a later record for the same partition was
	// applied meanwhile (group.applyOffset).
	w, code := c.appendAsync(ctx, s, recs)
	if code == errNone {
		g.commitsInFlight++
		code = c.await(s, w)
		g.commitsInFlight--
	}
	if code != errNone {
		for _, wh := range where {
			codes[wh[0]][wh[1]] = code
		}
		return
	}
	for _, a := range apply {
		g.applyOffset(a.tp, a.v, w.pos)
	}
}
