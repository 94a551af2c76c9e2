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
// INCONSISTENT_GROUP_PROTOCOL.
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
	defer s.mu.Unlock()
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

// completeSync applies the leader's assignment: persist the group with it,
// then answer every waiting member and move to Stable. On failure every
// waiting member gets the error and the group rebalances.
// REQUIRES: s.mu is held; g is CompletingRebalance.
func (c *Coordinator) completeSync(ctx context.Context, s *shard, g *group, assignments []kmsg.SyncGroupRequestGroupAssignment, now time.Time) {
	byMember := make(map[string][]byte, len(g.members))
	code := errNone
	for _, a := range assignments {
		if g.members[a.MemberID] == nil {
			continue // not a member of this generation: ignored, as in Kafka
		}
		if len(a.MemberAssignment) > c.cfg.MemberMetadataMaxBytes {
			code = errInvalidRequest
		}
		byMember[a.MemberID] = a.MemberAssignment
	}
	if code == errNone {
		prev := make(map[string][]byte, len(g.members))
		for id, m := range g.members {
			prev[id] = m.assignment
			m.assignment = append([]byte{}, byMember[id]...)
		}
		rec := g.record()
		switch {
		case len(rec.key)+len(rec.value) > c.cfg.GroupRecordMaxBytes:
			code = errUnknownServerError
		default:
			_, code = c.appendRecords(ctx, s, []kv{rec})
		}
		if code != errNone {
			for id, m := range g.members {
				m.assignment = prev[id]
			}
		}
	}
	if code != errNone {
		c.failSyncs(g, code)
		c.prepareRebalance(s, g, now)
		return
	}
	g.transition(Stable, now)
	for _, m := range g.sortedMembers() {
		if m.sync != nil {
			c.deliverSync(m, syncResponse(m.sync.version, errNone, g, m.assignment))
		}
	}
}
