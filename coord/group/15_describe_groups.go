package group

import "github.com/twmb/franz-go/pkg/kmsg"

// groupOperations is the AuthorizedOperations bitfield of a group with no
// ACLs: READ (3), DELETE (6) and DESCRIBE (8).
const groupOperations int32 = 1<<3 | 1<<6 | 1<<8

// DescribeGroups answers DescribeGroups (key 15, v0-v6). A group that does
// not exist is described as state "Dead" with no members; v6+ (KIP-1043)
// also sets GROUP_ID_NOT_FOUND. Member metadata and assignments are shown
// only for a Stable group, as Kafka does.
func (c *Coordinator) DescribeGroups(req *kmsg.DescribeGroupsRequest) *kmsg.DescribeGroupsResponse {
	r := kmsg.NewPtrDescribeGroupsResponse()
	r.Version = req.Version
	for _, id := range req.Groups {
		d := c.describeGroup(req.Version, id)
		if req.Version >= 3 && req.IncludeAuthorizedOperations {
			d.AuthorizedOperations = groupOperations
		}
		r.Groups = append(r.Groups, d)
	}
	return r
}

func (c *Coordinator) describeGroup(version int16, id string) kmsg.DescribeGroupsResponseGroup {
	d := kmsg.NewDescribeGroupsResponseGroup()
	d.Group = id
	s, code := c.acquire(id)
	if code != errNone {
		d.ErrorCode = code
		return d
	}
	defer c.unlock(s)
	g := s.groups[id]
	if g == nil {
		d.State = Dead.String()
		if version >= 6 {
			d.ErrorCode = errGroupIDNotFound
			msg := "group " + id + " not found"
			d.ErrorMessage = &msg
		}
		return d
	}
	d.State = g.state.String()
	d.ProtocolType = g.protocolType
	stable := g.state == Stable
	if stable {
		d.Protocol = g.protocol
	}
	for _, m := range g.sortedMembers() {
		dm := kmsg.DescribeGroupsResponseGroupMember{
			MemberID:         m.id,
			InstanceID:       m.instanceID,
			ClientID:         m.clientID,
			ClientHost:       m.clientHost,
			ProtocolMetadata: []byte{},
			MemberAssignment: []byte{},
		}
		if stable {
			dm.ProtocolMetadata = m.metadata(g.protocol)
			dm.MemberAssignment = m.assignment
		}
		d.Members = append(d.Members, dm)
	}
	return d
}
