package group

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// stableGroup makes a one-member stable consumer group subscribed to
// topics and returns the member id and generation.
func stableGroup(t testing.TB, h *harness, g string, topics ...string) (string, int32) {
	t.Helper()
	id, call := h.joinNew(g, "c", withProtocols(kmsg.JoinGroupRequestProtocol{Name: "range", Metadata: consumerMeta(topics...)}))
	r := call.get()
	require.Equal(t, "NONE", codeName(r.ErrorCode))
	s := h.sync(syncReq(g, id, r.Generation, map[string][]byte{id: {}})).get()
	require.Equal(t, "NONE", codeName(s.ErrorCode))
	return id, r.Generation
}

func commitCodes(r *kmsg.OffsetCommitResponse) []string {
	var out []string
	for _, t := range r.Topics {
		for _, p := range t.Partitions {
			out = append(out, codeName(p.ErrorCode))
		}
	}
	return out
}

func TestOffsetCommitFencing(t *testing.T) {
	h := newHarness(t, testConfig())
	id, gen := stableGroup(t, h, "g", "t")
	other, _ := stableGroup(t, h, "other", "t")
	tests := []struct {
		name   string
		group  string
		member string
		gen    int32
		want   string
	}{
		{"member of the generation", "g", id, gen, "NONE"},
		{"wrong generation", "g", id, gen + 1, "ILLEGAL_GENERATION"},
		{"never-issued member", "g", "nobody", gen, "UNKNOWN_MEMBER_ID"},
		{"member of another group", "g", other, gen, "UNKNOWN_MEMBER_ID"},
		{"simple commit to a group with members", "g", "", -1, "UNKNOWN_MEMBER_ID"},
		{"unknown group with a generation (v9)", "nogroup", "m", 3, "GROUP_ID_NOT_FOUND"},
		{"simple commit creates a group", "simple", "", -1, "NONE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.commit(tt.group, tt.member, tt.gen, "t", map[int32]int64{0: 10, 1: 20})
			assert.Equal(t, []string{tt.want, tt.want}, commitCodes(r))
		})
	}
	assert.Equal(t, map[topicPartition]int64{{"t", 0}: 10, {"t", 1}: 20}, h.fetch("simple"))
	assert.Empty(t, h.fetch("nogroup"))

	// During CompletingRebalance a current-generation commit is told to wait.
	id2, call := h.joinNew("g", "d")
	_, done := call.poll()
	require.False(t, done)
	assert.Equal(t, []string{"NONE", "NONE"}, commitCodes(h.commit("g", id, gen, "t", map[int32]int64{0: 11, 1: 21})),
		"commits of the old generation are accepted while preparing")
	ja := h.join(joinReq("g", id), "c").get()
	require.Equal(t, "NONE", codeName(ja.ErrorCode))
	_ = id2
	assert.Equal(t, []string{"REBALANCE_IN_PROGRESS", "REBALANCE_IN_PROGRESS"}, commitCodes(h.commit("g", id, ja.Generation, "t", map[int32]int64{0: 1, 1: 2})))
}

func TestOffsetCommitPerPartitionErrors(t *testing.T) {
	h := newHarness(t, testConfig())
	h.exists = func(topic string, p int32) bool { return topic == "t" && p < 2 }
	r := kmsg.NewPtrOffsetCommitRequest()
	r.Version = 2
	r.Group = "g"
	r.Generation = -1
	big := strings.Repeat("x", h.cfg.OffsetMetadataMaxBytes+1)
	ok := "fine"
	mk := func(p int32, md *string) kmsg.OffsetCommitRequestTopicPartition {
		pp := kmsg.NewOffsetCommitRequestTopicPartition()
		pp.Partition, pp.Offset, pp.Metadata = p, 100+int64(p), md
		return pp
	}
	r.Topics = []kmsg.OffsetCommitRequestTopic{
		{Topic: "t", Partitions: []kmsg.OffsetCommitRequestTopicPartition{mk(0, &ok), mk(1, &big), mk(5, nil)}},
		{Topic: "missing", Partitions: []kmsg.OffsetCommitRequestTopicPartition{mk(0, nil)}},
	}
	resp := h.c.OffsetCommit(context.Background(), r)
	assert.Equal(t, []string{"NONE", "OFFSET_METADATA_TOO_LARGE", "UNKNOWN_TOPIC_OR_PARTITION", "UNKNOWN_TOPIC_OR_PARTITION"}, commitCodes(resp))
	assert.Equal(t, map[topicPartition]int64{{"t", 0}: 100}, h.fetch("g"), "only the valid partition was committed")
}

