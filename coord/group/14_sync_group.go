package group

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// SyncGroup answers SyncGroup (key 14, v0-v5). The leader's call carries
// the assignment: it is persisted with the group, then every member of the
// generation gets its share. A follower's call blocks until the leader
// synced (or ctx ends: the answer is then REBALANCE_IN_PROGRESS). v5+
// requests naming a protocol type or name other than the group's get
// INCONSISTENT_GROUP_PROTOCOL. The leader's call returns once the group
// record it caused is committed or failed (see completeSync), holding no
// lock meanwhile.
func (c *Coordinator) SyncGroup(ctx context.Context, req *kmsg.SyncGroupRequest) *kmsg.SyncGroupResponse {
	resp, wait := c.syncGroup(ctx, req)
	if wait == nil {
		return resp
	}
	select {
	case r := <-wait:
		return r
	case <-ctx.Done():
		return syncResponse(req.Version, errRebalanceInProgress, nil, nil)
	}
}

func (c *Coordinator) syncGroup(ctx context.Context, req *kmsg.SyncGroupRequest) (*kmsg.SyncGroupResponse, <-chan *kmsg.SyncGroupResponse) {
	v := req.Version
	fail := func(code int16) (*kmsg.SyncGroupResponse, <-chan *kmsg.SyncGroupResponse) {
		return syncResponse(v, code, nil, nil), nil
	}
	if req.Group == "" {
		return fail(errInvalidGroupID)
	}
	s, code := c.acquire(req.Group)
	if code != errNone {
		return fail(code)
	}
	defer c.unlock(s)
	now := c.now()
	g := s.groups[req.Group]
	var instance *string
	if v >= 3 {
		instance = req.InstanceID
	}
	switch {
	case g == nil:
		return fail(errUnknownMemberID)
	case g.isStaticFenced(instance, req.MemberID):
		return fail(errFencedInstanceID)
	case g.members[req.MemberID] == nil:
		return fail(errUnknownMemberID)
	case req.Generation != g.generation:
		return fail(errIllegalGeneration)
	case v >= 5 && req.ProtocolType != nil && *req.ProtocolType != g.protocolType:
		return fail(errInconsistentGroupProtocol)
	case v >= 5 && req.Protocol != nil && *req.Protocol != g.protocol:
		return fail(errInconsistentGroupProtocol)
	}
	m := g.members[req.MemberID]
	switch g.state {
	case Empty:
		return fail(errUnknownMemberID)
	case PreparingRebalance:
		return fail(errRebalanceInProgress)
	case Stable:
		delete(g.pendingSync, m.id)
		m.lastHeartbeat = now
		return syncResponse(v, errNone, g, m.assignment), nil
	}

	// CompletingRebalance.
	wait := &syncWait{ch: make(chan *kmsg.SyncGroupResponse, 1), version: v}
	if m.sync != nil {
		c.deliverSync(m, syncResponse(m.sync.version, errRebalanceInProgress, nil, nil))
	}
	m.sync = wait
	m.lastHeartbeat = now
	delete(g.pendingSync, m.id)
	if g.leader == m.id {
		c.completeSync(ctx, s, g, req.GroupAssignment, now)
	}
	return nil, wait.ch
}

// completeSync persists the group with the leader's assignment and, once
// the record is committed, gives every member its share and moves the
// group to Stable (Kafka's GroupCoordinator.doSyncGroup with
// GroupMetadataManager.storeGroup). The record is appended under the
// partition's lock and committed without it (the leader's caller waits,
// see unlock); meanwhile the group answers as in CompletingRebalance with
// the previous assignments. The assignment applies only if the group is
// still in CompletingRebalance at the same generation when the commit
// completes: anything that changed it meanwhile (a join, a departure, an
// expired session, an unload) has already answered the waiting members
// (REBALANCE_IN_PROGRESS, UNKNOWN_MEMBER_ID, NOT_COORDINATOR), as Kafka
// does. A failed write answers the waiting members its error and
// rebalances, under the same condition.
// REQUIRES: s.mu is held; g is CompletingRebalance.
func (c *Coordinator) completeSync(ctx context.Context, s *shard, g *group, assignments []kmsg.SyncGroupRequestGroupAssignment, now time.Time) {
	byMember := make(map[string][]byte, len(g.members))
	for id := range g.members {
		byMember[id] = []byte{} // missing members get an empty assignment, as in Kafka
	}
	for _, a := range assignments {
		if g.members[a.MemberID] == nil {
			continue // not a member of this generation: ignored, as in Kafka
		}
		if len(a.MemberAssignment) > c.cfg.MemberMetadataMaxBytes {
			c.failSync(s, g, errInvalidRequest, now)
			return
		}
		byMember[a.MemberID] = append([]byte{}, a.MemberAssignment...)
	}
	rec := g.record(byMember)
	if len(rec.key)+len(rec.value) > c.cfg.GroupRecordMaxBytes {
		c.failSync(s, g, errUnknownServerError, now)
		return
	}
	// The leader's client may go away meanwhile; the generation's outcome
	// must not depend on it.
	w, code := c.appendAsync(context.WithoutCancel(ctx), s, []kv{rec})
	if code != errNone {
		c.failSync(s, g, storeGroupCode(code), now)
		return
	}
	generation := g.generation
	s.later(w, func(code int16) {
		if s.groups[g.id] != g || g.state != CompletingRebalance || g.generation != generation {
			return // changed meanwhile; the waiting members were answered then
		}
		now := c.now()
		if code != errNone {
			c.failSync(s, g, storeGroupCode(code), now)
			return
		}
		for id, m := range g.members {
			m.assignment = byMember[id]
		}
		g.transition(Stable, now)
		for _, m := range g.sortedMembers() {
			if m.sync != nil {
				c.deliverSync(m, syncResponse(m.sync.version, errNone, g, m.assignment))
			}
		}
	})
}

// failSync answers every member waiting in SyncGroup code and rebalances
// the group (Kafka's resetAndPropagateAssignmentError and
// maybePrepareRebalance).
// REQUIRES: s.mu is held; g is CompletingRebalance.
func (c *Coordinator) failSync(s *shard, g *group, code int16, now time.Time) {
	c.failSyncs(g, code)
	c.prepareRebalance(s, g, now)
}

// storeGroupCode is the code a failed group-metadata write answers, as
// Kafka's GroupMetadataManager.storeGroup maps it: a timed-out write is
// REBALANCE_IN_PROGRESS (the members rejoin; a Java consumer treats
// REQUEST_TIMED_OUT in SyncGroup as fatal).
func storeGroupCode(code int16) int16 {
	if code == errRequestTimedOut {
		return errRebalanceInProgress
	}
	return code
}
