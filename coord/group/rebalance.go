package group

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// The rebalance state machine. Every function here REQUIRES the group's
// shard mutex to be held.

// maybePrepareRebalance starts a rebalance unless one is running.
func (c *Coordinator) maybePrepareRebalance(s *shard, g *group, now time.Time) {
	switch g.state {
	case Empty, Stable, CompletingRebalance:
		c.prepareRebalance(s, g, now)
	case PreparingRebalance:
		c.tryCompleteJoin(s, g, now)
	}
}

// prepareRebalance moves the group to PreparingRebalance: members waiting
// for a sync get REBALANCE_IN_PROGRESS, and the join deadline starts (the
// initial delay for an empty group, else the largest rebalance timeout).
func (c *Coordinator) prepareRebalance(s *shard, g *group, now time.Time) {
	if g.state == CompletingRebalance {
		c.failSyncs(g, errRebalanceInProgress)
	}
	clear(g.pendingSync)
	g.syncDeadline = time.Time{}
	rebalance := g.rebalanceTimeout()
	if g.state == Empty && c.cfg.GroupInitialRebalanceDelay > 0 {
		g.initialDelay = true
		g.newMemberAdded = false
		g.joinDeadline = now.Add(c.cfg.GroupInitialRebalanceDelay)
		g.initialRemaining = max(rebalance-c.cfg.GroupInitialRebalanceDelay, 0)
	} else {
		g.initialDelay = false
		g.joinDeadline = now.Add(rebalance)
	}
	g.transition(PreparingRebalance, now)
	c.tryCompleteJoin(s, g, now)
}

// allJoined reports whether every member awaits the join response and no
// MEMBER_ID_REQUIRED member is outstanding.
func (g *group) allJoined() bool {
	if len(g.pending) > 0 {
		return false
	}
	for _, m := range g.members {
		if m.join == nil {
			return false
		}
	}
	return true
}

// tryCompleteJoin completes the join phase early when everyone has joined
// (never during the initial delay, which only its deadline ends).
func (c *Coordinator) tryCompleteJoin(s *shard, g *group, now time.Time) {
	if g.state == PreparingRebalance && !g.initialDelay && g.allJoined() {
		c.completeJoin(s, g, now)
	}
}

// completeJoin ends the join phase: dynamic members that did not rejoin are
// removed, a new generation starts with the selected protocol, and every
// waiting member gets its JoinGroup response (the leader with the member
// list). With no member left the group becomes Empty and is persisted.
func (c *Coordinator) completeJoin(s *shard, g *group, now time.Time) {
	for _, m := range g.sortedMembers() {
		if m.join == nil && m.instanceID == nil {
			c.logger.Info("group coordinator: member did not rejoin in time, removed",
				"group", g.id, "member", m.id)
			g.remove(m)
		}
	}
	if len(g.members) > 0 {
		var joined *member
		for _, m := range g.sortedMembers() {
			if m.join != nil {
				joined = m
				break
			}
		}
		if joined == nil {
			// Only static members that did not rejoin are left: wait for
			// them or their session timeouts.
			g.initialDelay = false
			g.joinDeadline = now.Add(g.rebalanceTimeout())
			return
		}
		if g.members[g.leader].join == nil {
			g.leader = joined.id
		}
	}
	g.initialDelay = false
	g.generation++
	if len(g.members) == 0 {
		g.protocol = ""
		g.transition(Empty, now)
		g.computeSubscribed()
		// Kafka only logs a failure here (the previous generation in the
		// log has no live member either); the caller that ended the
		// rebalance awaits the commit without the lock.
		if w, _ := c.appendAsync(context.Background(), s, []kv{g.record(nil)}); w != nil {
			s.later(w, nil)
		}
		return
	}
	g.protocol = g.selectProtocol()
	g.computeSubscribed()
	g.transition(CompletingRebalance, now)
	for _, m := range g.sortedMembers() {
		if m.join != nil {
			c.deliverJoin(m, g.joinResponse(m.join.version, m.id, g.leader, g.leader == m.id, false))
		}
		m.lastHeartbeat = now
		m.isNew = false
		g.pendingSync[m.id] = true
	}
	g.syncDeadline = now.Add(g.rebalanceTimeout())
}

// joinResponse is the successful JoinGroup answer of the current
// generation for memberID; withMembers attaches the member list (the
// leader's view).
func (g *group) joinResponse(version int16, memberID, leader string, withMembers, skipAssignment bool) *kmsg.JoinGroupResponse {
	r := kmsg.NewPtrJoinGroupResponse()
	r.Version = version
	r.Generation = g.generation
	pt, p := g.protocolType, g.protocol
	r.ProtocolType = &pt
	r.Protocol = &p
	r.LeaderID = leader
	r.MemberID = memberID
	r.SkipAssignment = skipAssignment
	if withMembers {
		for _, m := range g.sortedMembers() {
			r.Members = append(r.Members, kmsg.JoinGroupResponseMember{
				MemberID:         m.id,
				InstanceID:       m.instanceID,
				ProtocolMetadata: m.metadata(g.protocol),
			})
		}
	}
	return r
}

