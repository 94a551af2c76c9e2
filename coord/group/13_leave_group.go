package group

import "github.com/twmb/franz-go/pkg/kmsg"

// LeaveGroup answers LeaveGroup (key 13, v0-v5). v0-v2 name one member
// (MemberID); v3+ a batch of members, each by member id and/or
// group.instance.id (a static member leaving by instance id alone is
// found by it), each answered on its own. A departure rebalances the
// group; a pending (MEMBER_ID_REQUIRED) member is simply forgotten.
func (c *Coordinator) LeaveGroup(req *kmsg.LeaveGroupRequest) *kmsg.LeaveGroupResponse {
	r := kmsg.NewPtrLeaveGroupResponse()
	r.Version = req.Version
	leaving := req.Members
	if req.Version < 3 {
		leaving = []kmsg.LeaveGroupRequestMember{{MemberID: req.MemberID}}
	}
	top, codes := c.leaveGroup(req.Group, leaving)
	r.ErrorCode = top
	if req.Version >= 3 {
		if top == errNone {
			for i, l := range leaving {
				r.Members = append(r.Members, kmsg.LeaveGroupResponseMember{
					MemberID: l.MemberID, InstanceID: l.InstanceID, ErrorCode: codes[i],
				})
			}
		}
		return r
	}
	if top == errNone && len(codes) == 1 {
		r.ErrorCode = codes[0]
	}
	return r
}

func (c *Coordinator) leaveGroup(groupID string, leaving []kmsg.LeaveGroupRequestMember) (int16, []int16) {
	if groupID == "" {
		return errInvalidGroupID, nil
	}
	s, code := c.acquire(groupID)
	if code != errNone {
		return code, nil
	}
	defer c.unlock(s)
	now := c.now()
	codes := make([]int16, len(leaving))
	g := s.groups[groupID]
	for i, l := range leaving {
		if g == nil {
			codes[i] = errUnknownMemberID
			continue
		}
		id := l.MemberID
		if l.InstanceID != nil {
			sid, ok := g.static[*l.InstanceID]
			switch {
			case !ok:
				codes[i] = errUnknownMemberID
				continue
			case id != "" && id != sid:
				codes[i] = errFencedInstanceID
				continue
			}
			id = sid
		}
		if _, ok := g.pending[id]; ok {
			delete(g.pending, id)
			if g.state == PreparingRebalance {
				c.tryCompleteJoin(s, g, now)
			}
			continue
		}
		m := g.members[id]
		if m == nil {
			codes[i] = errUnknownMemberID
			continue
		}
		c.removeMember(s, g, m, now)
	}
	return errNone, codes
}