func TestOffsetFetchVersions(t *testing.T) {
	h := newHarness(t, testConfig())
	require.Equal(t, []string{"NONE", "NONE"}, commitCodes(h.commit("g", "", -1, "t", map[int32]int64{0: 5, 2: 7})))

	// v1: explicit partitions; unknown ones answer -1.
	r := kmsg.NewPtrOffsetFetchRequest()
	r.Version = 1
	r.Group = "g"
	r.Topics = []kmsg.OffsetFetchRequestTopic{{Topic: "t", Partitions: []int32{0, 1}}}
	resp := h.c.OffsetFetch(r)
	require.Len(t, resp.Topics, 1)
	ps := resp.Topics[0].Partitions
	require.Len(t, ps, 2)
	assert.Equal(t, int64(5), ps[0].Offset)
	assert.Equal(t, "md-0", *ps[0].Metadata)
	assert.Equal(t, int64(-1), ps[1].Offset)
	assert.Equal(t, "", *ps[1].Metadata)

	// v7: null topics = all, RequireStable accepted.
	r = kmsg.NewPtrOffsetFetchRequest()
	r.Version = 7
	r.Group = "g"
	r.RequireStable = true
	resp = h.c.OffsetFetch(r)
	require.Equal(t, "NONE", codeName(resp.ErrorCode))
	require.Len(t, resp.Topics, 1)
	assert.Len(t, resp.Topics[0].Partitions, 2)

	// v8: several groups at once, one not coordinated here.
	h.c.UnloadPartition(h.c.PartitionFor("elsewhere"))
	r = kmsg.NewPtrOffsetFetchRequest()
	r.Version = 8
	r.Groups = []kmsg.OffsetFetchRequestGroup{
		{Group: "g", Topics: []kmsg.OffsetFetchRequestGroupTopic{{Topic: "t", Partitions: []int32{2}}}},
		{Group: "elsewhere"},
		{Group: "unknown-group"},
	}
	if h.c.PartitionFor("unknown-group") == h.c.PartitionFor("elsewhere") || h.c.PartitionFor("g") == h.c.PartitionFor("elsewhere") {
		t.Skip("test groups share a partition")
	}
	resp = h.c.OffsetFetch(r)
	require.Len(t, resp.Groups, 3)
	assert.Equal(t, int64(7), resp.Groups[0].Topics[0].Partitions[0].Offset)
	assert.Equal(t, "NOT_COORDINATOR", codeName(resp.Groups[1].ErrorCode))
	assert.Equal(t, "NONE", codeName(resp.Groups[2].ErrorCode))
	assert.Empty(t, resp.Groups[2].Topics)

	// v2-v7 put the group error top-level, v0-v1 per partition.
	r = kmsg.NewPtrOffsetFetchRequest()
	r.Version = 3
	r.Group = "elsewhere"
	assert.Equal(t, "NOT_COORDINATOR", codeName(h.c.OffsetFetch(r).ErrorCode))
	r.Version = 0
	r.Topics = []kmsg.OffsetFetchRequestTopic{{Topic: "t", Partitions: []int32{0}}}
	assert.Equal(t, "NOT_COORDINATOR", codeName(h.c.OffsetFetch(r).Topics[0].Partitions[0].ErrorCode))
}

