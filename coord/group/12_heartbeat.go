package group

import "github.com/twmb/franz-go/pkg/kmsg"

// Heartbeat answers Heartbeat (key 12, v0-v4): it keeps the member's
// session alive and tells it whether a rebalance runs
// (REBALANCE_IN_PROGRESS), its generation is stale (ILLEGAL_GENERATION) or
// it is not a member (UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID v3+).
func (c *Coordinator) Heartbeat(req *kmsg.HeartbeatRequest) *kmsg.HeartbeatResponse {
	r := kmsg.NewPtrHeartbeatResponse()
	r.Version = req.Version
	r.ErrorCode = c.heartbeat(req)
	return r
}

func (c *Coordinator) heartbeat(req *kmsg.HeartbeatRequest) int16 {
	if req.Group == "" {
		return errInvalidGroupID
	}
	s, code := c.acquire(req.Group)
	if code != errNone {
		return code
	}
	defer c.unlock(s)
	g := s.groups[req.Group]
	var instance *string
	if req.Version >= 3 {
		instance = req.InstanceID
	}
	switch {
	case g == nil:
		return errUnknownMemberID
	case g.isStaticFenced(instance, req.MemberID):
		return errFencedInstanceID
	case g.members[req.MemberID] == nil:
		return errUnknownMemberID
	case req.Generation != g.generation:
		return errIllegalGeneration
	}
	g.members[req.MemberID].lastHeartbeat = c.now()
	if g.state == PreparingRebalance {
		return errRebalanceInProgress
	}
	return errNone
}
