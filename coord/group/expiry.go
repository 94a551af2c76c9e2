package group

import (
	"context"
	"time"
)

// expiredOffsets returns the group's offsets to expire at now, by Kafka's
// rules since 2.1 (KIP-211; GroupMetadata.removeExpiredOffsets):
//
//   - in an empty group with a protocol type (a consumer group whose
//     members all left), offsets expire offsets.retention.minutes after the
//     group became empty;
//   - in a group without protocol type (manual-assignment commits only),
//     offsets.retention.minutes after their commit;
//   - in a stable consumer group, offsets of topics no member subscribes
//     to, offsets.retention.minutes after their commit;
//   - otherwise (any other non-empty state, and subscribed topics of a
//     stable group) never.
//
// Where an offset may expire and was committed with an explicit retention
// (OffsetCommit v2-v4), its expireTimestamp replaces the rule's deadline;
// it never makes an offset expire that the rules above keep, so a live
// group's committed positions survive a commit's retention.
func (c *Coordinator) expiredOffsets(g *group, now time.Time) []topicPartition {
	ret := c.cfg.OffsetsRetention.Milliseconds()
	nowMs := now.UnixMilli()
	var base func(v OffsetValue) int64
	var skip func(topic string) bool
	switch {
	case g.protocolType != "" && g.state == Empty:
		stateMs := g.stateTime.UnixMilli()
		base = func(OffsetValue) int64 { return stateMs }
	case g.protocolType == "":
		base = func(v OffsetValue) int64 { return v.CommitTimestamp }
	case g.protocolType == ConsumerProtocolType && g.state == Stable && g.subscribedKnown:
		base = func(v OffsetValue) int64 { return v.CommitTimestamp }
		skip = func(topic string) bool { return g.subscribed[topic] }
	default:
		return nil
	}
	var out []topicPartition
	for _, tp := range sortedTPs(g.offsets) {
		v := g.offsets[tp]
		switch {
		case skip != nil && skip(tp.topic):
		case v.ExpireTimestamp >= 0:
			if nowMs >= v.ExpireTimestamp {
				out = append(out, tp)
			}
		case nowMs-base(v) >= ret:
			out = append(out, tp)
		}
	}
	return out
}

// expireOffsets writes tombstones for the expired offsets of every group of
// the shard, and deletes (Dead, tombstoned) the empty groups left with no
// offsets.
// REQUIRES: s.mu is held.
func (c *Coordinator) expireOffsets(s *shard, now time.Time) {
	var recs []kv
	expired := make(map[*group][]topicPartition)
	var dead []*group
	for _, g := range sortedGroups(s.groups) {
		tps := c.expiredOffsets(g, now)
		for _, tp := range tps {
			recs = append(recs, kv{key: EncodeOffsetKey(g.id, tp.topic, tp.partition)})
		}
		if len(tps) > 0 {
			expired[g] = tps
		}
		if g.state == Empty && len(g.pending) == 0 && len(g.offsets) == len(tps) {
			recs = append(recs, kv{key: EncodeGroupKey(g.id)})
			dead = append(dead, g)
		}
	}
	if len(recs) == 0 {
		return
	}
	if code := c.appendRecords(context.Background(), s, recs); code != errNone {
		return // retried at the next check
	}
	n := 0
	for g, tps := range expired {
		for _, tp := range tps {
			delete(g.offsets, tp)
		}
		n += len(tps)
	}
	for _, g := range dead {
		g.transition(Dead, now)
		delete(s.groups, g.id)
	}
	c.logger.Info("group coordinator: expired offsets", "partition", s.p, "offsets", n, "groups_removed", len(dead))
}
