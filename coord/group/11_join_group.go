package group

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// JoinGroup answers JoinGroup (key 11, v0-v9). It blocks until the
// rebalance the join belongs to completes (or ctx ends: the answer is then
// REBALANCE_IN_PROGRESS and the member stays counted as joined, as in
// Kafka where a disconnected client's join still completes).
//
// Version rules: v0 has no rebalance timeout (the session timeout stands
// in); v4+ members without an id and without group.instance.id get
// MEMBER_ID_REQUIRED with their new id and must join again with it; v5+
// group.instance.id makes a static member; v7+ answers carry the protocol
// type; v9 tells a rejoining static leader to skip the assignment.
func (c *Coordinator) JoinGroup(ctx context.Context, req *kmsg.JoinGroupRequest, client Client) *kmsg.JoinGroupResponse {
	resp, wait := c.joinGroup(req, client)
	if wait == nil {
		return resp
	}
	select {
	case r := <-wait:
		return r
	case <-ctx.Done():
		return joinError(req.Version, errRebalanceInProgress, req.MemberID)
	}
}

// joinGroup registers the join and returns either the answer or the channel
// that will carry it.
func (c *Coordinator) joinGroup(req *kmsg.JoinGroupRequest, client Client) (*kmsg.JoinGroupResponse, <-chan *kmsg.JoinGroupResponse) {
	v := req.Version
	if req.Group == "" {
		return joinError(v, errInvalidGroupID, req.MemberID), nil
	}
	session := time.Duration(req.SessionTimeoutMillis) * time.Millisecond
	rebalance := time.Duration(req.RebalanceTimeoutMillis) * time.Millisecond
	if v == 0 {
		rebalance = session
	}
	if session < c.cfg.GroupMinSessionTimeout || session > c.cfg.GroupMaxSessionTimeout {
		return joinError(v, errInvalidSessionTimeout, req.MemberID), nil
	}
	size := 0
	for _, p := range req.Protocols {
		size += len(p.Name) + len(p.Metadata)
	}
	if size > c.cfg.MemberMetadataMaxBytes {
		return joinError(v, errInvalidRequest, req.MemberID), nil
	}
	var instance *string
	if v >= 5 && req.InstanceID != nil {
		id := *req.InstanceID
		instance = &id
	}

	s, code := c.acquire(req.Group)
	if code != errNone {
		return joinError(v, code, req.MemberID), nil
	}
	defer c.unlock(s)
	now := c.now()
	g := s.groups[req.Group]
	if g == nil {
		if req.MemberID != "" {
			return joinError(v, errUnknownMemberID, req.MemberID), nil
		}
		g = newGroup(req.Group, now)
		s.groups[req.Group] = g
	}
	resp, wait := c.doJoin(s, g, req, client, instance, session, rebalance, now)
	if g.unused() {
		delete(s.groups, g.id)
	}
	return resp, wait
}

