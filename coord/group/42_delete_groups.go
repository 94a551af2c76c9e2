package group

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// DeleteGroups answers DeleteGroups (key 42, v0-v2): an empty group is
// deleted with its offsets (tombstones in __consumer_offsets); a group
// with members is NON_EMPTY_GROUP; an unknown one GROUP_ID_NOT_FOUND.
//
// As in Kafka (GroupMetadataManager.cleanupGroupMetadata), the group
// leaves memory once its tombstones are in the local log, under the
// partition's lock; the wait for their commit holds no lock, so the
// partition's other groups are served meanwhile, and a group of the same
// id joined meanwhile is a new group. The answer is the commit's outcome
// (Kafka answers NONE without waiting for replication).
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
	defer c.unlock(s)
	g := s.groups[id]
	switch {
	case g == nil:
		return errGroupIDNotFound
	case g.state != Empty:
		return errNonEmptyGroup
	}
	w, code := c.appendAsync(ctx, s, g.tombstones())
	if code != errNone {
		return code // nothing written: the group stays
	}
	g.transition(Dead, c.now())
	delete(s.groups, id)
	return c.await(s, w)
}
