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

	// An explicit retention (v2-v4) on an offset that may expire (a topic
	// nobody subscribes to) replaces the retention: it expires at its time.
	r := retentionCommit(3, "consumers", id, gen, 10*time.Minute, "other", 1, 9)
	require.Equal(t, []string{"NONE"}, commitCodes(h.c.OffsetCommit(context.Background(), r)))

	keepAlive := func(d time.Duration) {
		for step := time.Duration(0); step < d; step += 5 * time.Second {
			h.advance(5 * time.Second)
			require.Equal(t, "NONE", codeName(h.heartbeat("consumers", id, gen)))
		}
	}
	keepAlive(11 * time.Minute)
	assert.Equal(t, int64(7), h.fetch("consumers")[topicPartition{"t", 0}])
	assert.NotContains(t, h.fetch("consumers"), topicPartition{"other", 1}, "explicit retention expired")
	assert.Contains(t, h.fetch("consumers"), topicPartition{"other", 0}, "the retention of 'other'/0 has not passed")

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

// TestExplicitRetentionKeptInLiveGroup (#12 item 7): offsets committed
// with an explicit retention (OffsetCommit v2, 24 h, as one Go client
// always sends) are kept while a member of the subscribed group heartbeats
// for days, and in a group rebalancing; once the group is empty the
// explicit expiry applies, as in Kafka's GroupMetadata.removeExpiredOffsets.
func TestExplicitRetentionKeptInLiveGroup(t *testing.T) {
	cfg := testConfig()
	cfg.OffsetsRetentionCheckInterval = time.Minute
	cfg.GroupMaxSessionTimeout = 30 * time.Minute
	h := newHarness(t, cfg)
	session := withSession(20 * time.Minute)
	id, call := h.joinNew("live", "c", session, withProtocols(kmsg.JoinGroupRequestProtocol{Name: "range", Metadata: consumerMeta("t")}))
	jr := call.get()
	require.Equal(t, "NONE", codeName(jr.ErrorCode))
	gen := jr.Generation
	require.Equal(t, "NONE", codeName(h.sync(syncReq("live", id, gen, map[string][]byte{id: {}})).get().ErrorCode))

	r := retentionCommit(2, "live", id, gen, 24*time.Hour, "t", 0, 42)
	require.Equal(t, []string{"NONE"}, commitCodes(h.c.OffsetCommit(context.Background(), r)))

	for range 3 * 24 * 6 { // three days, a heartbeat every 10 minutes
		h.advance(10 * time.Minute)
		require.Equal(t, "NONE", codeName(h.heartbeat("live", id, gen)))
	}
	require.Equal(t, "Stable", h.describe("live").State)
	assert.Equal(t, map[topicPartition]int64{{"t", 0}: 42}, h.fetch("live"), "a stable group keeps its subscribed offsets past their retention")

	// A second member makes the group rebalance (the first does not
	// rejoin and is removed at its rebalance timeout): nothing expires in
	// a non-empty group that is not stable.
	id2, call2 := h.joinNew("live", "c2", session)
	h.advance(time.Minute) // past the rebalance timeout and an expiry check
	jr2 := call2.get()
	require.Equal(t, "NONE", codeName(jr2.ErrorCode))
	require.Equal(t, "CompletingRebalance", h.describe("live").State)
	assert.Equal(t, map[topicPartition]int64{{"t", 0}: 42}, h.fetch("live"), "nothing expires while rebalancing")

	// The last member leaves: the group is empty and the explicit expiry
	// (long past) applies at the next check.
	leave := kmsg.NewPtrLeaveGroupRequest()
	leave.Version = 2
	leave.Group, leave.MemberID = "live", id2
	require.Equal(t, "NONE", codeName(h.c.LeaveGroup(leave).ErrorCode))
	require.Equal(t, "Empty", h.describe("live").State)
	h.advance(time.Minute)
	assert.Empty(t, h.fetch("live"), "the explicit expiry applies once the group is empty")
}

// retentionCommit is an OffsetCommit (v2-v4) of one offset with an explicit
// retention time.
func retentionCommit(v int16, group, member string, gen int32, retention time.Duration, topic string, partition int32, offset int64) *kmsg.OffsetCommitRequest {
	r := kmsg.NewPtrOffsetCommitRequest()
	r.Version = v
	r.Group, r.MemberID, r.Generation, r.RetentionTimeMillis = group, member, gen, retention.Milliseconds()
	p := kmsg.NewOffsetCommitRequestTopicPartition()
	p.Partition, p.Offset = partition, offset
	r.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: topic, Partitions: []kmsg.OffsetCommitRequestTopicPartition{p}}}
	return r
}