// REQUIRES: s.mu is held.
func (c *Coordinator) doJoin(s *shard, g *group, req *kmsg.JoinGroupRequest, client Client,
	instance *string, session, rebalance time.Duration, now time.Time,
) (*kmsg.JoinGroupResponse, <-chan *kmsg.JoinGroupResponse) {
	v := req.Version
	if !g.supportsProtocols(req.ProtocolType, req.Protocols) {
		return joinError(v, errInconsistentGroupProtocol, req.MemberID), nil
	}
	protocols := copyProtocols(req.Protocols)
	wait := &joinWait{ch: make(chan *kmsg.JoinGroupResponse, 1), version: v}

	if req.MemberID == "" {
		if len(g.members) >= c.cfg.GroupMaxSize {
			return joinError(v, errGroupMaxSizeReached, ""), nil
		}
		id := client.ID + "-" + newUUID()
		if instance != nil {
			if old, ok := g.static[*instance]; ok {
				return c.replaceStaticMember(s, g, g.members[old], id, protocols, session, rebalance, wait, now)
			}
		} else if v >= 4 {
			g.pending[id] = now.Add(session)
			return joinError(v, errMemberIDRequired, id), nil
		}
		c.addMember(s, g, id, instance, client, req.ProtocolType, protocols, session, rebalance, wait, now)
		return nil, wait.ch
	}

	if _, ok := g.pending[req.MemberID]; ok {
		if len(g.members) >= c.cfg.GroupMaxSize {
			delete(g.pending, req.MemberID)
			return joinError(v, errGroupMaxSizeReached, req.MemberID), nil
		}
		delete(g.pending, req.MemberID)
		c.addMember(s, g, req.MemberID, instance, client, req.ProtocolType, protocols, session, rebalance, wait, now)
		return nil, wait.ch
	}
	if g.isStaticFenced(instance, req.MemberID) {
		return joinError(v, errFencedInstanceID, req.MemberID), nil
	}
	m := g.members[req.MemberID]
	if m == nil {
		return joinError(v, errUnknownMemberID, req.MemberID), nil
	}
	switch g.state {
	case PreparingRebalance:
		c.updateMember(m, protocols, session, rebalance, wait, now)
		c.tryCompleteJoin(s, g, now)
		return nil, wait.ch
	case CompletingRebalance:
		if m.matches(protocols) {
			// A retried join of this generation: answer it again.
			return g.joinResponse(v, m.id, g.leader, g.leader == m.id, false), nil
		}
	case Stable:
		if g.leader != m.id && m.matches(protocols) {
			m.lastHeartbeat = now
			return g.joinResponse(v, m.id, g.leader, false, false), nil
		}
	default:
		return joinError(v, errUnknownMemberID, req.MemberID), nil
	}
	c.updateMember(m, protocols, session, rebalance, wait, now)
	c.prepareRebalance(s, g, now)
	return nil, wait.ch
}

func copyProtocols(ps []kmsg.JoinGroupRequestProtocol) []kmsg.JoinGroupRequestProtocol {
	out := make([]kmsg.JoinGroupRequestProtocol, len(ps))
	for i, p := range ps {
		out[i] = kmsg.JoinGroupRequestProtocol{Name: p.Name, Metadata: append([]byte(nil), p.Metadata...)}
	}
	return out
}

// addMember adds a new member awaiting the join and starts (or joins) a
// rebalance.
// REQUIRES: s.mu is held.
func (c *Coordinator) addMember(s *shard, g *group, id string, instance *string, client Client,
	protocolType string, protocols []kmsg.JoinGroupRequestProtocol,
	session, rebalance time.Duration, wait *joinWait, now time.Time,
) {
	m := &member{
		id:               id,
		instanceID:       instance,
		clientID:         client.ID,
		clientHost:       client.Host,
		protocols:        protocols,
		rebalanceTimeout: rebalance,
		sessionTimeout:   session,
		lastHeartbeat:    now,
		isNew:            true,
		seq:              g.seq,
		join:             wait,
	}
	g.seq++
	if len(g.members) == 0 {
		g.protocolType = protocolType
	}
	if g.leader == "" {
		g.leader = id
	}
	g.members[id] = m
	if instance != nil {
		g.static[*instance] = id
	}
	if g.state == PreparingRebalance && g.generation == 0 {
		g.newMemberAdded = true
	}
	c.maybePrepareRebalance(s, g, now)
}

func (c *Coordinator) updateMember(m *member, protocols []kmsg.JoinGroupRequestProtocol,
	session, rebalance time.Duration, wait *joinWait, now time.Time,
) {
	if m.join != nil {
		// A second join of the same member replaces the first, whose
		// caller is told to rejoin.
		m.join.ch <- joinError(m.join.version, errRebalanceInProgress, m.id)
	}
	m.protocols = protocols
	m.sessionTimeout = session
	m.rebalanceTimeout = rebalance
	m.join = wait
	m.lastHeartbeat = now
}

