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
// offsets. Offsets whose tombstones could not be written stay, and are
// retried at the next check.
// REQUIRES: s.mu is held (released while the tombstones wait for their
// commit; see removeOffsets).
func (c *Coordinator) expireOffsets(s *shard, now time.Time) {
	n, dead := c.removeOffsets(s, now, func(g *group) []topicPartition { return c.expiredOffsets(g, now) }, false)
	if n > 0 || dead > 0 {
		c.logger.Info("group coordinator: expired offsets", "partition", s.p, "offsets", n, "groups_removed", dead)
	}
}

// DeleteTopicOffsets removes every committed offset of the given topics
// from the groups this coordinator serves and writes their tombstones, as
// Kafka's GroupCoordinator.onPartitionsDeleted does when a topic is
// deleted: a group then finds no offset for a recreated topic of the same
// name and starts where auto.offset.reset says, instead of resuming at an
// offset of the old topic. Empty groups left with no offsets are removed.
// The offsets leave memory even if their tombstones cannot be written
// (Kafka's order); the broker calls this when its metadata shows the
// topics deleted.
func (c *Coordinator) DeleteTopicOffsets(topics []string) {
	if len(topics) == 0 {
		return
	}
	deleted := make(map[string]bool, len(topics))
	for _, t := range topics {
		deleted[t] = true
	}
	pick := func(g *group) []topicPartition {
		var out []topicPartition
		for _, tp := range sortedTPs(g.offsets) {
			if deleted[tp.topic] {
				out = append(out, tp)
			}
		}
		return out
	}
	now := c.now()
	for _, s := range c.snapshotShards() {
		s.mu.Lock()
		if s.state == shardLoaded {
			if n, dead := c.removeOffsets(s, now, pick, true); n > 0 {
				c.logger.Info("group coordinator: removed offsets of deleted topics", "partition", s.p, "offsets", n, "groups_removed", dead)
			}
		}
		c.unlock(s)
	}
}

// removeOffsets tombstones the offsets pick returns for each group of the
// shard, and the empty groups it leaves with no offsets, in one append.
// As Kafka's GroupMetadataManager.cleanupGroupMetadata, they leave memory
// as soon as the batch is in the local log (or regardless, when force is
// set), and the wait for its commit holds no lock: the partition's other
// groups are served meanwhile. A commit appended later applies after
// them; one appended earlier and acknowledged later does not resurrect
// them (group.applyOffset). It returns the offsets and groups removed.
// REQUIRES: s.mu is held; it is released during the wait and held again
// on return.
func (c *Coordinator) removeOffsets(s *shard, now time.Time, pick func(*group) []topicPartition, force bool) (int, int) {
	var recs []kv
	picked := make(map[*group][]topicPartition)
	var dead []*group
	for _, g := range sortedGroups(s.groups) {
		tps := pick(g)
		for _, tp := range tps {
			recs = append(recs, kv{key: EncodeOffsetKey(g.id, tp.topic, tp.partition)})
		}
		if len(tps) > 0 {
			picked[g] = tps
		}
		if g.state == Empty && len(g.pending) == 0 && len(g.offsets) == len(tps) && g.commitsInFlight == 0 {
			recs = append(recs, kv{key: EncodeGroupKey(g.id)})
			dead = append(dead, g)
		}
	}
	if len(recs) == 0 {
		return 0, 0
	}
	w, code := c.appendAsync(context.Background(), s, recs)
	if code != errNone && !force {
		return 0, 0 // retried at the next check
	}
	pos := int64(0)
	if w != nil {
		pos = w.pos
	}
	n := 0
	for g, tps := range picked {
		for _, tp := range tps {
			g.removeOffset(tp, pos)
		}
		n += len(tps)
	}
	for _, g := range dead {
		g.transition(Dead, now)
		delete(s.groups, g.id)
	}
	if w != nil {
		c.await(s, w)
	}
	return n, len(dead)
}