func TestGroupErrorPaths(t *testing.T) {
	h := newHarness(t, testConfig())
	id, gen := stableGroup(t, h, "g", "t")
	huge := make([]byte, h.cfg.MemberMetadataMaxBytes+1)
	tests := []struct {
		name string
		got  func() int16
		want string
	}{
		{"join: empty group id", func() int16 { return h.join(joinReq("", ""), "c").get().ErrorCode }, "INVALID_GROUP_ID"},
		{"join: session too short", func() int16 {
			return h.join(joinReq("g2", "", withSession(h.cfg.GroupMinSessionTimeout-time.Millisecond)), "c").get().ErrorCode
		}, "INVALID_SESSION_TIMEOUT"},
		{"join: session too long", func() int16 {
			return h.join(joinReq("g2", "", withSession(h.cfg.GroupMaxSessionTimeout+time.Millisecond)), "c").get().ErrorCode
		}, "INVALID_SESSION_TIMEOUT"},
		{"join: oversized metadata", func() int16 {
			return h.join(joinReq("g2", "", withProtocols(kmsg.JoinGroupRequestProtocol{Name: "range", Metadata: huge})), "c").get().ErrorCode
		}, "INVALID_REQUEST"},
		{"join: unknown member of unknown group", func() int16 { return h.join(joinReq("g3", "made-up"), "c").get().ErrorCode }, "UNKNOWN_MEMBER_ID"},
		{"join: never-issued member", func() int16 { return h.join(joinReq("g", "made-up"), "c").get().ErrorCode }, "UNKNOWN_MEMBER_ID"},
		{"sync: unknown group", func() int16 { return h.sync(syncReq("nope", id, gen, nil)).get().ErrorCode }, "UNKNOWN_MEMBER_ID"},
		{"sync: wrong generation", func() int16 { return h.sync(syncReq("g", id, gen+5, nil)).get().ErrorCode }, "ILLEGAL_GENERATION"},
		{"sync: unknown member", func() int16 { return h.sync(syncReq("g", "x", gen, nil)).get().ErrorCode }, "UNKNOWN_MEMBER_ID"},
		{"sync: other protocol (v5)", func() int16 {
			r := syncReq("g", id, gen, nil)
			p := "roundrobin"
			r.Protocol = &p
			return h.sync(r).get().ErrorCode
		}, "INCONSISTENT_GROUP_PROTOCOL"},
		{"heartbeat: unknown group", func() int16 { return h.heartbeat("nope", id, gen) }, "UNKNOWN_MEMBER_ID"},
		{"heartbeat: wrong generation", func() int16 { return h.heartbeat("g", id, gen-1) }, "ILLEGAL_GENERATION"},
		{"heartbeat: never-issued member", func() int16 { return h.heartbeat("g", "ghost", gen) }, "UNKNOWN_MEMBER_ID"},
		{"heartbeat: empty group id", func() int16 { return h.heartbeat("", id, gen) }, "INVALID_GROUP_ID"},
		{"leave v1: unknown member", func() int16 {
			r := kmsg.NewPtrLeaveGroupRequest()
			r.Version = 1
			r.Group, r.MemberID = "g", "ghost"
			return h.c.LeaveGroup(r).ErrorCode
		}, "UNKNOWN_MEMBER_ID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { assert.Equal(t, tt.want, codeName(tt.got())) })
	}
	assert.Equal(t, "NONE", codeName(h.heartbeat("g", id, gen)), "the group is untouched")
	assert.Equal(t, "Dead", h.describe("g2").State, "failed joins leave no group behind")
}

func TestNotCoordinatorAndLoading(t *testing.T) {
	h := newHarness(t, testConfig())
	id, gen := stableGroup(t, h, "g", "t")
	p := h.c.PartitionFor("g")
	_, blocked := h.joinNew("g", "d") // waits for the current member to rejoin
	_, done := blocked.poll()
	require.False(t, done)
	h.c.UnloadPartition(p)
	assert.Equal(t, "NOT_COORDINATOR", codeName(blocked.get().ErrorCode), "waiting joins are released")
	assert.Equal(t, "NOT_COORDINATOR", codeName(h.heartbeat("g", id, gen)))
	assert.Equal(t, []string{"NOT_COORDINATOR"}, commitCodes(h.commit("g", id, gen, "t", map[int32]int64{0: 1})))
	assert.Equal(t, "NOT_COORDINATOR", codeName(h.describe("g").ErrorCode))

	// While loading: COORDINATOR_LOAD_IN_PROGRESS.
	gate := make(chan struct{})
	entered := make(chan struct{})
	h.c.log = &gatedLog{OffsetsLog: h.c.log, gate: gate, entered: entered}
	errc := make(chan error, 1)
	go func() { errc <- h.c.LoadPartition(context.Background(), p) }()
	<-entered
	assert.Equal(t, "COORDINATOR_LOAD_IN_PROGRESS", codeName(h.heartbeat("g", id, gen)))
	lg := kmsg.NewPtrListGroupsRequest()
	assert.Equal(t, "COORDINATOR_LOAD_IN_PROGRESS", codeName(h.c.ListGroups(lg).ErrorCode))
	close(gate)
	require.NoError(t, <-errc)
	assert.Equal(t, "NONE", codeName(h.heartbeat("g", id, gen)), "the member survives the move")
}

// gatedLog blocks ReadAll until gate closes.
type gatedLog struct {
	OffsetsLog
	gate    chan struct{}
	entered chan struct{}
}

func (g *gatedLog) ReadAll(ctx context.Context, p int32, fn func([]byte) error) error {
	close(g.entered)
	<-g.gate
	return g.OffsetsLog.ReadAll(ctx, p, fn)
}

func TestDeleteGroupsAndOffsetDelete(t *testing.T) {
	h := newHarness(t, testConfig())
	id, gen := stableGroup(t, h, "busy", "t")
	require.Equal(t, []string{"NONE", "NONE"}, commitCodes(h.commit("busy", id, gen, "t", map[int32]int64{0: 1, 1: 2})))
	require.Equal(t, []string{"NONE"}, commitCodes(h.commit("busy", id, gen, "u", map[int32]int64{0: 3})))
	require.Equal(t, []string{"NONE"}, commitCodes(h.commit("idle", "", -1, "t", map[int32]int64{0: 9})))

	del := kmsg.NewPtrDeleteGroupsRequest()
	del.Version = 2
	del.Groups = []string{"busy", "idle", "never"}
	codes := []string{}
	for _, g := range h.c.DeleteGroups(context.Background(), del).Groups {
		codes = append(codes, codeName(g.ErrorCode))
	}
	assert.Equal(t, []string{"NON_EMPTY_GROUP", "NONE", "GROUP_ID_NOT_FOUND"}, codes)
	assert.Empty(t, h.fetch("idle"))

	od := kmsg.NewPtrOffsetDeleteRequest()
	od.Group = "busy"
	od.Topics = []kmsg.OffsetDeleteRequestTopic{
		{Topic: "t", Partitions: []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 0}}},
		{Topic: "u", Partitions: []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 0}}},
	}
	resp := h.c.OffsetDelete(context.Background(), od)
	require.Equal(t, "NONE", codeName(resp.ErrorCode))
	assert.Equal(t, "GROUP_SUBSCRIBED_TO_TOPIC", codeName(resp.Topics[0].Partitions[0].ErrorCode))
	assert.Equal(t, "NONE", codeName(resp.Topics[1].Partitions[0].ErrorCode))
	assert.Equal(t, map[topicPartition]int64{{"t", 0}: 1, {"t", 1}: 2}, h.fetch("busy"))
	od.Group = "never"
	assert.Equal(t, "GROUP_ID_NOT_FOUND", codeName(h.c.OffsetDelete(context.Background(), od).ErrorCode))

	// After the member leaves, the group is empty and can be deleted.
	leave := kmsg.NewPtrLeaveGroupRequest()
	leave.Version = 0
	leave.Group, leave.MemberID = "busy", id
	require.Equal(t, "NONE", codeName(h.c.LeaveGroup(leave).ErrorCode))
	assert.Equal(t, "Empty", h.describe("busy").State)
	del.Groups = []string{"busy"}
	assert.Equal(t, "NONE", codeName(h.c.DeleteGroups(context.Background(), del).Groups[0].ErrorCode))
	h.reopen()
	assert.Empty(t, h.fetch("busy"), "deletion survives a restart")
	assert.Empty(t, h.fetch("idle"))
}