// replaceStaticMember gives a rejoining static member (known
// group.instance.id, no member id) a new member id in place of old, whose
// waiting calls are answered FENCED_INSTANCE_ID. In a stable group, when
// the member's subscription is unchanged (see sameSubscription), it gets
// the current generation back without a rebalance (after the group is
// persisted with its new id); otherwise a rebalance runs. (Kafka only
// checks that the selected protocol would not change, so a new
// subscription goes unnoticed there until the next rebalance; Strom
// rebalances.)
// REQUIRES: s.mu is held.
func (c *Coordinator) replaceStaticMember(s *shard, g *group, old *member, newID string,
	protocols []kmsg.JoinGroupRequestProtocol, session, rebalance time.Duration,
	wait *joinWait, now time.Time,
) (*kmsg.JoinGroupResponse, <-chan *kmsg.JoinGroupResponse) {
	oldID := old.id
	if old.join != nil {
		c.deliverJoin(old, joinError(old.join.version, errFencedInstanceID, oldID))
	}
	if old.sync != nil {
		c.deliverSync(old, syncResponse(old.sync.version, errFencedInstanceID, nil, nil))
	}
	prevLeader := g.leader
	oldProtocols, oldSession, oldRebalance := old.protocols, old.sessionTimeout, old.rebalanceTimeout
	rename := func(from, to string) {
		m := g.members[from]
		delete(g.members, from)
		m.id = to
		g.members[to] = m
		g.static[*m.instanceID] = to
		if g.leader == from {
			g.leader = to
		}
		if g.pendingSync[from] {
			delete(g.pendingSync, from)
			g.pendingSync[to] = true
		}
	}
	rename(oldID, newID)
	m := g.members[newID]
	unchanged := sameSubscription(g.protocolType, m.protocols, protocols)
	m.protocols, m.sessionTimeout, m.rebalanceTimeout = protocols, session, rebalance
	m.lastHeartbeat = now

	switch g.state {
	case Stable:
		if unchanged && g.selectProtocol() == g.protocol {
			c.persistStaticMember(s, g, m, oldID, oldProtocols, oldSession, oldRebalance, prevLeader, wait, rename)
			return nil, wait.ch
		}
		m.join = wait
		c.prepareRebalance(s, g, now)
	case CompletingRebalance:
		m.join = wait
		c.prepareRebalance(s, g, now)
	default: // PreparingRebalance
		m.join = wait
		c.tryCompleteJoin(s, g, now)
	}
	return nil, wait.ch
}

// persistStaticMember writes the stable group with static member m's new
// id and answers m's join once the record is committed (Kafka's
// updateStaticMemberAndRebalance). While the write is in flight m counts
// as awaiting its join, as in Kafka: if a rebalance starts meanwhile, m
// takes part in it and is answered by it; if m is fenced or removed
// meanwhile, that answered it. Otherwise, once committed, m gets the
// current generation: from JoinGroup v9 the leader gets the member list
// with SkipAssignment and its own id as the leader's, before v9 the
// previous leader id and no members, so that no client runs an
// assignment a stable group would ignore. A failed write puts the old
// member id back and answers the error.
// REQUIRES: s.mu is held; g is Stable; m was renamed from oldID.
func (c *Coordinator) persistStaticMember(s *shard, g *group, m *member, oldID string,
	oldProtocols []kmsg.JoinGroupRequestProtocol, oldSession, oldRebalance time.Duration,
	prevLeader string, wait *joinWait, rename func(from, to string),
) {
	m.join = wait
	undo := func(code int16) {
		rename(m.id, oldID)
		m.protocols, m.sessionTimeout, m.rebalanceTimeout = oldProtocols, oldSession, oldRebalance
		c.deliverJoin(m, joinError(wait.version, storeGroupCode(code), ""))
	}
	w, code := c.appendAsync(context.Background(), s, []kv{g.record(nil)})
	if code != errNone {
		undo(code)
		return
	}
	s.later(w, func(code int16) {
		if m.join != wait || g.state != Stable {
			return // answered meanwhile, or a rebalance will answer it
		}
		if code != errNone {
			undo(code)
			return
		}
		r := g.joinResponse(wait.version, m.id, prevLeader, false, false)
		if wait.version >= 9 && g.leader == m.id {
			r = g.joinResponse(wait.version, m.id, m.id, true, true)
		}
		c.deliverJoin(m, r)
	})
}
