package group

import (
	"context"
	"fmt"
	"time"

	"github.com/strom-broker/strom/engine/record"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// LoadPartition makes this broker the coordinator of the groups of
// __consumer_offsets partition p (call it when this broker becomes the
// partition's leader): it reads the partition from its start, the last
// value of each key winning and tombstones deleting, and rebuilds every
// group: one with members is Stable (their sessions restart now), one
// without is Empty, one with only offsets is a group without protocol
// type. Until it returns, requests for those groups get
// COORDINATOR_LOAD_IN_PROGRESS. Malformed records are skipped with a
// warning. Loading an already loaded partition does nothing.
func (c *Coordinator) LoadPartition(ctx context.Context, p int32) error {
	load, err := c.StartLoad(p)
	if err != nil {
		return err
	}
	return load(ctx)
}

// StartLoad is LoadPartition in two steps: it marks partition p as loading
// at once (its groups' requests get COORDINATOR_LOAD_IN_PROGRESS, not
// NOT_COORDINATOR, from now on) and returns the function that reads it,
// for the caller to run, typically on another goroutine.
func (c *Coordinator) StartLoad(p int32) (func(context.Context) error, error) {
	if p < 0 || p >= c.cfg.OffsetsTopicNumPartitions {
		return nil, fmt.Errorf("%w: partition %d of %s out of range", ErrInvalidConfig, p, OffsetsTopic)
	}
	c.mu.Lock()
	if _, ok := c.shards[p]; ok {
		c.mu.Unlock()
		return func(context.Context) error { return nil }, nil
	}
	s := &shard{p: p, state: shardLoading}
	c.shards[p] = s
	c.mu.Unlock()
	return func(ctx context.Context) error { return c.load(ctx, s) }, nil
}

// load reads shard s's partition and installs its groups.
func (c *Coordinator) load(ctx context.Context, s *shard) error {
	p := s.p

	start := time.Now()
	groups, offsets, skipped, err := c.readPartition(ctx, p)
	if err == nil {
		c.mu.Lock()
		if c.shards[p] != s {
			err = fmt.Errorf("%s-%d: %w", OffsetsTopic, p, ErrNotLoaded)
		}
		c.mu.Unlock()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil || s.state != shardLoading {
		if err == nil {
			err = fmt.Errorf("%s-%d: %w", OffsetsTopic, p, ErrNotLoaded)
		}
		c.mu.Lock()
		if c.shards[p] == s {
			delete(c.shards, p)
		}
		c.mu.Unlock()
		s.state = shardGone
		return err
	}
	now := c.now()
	s.groups = make(map[string]*group, len(groups)+len(offsets))
	for id, v := range groups {
		s.groups[id] = groupFromValue(id, v, now)
	}
	for id, offs := range offsets {
		g := s.groups[id]
		if g == nil {
			g = newGroup(id, now)
			s.groups[id] = g
		}
		g.offsets = offs
	}
	s.state = shardLoaded
	c.logger.Info("group coordinator: loaded offsets partition", "partition", p,
		"groups", len(s.groups), "skipped_records", skipped, "took", time.Since(start))
	return nil
}

// readPartition reads every record of partition p.
func (c *Coordinator) readPartition(ctx context.Context, p int32) (map[string]GroupValue, map[string]map[topicPartition]OffsetValue, int, error) {
	groups := make(map[string]GroupValue)
	offsets := make(map[string]map[topicPartition]OffsetValue)
	skipped := 0
	err := c.log.ReadAll(ctx, p, func(batch []byte) error {
		h, err := record.ParseHeader(batch)
		if err != nil {
			return err
		}
		if h.IsControl() {
			return nil
		}
		it, err := record.Records(batch)
		if err != nil {
			return fmt.Errorf("batch at offset %d: %w", h.BaseOffset, err)
		}
		var r record.Record
		for it.Next(&r) {
			if err := applyRecord(r.Key, r.Value, groups, offsets); err != nil {
				skipped++
				c.logger.Warn("group coordinator: skipping malformed record",
					"partition", p, "offset", r.Offset(h), "err", err)
			}
		}
		return it.Err()
	})
	if err != nil {
		return nil, nil, 0, fmt.Errorf("%s-%d: load: %w", OffsetsTopic, p, err)
	}
	return groups, offsets, skipped, nil
}

// applyRecord folds one record into the load state.
func applyRecord(key, value []byte, groups map[string]GroupValue, offsets map[string]map[topicPartition]OffsetValue) error {
	k, err := DecodeKey(key)
	if err != nil {
		return err
	}
	if k.IsGroup {
		if value == nil {
			delete(groups, k.Group)
			return nil
		}
		v, err := DecodeGroupValue(value)
		if err != nil {
			return err
		}
		for i := range v.Members { // detach from the read buffer
			v.Members[i].Subscription = append([]byte{}, v.Members[i].Subscription...)
			v.Members[i].Assignment = append([]byte{}, v.Members[i].Assignment...)
		}
		groups[k.Group] = v
		return nil
	}
	tp := topicPartition{k.Topic, k.Partition}
	if value == nil {
		delete(offsets[k.Group], tp)
		if len(offsets[k.Group]) == 0 {
			delete(offsets, k.Group)
		}
		return nil
	}
	v, err := DecodeOffsetValue(value)
	if err != nil {
		return err
	}
	if offsets[k.Group] == nil {
		offsets[k.Group] = make(map[topicPartition]OffsetValue)
	}
	offsets[k.Group][tp] = v
	return nil
}

// groupFromValue rebuilds a loaded group.
func groupFromValue(id string, v GroupValue, now time.Time) *group {
	g := newGroup(id, now)
	g.protocolType = v.ProtocolType
	g.generation = v.Generation
	if v.CurrentStateTimestamp >= 0 {
		g.stateTime = time.UnixMilli(v.CurrentStateTimestamp)
	}
	if len(v.Members) == 0 {
		return g
	}
	if v.Protocol != nil {
		g.protocol = *v.Protocol
	}
	g.state = Stable
	for _, mv := range v.Members {
		m := &member{
			id:               mv.MemberID,
			instanceID:       mv.GroupInstanceID,
			clientID:         mv.ClientID,
			clientHost:       mv.ClientHost,
			protocols:        []kmsg.JoinGroupRequestProtocol{{Name: g.protocol, Metadata: mv.Subscription}},
			rebalanceTimeout: time.Duration(mv.RebalanceTimeout) * time.Millisecond,
			sessionTimeout:   time.Duration(mv.SessionTimeout) * time.Millisecond,
			assignment:       mv.Assignment,
			lastHeartbeat:    now,
			seq:              g.seq,
		}
		g.seq++
		g.members[m.id] = m
		if m.instanceID != nil {
			g.static[*m.instanceID] = m.id
		}
	}
	if v.Leader != nil && g.members[*v.Leader] != nil {
		g.leader = *v.Leader
	} else {
		g.leader = g.sortedMembers()[0].id
	}
	g.computeSubscribed()
	return g
}

// UnloadPartition forgets the groups of partition p (call it when this
// broker stops leading it). Waiting JoinGroup and SyncGroup calls of those
// groups are answered NOT_COORDINATOR, as are later requests; a load in
// progress is abandoned.
func (c *Coordinator) UnloadPartition(p int32) {
	c.mu.Lock()
	s := c.shards[p]
	delete(c.shards, p)
	c.mu.Unlock()
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state = shardGone
	for _, g := range s.groups {
		for _, m := range g.members {
			if m.join != nil {
				c.deliverJoin(m, joinError(m.join.version, errNotCoordinator, m.id))
			}
			if m.sync != nil {
				c.deliverSync(m, syncResponse(m.sync.version, errNotCoordinator, nil, nil))
			}
		}
		g.transition(Dead, c.now())
	}
	s.groups = nil
}

// Close unloads every partition.
func (c *Coordinator) Close() {
	for _, s := range c.snapshotShards() {
		c.UnloadPartition(s.p)
	}
}

// LoadedPartitions returns the partitions whose groups this coordinator
// serves, in order.
func (c *Coordinator) LoadedPartitions() []int32 {
	var out []int32
	for _, s := range c.snapshotShards() {
		s.mu.Lock()
		if s.state == shardLoaded {
			out = append(out, s.p)
		}
		s.mu.Unlock()
	}
	return out
}