func TestListAndDescribe(t *testing.T) {
	h := newHarness(t, testConfig())
	id, _ := stableGroup(t, h, "stable", "t")
	require.Equal(t, []string{"NONE"}, commitCodes(h.commit("simple", "", -1, "t", map[int32]int64{0: 1})))
	lg := kmsg.NewPtrListGroupsRequest()
	lg.Version = 4
	all := h.c.ListGroups(lg)
	require.Len(t, all.Groups, 2)
	assert.Equal(t, "simple", all.Groups[0].Group)
	assert.Equal(t, "", all.Groups[0].ProtocolType)
	assert.Equal(t, "Empty", all.Groups[0].GroupState)
	lg.StatesFilter = []string{"stable"}
	only := h.c.ListGroups(lg)
	require.Len(t, only.Groups, 1)
	assert.Equal(t, "stable", only.Groups[0].Group)
	lg.Version = 5
	lg.StatesFilter = nil
	lg.TypesFilter = []string{"consumer"}
	assert.Empty(t, h.c.ListGroups(lg).Groups, "no KIP-848 groups here")

	d := h.describe("stable")
	assert.Equal(t, "Stable", d.State)
	assert.Equal(t, "range", d.Protocol)
	require.Len(t, d.Members, 1)
	assert.Equal(t, id, d.Members[0].MemberID)
	assert.Equal(t, "/127.0.0.1", d.Members[0].ClientHost)
	assert.Equal(t, consumerMeta("t"), d.Members[0].ProtocolMetadata)
	req := kmsg.NewPtrDescribeGroupsRequest()
	req.Version = 6
	req.Groups = []string{"nope"}
	nd := h.c.DescribeGroups(req).Groups[0]
	assert.Equal(t, "GROUP_ID_NOT_FOUND", codeName(nd.ErrorCode))
	assert.Equal(t, "Dead", nd.State)
}

