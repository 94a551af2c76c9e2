package group

import (
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// ClassicGroupType is the group type of every group here (ListGroups v5+).
const ClassicGroupType = "classic"

// ListGroups answers ListGroups (key 16, v0-v5) for the partitions this
// broker coordinates. v4+ filters by state and v5+ by type (both
// case-insensitive; empty filters match all). While a partition loads the
// answer carries COORDINATOR_LOAD_IN_PROGRESS along with the groups known.
func (c *Coordinator) ListGroups(req *kmsg.ListGroupsRequest) *kmsg.ListGroupsResponse {
	r := kmsg.NewPtrListGroupsResponse()
	r.Version = req.Version
	match := func(filter []string, v string) bool {
		if len(filter) == 0 {
			return true
		}
		for _, f := range filter {
			if strings.EqualFold(f, v) {
				return true
			}
		}
		return false
	}
	if req.Version >= 5 && !match(req.TypesFilter, ClassicGroupType) {
		return r
	}
	for _, s := range c.snapshotShards() {
		s.mu.Lock()
		switch s.state {
		case shardLoading:
			r.ErrorCode = errCoordinatorLoadInProgress
		case shardLoaded:
			for _, g := range s.groups {
				state := g.state.String()
				if req.Version >= 4 && !match(req.StatesFilter, state) {
					continue
				}
				r.Groups = append(r.Groups, kmsg.ListGroupsResponseGroup{
					Group: g.id, ProtocolType: g.protocolType, GroupState: state, GroupType: ClassicGroupType,
				})
			}
		}
		s.mu.Unlock()
	}
	sort.Slice(r.Groups, func(i, j int) bool { return r.Groups[i].Group < r.Groups[j].Group })
	return r
}
