package group

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// DeleteGroups answers DeleteGroups (key 42, v0-v2): an empty group is
// deleted with its offsets (tombstones in __consumer_offsets); a group
// with members is NON_EMPTY_GROUP; an unknown one GROUP_ID_NOT_FOUND.
func (c *Coordinator) DeleteGroups(ctx context.Context, req *kmsg.DeleteGroupsRequest) *kmsg.DeleteGroupsResponse {
	r := kmsg.NewPtrDeleteGroupsResponse()
	r.Version = req.Version
	for _, id := range req.Groups {
		r.Groups = append(r.Groups, kmsg.DeleteGroupsResponseGroup{Group: id, ErrorCode: c.deleteGroup(ctx, id)})
	}
	return r
}

func (c *Coordinator) deleteGroup(ctx context.Context, id string) int16 {
	s, code := c.acquire(id)
	if code != errNone {
		return code
	}
	defer s.mu.Unlock()
	g := s.groups[id]
	switch {
	case g == nil:
		return errGroupIDNotFound
	case g.state != Empty:
		return errNonEmptyGroup
	}
	if _, code := c.appendRecords(ctx, s, g.tombstones()); code != errNone {
		return code
	}
	g.transition(Dead, c.now())
	delete(s.groups, id)
	return errNone
}