func TestFindCoordinator(t *testing.T) {
	h := newHarness(t, testConfig())
	var noLeader string
	for _, k := range []string{"k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8"} {
		if h.c.PartitionFor(k) != h.c.PartitionFor("g") {
			noLeader = k
			break
		}
	}
	require.NotEmpty(t, noLeader)
	leaders := func(p int32) (Node, bool) {
		if p == h.c.PartitionFor(noLeader) {
			return Node{}, false
		}
		return Node{ID: p + 100, Host: "h", Port: 9092}, true
	}
	r := kmsg.NewPtrFindCoordinatorRequest()
	r.Version = 0
	r.CoordinatorKey = "g"
	resp := h.c.FindCoordinator(r, leaders)
	assert.Equal(t, h.c.PartitionFor("g")+100, resp.NodeID)
	assert.Equal(t, int32(9092), resp.Port)

	r.Version = 4
	r.CoordinatorKeys = []string{"g", noLeader}
	resp = h.c.FindCoordinator(r, leaders)
	require.Len(t, resp.Coordinators, 2)
	assert.Equal(t, "g", resp.Coordinators[0].Key)
	assert.Equal(t, "NONE", codeName(resp.Coordinators[0].ErrorCode))
	assert.Equal(t, "COORDINATOR_NOT_AVAILABLE", codeName(resp.Coordinators[1].ErrorCode))
	assert.Equal(t, int32(-1), resp.Coordinators[1].NodeID)
	r.CoordinatorType = 7
	assert.Equal(t, "INVALID_REQUEST", codeName(h.c.FindCoordinator(r, leaders).Coordinators[0].ErrorCode))
}