// joinError is a failed JoinGroup answer.
func joinError(version int16, code int16, memberID string) *kmsg.JoinGroupResponse {
	r := kmsg.NewPtrJoinGroupResponse()
	r.Version = version
	r.ErrorCode = code
	r.Generation = -1
	r.MemberID = memberID
	if version < 7 {
		empty := ""
		r.Protocol = &empty
	}
	return r
}

func syncResponse(version int16, code int16, g *group, assignment []byte) *kmsg.SyncGroupResponse {
	r := kmsg.NewPtrSyncGroupResponse()
	r.Version = version
	r.ErrorCode = code
	if code == errNone && g != nil {
		pt, p := g.protocolType, g.protocol
		r.ProtocolType, r.Protocol = &pt, &p
	}
	r.MemberAssignment = assignment
	if r.MemberAssignment == nil {
		r.MemberAssignment = []byte{}
	}
	return r
}

func (c *Coordinator) deliverJoin(m *member, r *kmsg.JoinGroupResponse) {
	if m.join == nil {
		return
	}
	m.join.ch <- r
	m.join = nil
}

func (c *Coordinator) deliverSync(m *member, r *kmsg.SyncGroupResponse) {
	if m.sync == nil {
		return
	}
	m.sync.ch <- r
	m.sync = nil
}

// failSyncs answers every member waiting in SyncGroup with code.
func (c *Coordinator) failSyncs(g *group, code int16) {
	for _, m := range g.sortedMembers() {
		if m.sync != nil {
			c.deliverSync(m, syncResponse(m.sync.version, code, nil, nil))
		}
	}
}

// remove drops m from the group's bookkeeping (no rebalance). A waiting
// JoinGroup or SyncGroup of m is answered UNKNOWN_MEMBER_ID.
func (g *group) remove(m *member) {
	if m.join != nil {
		m.join.ch <- joinError(m.join.version, errUnknownMemberID, m.id)
		m.join = nil
	}
	if m.sync != nil {
		m.sync.ch <- syncResponse(m.sync.version, errUnknownMemberID, nil, nil)
		m.sync = nil
	}
	delete(g.members, m.id)
	delete(g.pendingSync, m.id)
	if m.instanceID != nil && g.static[*m.instanceID] == m.id {
		delete(g.static, *m.instanceID)
	}
	if g.leader == m.id {
		g.leader = ""
		if ms := g.sortedMembers(); len(ms) > 0 {
			g.leader = ms[0].id
		}
	}
}

// removeMember removes m and lets the group react: a stable or completing
// group rebalances, a preparing one may now complete its join.
func (c *Coordinator) removeMember(s *shard, g *group, m *member, now time.Time) {
	g.remove(m)
	switch g.state {
	case Stable, CompletingRebalance:
		c.prepareRebalance(s, g, now)
	case PreparingRebalance:
		c.tryCompleteJoin(s, g, now)
	}
}

// keepAlive reports whether m survives a passed session deadline: members
// waiting in JoinGroup (new ones for at most NewMemberJoinTimeout) or in
// SyncGroup are not expired, as in Kafka.
func (m *member) keepAlive(now time.Time) bool {
	if m.join != nil {
		return !m.isNew || now.Before(m.lastHeartbeat.Add(NewMemberJoinTimeout))
	}
	return m.sync != nil
}

// tickGroup fires the group's due timers.
func (c *Coordinator) tickGroup(s *shard, g *group, now time.Time) {
	for id, deadline := range g.pending {
		if !now.Before(deadline) {
			delete(g.pending, id)
			if g.state == PreparingRebalance {
				c.tryCompleteJoin(s, g, now)
			}
		}
	}
	for _, m := range g.sortedMembers() {
		if g.members[m.id] != m {
			continue // removed by an earlier step
		}
		if now.Before(m.lastHeartbeat.Add(m.sessionTimeout)) || m.keepAlive(now) {
			continue
		}
		c.logger.Info("group coordinator: member session expired, removed",
			"group", g.id, "member", m.id)
		c.removeMember(s, g, m, now)
	}
	if g.state == PreparingRebalance && !now.Before(g.joinDeadline) {
		if g.initialDelay && g.newMemberAdded && g.initialRemaining > 0 {
			g.newMemberAdded = false
			d := min(c.cfg.GroupInitialRebalanceDelay, g.initialRemaining)
			g.initialRemaining = max(g.initialRemaining-c.cfg.GroupInitialRebalanceDelay, 0)
			g.joinDeadline = now.Add(d)
		} else {
			c.completeJoin(s, g, now)
		}
	}
	if (g.state == CompletingRebalance || g.state == Stable) && !g.syncDeadline.IsZero() && !now.Before(g.syncDeadline) {
		g.syncDeadline = time.Time{}
		if len(g.pendingSync) > 0 {
			for _, m := range g.sortedMembers() {
				if g.pendingSync[m.id] {
					c.logger.Info("group coordinator: member did not sync in time, removed",
						"group", g.id, "member", m.id)
					g.remove(m)
				}
			}
			c.prepareRebalance(s, g, now)
		}
	}
}
