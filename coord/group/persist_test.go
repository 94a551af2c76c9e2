package group

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestOffsetsAndGroupsSurviveRestart(t *testing.T) {
	h := newHarness(t, testConfig())
	a := &tmember{client: "a"}
	b := &tmember{client: "b"}
	var ca, cb *joinCall
	a.id, ca = h.joinNew("g", "a")
	completeRound(t, h, "g", map[*tmember]*joinCall{a: ca})
	b.id, cb = h.joinNew("g", "b")
	gen := completeRound(t, h, "g", map[*tmember]*joinCall{a: h.join(joinReq("g", a.id), "a"), b: cb})
	require.Equal(t, []string{"NONE", "NONE"}, commitCodes(h.commit("g", a.id, gen, "t", map[int32]int64{0: 10, 1: 11})))
	require.Equal(t, []string{"NONE", "NONE"}, commitCodes(h.commit("g", b.id, gen, "t", map[int32]int64{0: 20, 3: 33})))
	require.Equal(t, []string{"NONE"}, commitCodes(h.commit("solo", "", -1, "x", map[int32]int64{5: 500})))
	od := kmsg.NewPtrOffsetDeleteRequest()
	od.Group = "solo"
	require.Equal(t, []string{"NONE"}, commitCodes(h.commit("solo", "", -1, "y", map[int32]int64{0: 1})))
	od.Topics = []kmsg.OffsetDeleteRequestTopic{{Topic: "y", Partitions: []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 0}}}}
	require.Equal(t, "NONE", codeName(h.c.OffsetDelete(context.Background(), od).ErrorCode))
	before := h.describe("g")

	h.reopen()
	assert.Equal(t, map[topicPartition]int64{{"t", 0}: 20, {"t", 1}: 11, {"t", 3}: 33}, h.fetch("g"), "last commit wins")
	assert.Equal(t, map[topicPartition]int64{{"x", 5}: 500}, h.fetch("solo"), "the tombstone deleted y-0")
	after := h.describe("g")
	assert.Equal(t, before, after, "members, protocol and assignments are restored")
	assert.Equal(t, "NONE", codeName(h.heartbeat("g", a.id, gen)))
	s := h.sync(syncReq("g", b.id, gen, nil)).get()
	require.Equal(t, "NONE", codeName(s.ErrorCode))
	assert.Equal(t, b.parts, decodeAssignment(t, s.MemberAssignment))

	// Sessions restart at load: B stops heartbeating and is removed.
	for i := 0; i < 11; i++ {
		h.advance(time.Second)
		h.heartbeat("g", a.id, gen)
	}
	assert.Equal(t, "UNKNOWN_MEMBER_ID", codeName(h.heartbeat("g", b.id, gen)))
	gen = completeRound(t, h, "g", map[*tmember]*joinCall{a: h.join(joinReq("g", a.id), "a")})

	// A new generation and a member leaving persist too.
	leave := kmsg.NewPtrLeaveGroupRequest()
	leave.Version = 4
	leave.Group = "g"
	leave.Members = []kmsg.LeaveGroupRequestMember{{MemberID: a.id}}
	require.Equal(t, "NONE", codeName(h.c.LeaveGroup(leave).Members[0].ErrorCode))
	h.reopen()
	d := h.describe("g")
	assert.Equal(t, "Empty", d.State)
	assert.Empty(t, d.Members)
	// The next member starts from the stored generation.
	_, c := h.joinNew("g", "c")
	assert.Equal(t, gen+2, c.get().Generation)
}

func TestOffsetExpiry(t *testing.T) {
	cfg := testConfig()
	cfg.OffsetsRetention = time.Hour
	cfg.OffsetsRetentionCheckInterval = time.Minute
	h := newHarness(t, cfg)

	// A simple group: offsets expire a retention after their commit.
	require.Equal(t, []string{"NONE"}, commitCodes(h.commit("simple", "", -1, "t", map[int32]int64{0: 1})))
	h.advance(30 * time.Minute)
	require.Equal(t, []string{"NONE"}, commitCodes(h.commit("simple", "", -1, "t", map[int32]int64{1: 2})))

	// A consumer group: offsets stay while it has members, then expire a
	// retention after it became empty.
	id, gen := stableGroup(t, h, "consumers", "t")
	require.Equal(t, []string{"NONE"}, commitCodes(h.commit("consumers", id, gen, "t", map[int32]int64{0: 7})))
	// An offset of a topic nobody subscribes to expires while stable.
	require.Equal(t, []string{"NONE"}, commitCodes(h.commit("consumers", id, gen, "other", map[int32]int64{0: 8})))

	// An explicit retention (v2-v4) expires at its time, members or not.
	r := kmsg.NewPtrOffsetCommitRequest()
	r.Version = 3
	r.Group, r.MemberID, r.Generation, r.RetentionTimeMillis = "consumers", id, gen, (10 * time.Minute).Milliseconds()
	p := kmsg.NewOffsetCommitRequestTopicPartition()
	p.Partition, p.Offset = 1, 9
	r.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "t", Partitions: []kmsg.OffsetCommitRequestTopicPartition{p}}}
	require.Equal(t, []string{"NONE"}, commitCodes(h.c.OffsetCommit(context.Background(), r)))

	keepAlive := func(d time.Duration) {
		for step := time.Duration(0); step < d; step += 5 * time.Second {
			h.advance(5 * time.Second)
			require.Equal(t, "NONE", codeName(h.heartbeat("consumers", id, gen)))
		}
	}
	keepAlive(11 * time.Minute)
	assert.Equal(t, int64(7), h.fetch("consumers")[topicPartition{"t", 0}])
	assert.NotContains(t, h.fetch("consumers"), topicPartition{"t", 1}, "explicit retention expired")

	keepAlive(20 * time.Minute) // 61 min after the first simple commit
	assert.Equal(t, map[topicPartition]int64{{"t", 1}: 2}, h.fetch("simple"))
	keepAlive(40 * time.Minute)
	assert.Empty(t, h.fetch("simple"))
	assert.Equal(t, "Dead", h.describe("simple").State, "an empty group with no offsets is removed")
	assert.Equal(t, map[topicPartition]int64{{"t", 0}: 7}, h.fetch("consumers"), "subscribed offsets stay; 'other' expired")

	leave := kmsg.NewPtrLeaveGroupRequest()
	leave.Version = 2
	leave.Group, leave.MemberID = "consumers", id
	require.Equal(t, "NONE", codeName(h.c.LeaveGroup(leave).ErrorCode))
	h.advance(59 * time.Minute)
	assert.Len(t, h.fetch("consumers"), 1, "retention counts from when the group became empty")
	h.advance(2 * time.Minute)
	assert.Empty(t, h.fetch("consumers"))
	h.reopen()
	assert.Empty(t, h.fetch("consumers"), "expiry tombstones survive a restart")
	assert.Empty(t, h.fetch("simple"))
	lg := kmsg.NewPtrListGroupsRequest()
	assert.Empty(t, h.c.ListGroups(lg).Groups)
}
