package group

import (
	"encoding/binary"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const topicParts = 6 // partitions of topic "t" in the scenarios

// rangeAssign is what a consumer leader does: sort members, give each a
// contiguous range of the partitions of "t". The assignment bytes are a
// consumer-protocol assignment (version 0, one topic).
func rangeAssign(members []kmsg.JoinGroupResponseMember, partitions int) map[string][]byte {
	ids := make([]string, len(members))
	for i, m := range members {
		ids[i] = m.MemberID
	}
	sort.Strings(ids)
	out := make(map[string][]byte, len(ids))
	per, extra := partitions/len(ids), partitions%len(ids)
	next := 0
	for i, id := range ids {
		n := per
		if i < extra {
			n++
		}
		b := binary.BigEndian.AppendUint16(nil, 0)
		b = binary.BigEndian.AppendUint32(b, 1)
		b = appendString(b, "t")
		b = binary.BigEndian.AppendUint32(b, uint32(n))
		for p := next; p < next+n; p++ {
			b = binary.BigEndian.AppendUint32(b, uint32(p))
		}
		next += n
		out[id] = binary.BigEndian.AppendUint32(b, 0xffffffff)
	}
	return out
}

// decodeAssignment returns the partitions of "t" in a consumer assignment.
func decodeAssignment(t *testing.T, b []byte) []int32 {
	t.Helper()
	if len(b) == 0 {
		return nil
	}
	r := reader{b: b}
	r.int16()
	var out []int32
	for n := r.int32(); n > 0; n-- {
		topic := r.string(false)
		require.Equal(t, "t", topic)
		for k := r.int32(); k > 0; k-- {
			out = append(out, r.int32())
		}
	}
	r.bytes(false)
	require.NoError(t, r.done("assignment"))
	return out
}

// member is the test's view of one consumer.
type tmember struct {
	id     string
	client string
	gen    int32
	parts  []int32
}

// completeRound takes the join answers of every member in ms (all must be
// available), lets the leader assign, syncs everyone (followers first, so
// they block until the leader syncs) and checks every partition has
// exactly one owner.
func completeRound(t *testing.T, h *harness, group string, calls map[*tmember]*joinCall) int32 {
	t.Helper()
	var leader *tmember
	var leaderResp *kmsg.JoinGroupResponse
	gen := int32(-1)
	for m, call := range calls {
		r := call.get()
		require.Equal(t, "NONE", codeName(r.ErrorCode), "join of %s", m.client)
		if m.id == "" { // a static member learns its id from the join
			m.id = r.MemberID
		}
		require.Equal(t, m.id, r.MemberID)
		if gen == -1 {
			gen = r.Generation
		}
		require.Equal(t, gen, r.Generation, "one generation for all")
		require.NotNil(t, r.Protocol)
		assert.Equal(t, "range", *r.Protocol)
		if r.LeaderID == m.id {
			require.Nil(t, leader, "one leader")
			leader, leaderResp = m, r
		} else {
			assert.Empty(t, r.Members, "followers get no member list")
		}
		m.gen = r.Generation
	}
	require.NotNil(t, leader, "a leader among the joined")
	require.Len(t, leaderResp.Members, len(calls), "the leader sees every member")

	syncs := make(map[*tmember]*syncCall)
	for m := range calls {
		if m != leader {
			syncs[m] = h.sync(syncReq(group, m.id, gen, nil))
			_, done := syncs[m].poll()
			require.False(t, done, "a follower waits for the leader")
		}
	}
	syncs[leader] = h.sync(syncReq(group, leader.id, gen, rangeAssign(leaderResp.Members, topicParts)))
	owners := make(map[int32]string)
	for m, s := range syncs {
		r := s.get()
		require.Equal(t, "NONE", codeName(r.ErrorCode))
		m.parts = decodeAssignment(t, r.MemberAssignment)
		for _, p := range m.parts {
			require.Empty(t, owners[p], "partition %d owned twice", p)
			owners[p] = m.id
		}
	}
	require.Len(t, owners, topicParts, "every partition has an owner")
	assert.Equal(t, Stable.String(), h.describe(group).State)
	return gen
}

func TestScenarioMembersComeAndGo(t *testing.T) {
	h := newHarness(t, testConfig())
	const g = "scenario"
	a := &tmember{client: "a"}
	var call *joinCall
	a.id, call = h.joinNew(g, "a")
	gen := completeRound(t, h, g, map[*tmember]*joinCall{a: call})
	require.Equal(t, int32(1), gen)
	require.Len(t, a.parts, topicParts)

	// B joins: a rebalance starts, A learns it by heartbeat and rejoins.
	b := &tmember{client: "b"}
	b.id, call = h.joinNew(g, "b")
	_, done := call.poll()
	require.False(t, done, "B waits for A to rejoin")
	assert.Equal(t, "REBALANCE_IN_PROGRESS", codeName(h.heartbeat(g, a.id, a.gen)))
	aCall := h.join(joinReq(g, a.id), "a")
	gen = completeRound(t, h, g, map[*tmember]*joinCall{a: aCall, b: call})
	require.Equal(t, int32(2), gen)

	// C joins late: the rebalance waits for A and B.
	c := &tmember{client: "c"}
	cid, cCall := h.joinNew(g, "c")
	c.id = cid
	h.advance(time.Second)
	aCall = h.join(joinReq(g, a.id), "a")
	_, done = aCall.poll()
	require.False(t, done, "B has not rejoined yet")
	assert.Equal(t, "REBALANCE_IN_PROGRESS", codeName(h.heartbeat(g, b.id, b.gen)))
	bCall := h.join(joinReq(g, b.id), "b")
	gen = completeRound(t, h, g, map[*tmember]*joinCall{a: aCall, b: bCall, c: cCall})
	require.Equal(t, int32(3), gen)
	for _, m := range []*tmember{a, b, c} {
		assert.Len(t, m.parts, 2)
	}

	// B leaves (v5 batch form): A and C rebalance.
	leave := kmsg.NewPtrLeaveGroupRequest()
	leave.Version = 5
	leave.Group = g
	leave.Members = []kmsg.LeaveGroupRequestMember{{MemberID: b.id}}
	lr := h.c.LeaveGroup(leave)
	require.Equal(t, "NONE", codeName(lr.ErrorCode))
	require.Len(t, lr.Members, 1)
	assert.Equal(t, "NONE", codeName(lr.Members[0].ErrorCode))
	assert.Equal(t, "UNKNOWN_MEMBER_ID", codeName(h.heartbeat(g, b.id, gen)))
	assert.Equal(t, "REBALANCE_IN_PROGRESS", codeName(h.heartbeat(g, a.id, gen)))
	gen = completeRound(t, h, g, map[*tmember]*joinCall{
		a: h.join(joinReq(g, a.id), "a"),
		c: h.join(joinReq(g, c.id), "c"),
	})
	require.Equal(t, int32(4), gen)

	// C stops heartbeating; A keeps going. After C's session timeout (10 s)
	// C is removed and A rebalances alone.
	for i := 0; i < 9; i++ {
		h.advance(time.Second)
		require.Equal(t, "NONE", codeName(h.heartbeat(g, a.id, gen)))
	}
	assert.Len(t, h.describe(g).Members, 2, "C's session has not expired yet")
	h.advance(1500 * time.Millisecond)
	assert.Equal(t, "REBALANCE_IN_PROGRESS", codeName(h.heartbeat(g, a.id, gen)))
	assert.Equal(t, "UNKNOWN_MEMBER_ID", codeName(h.heartbeat(g, c.id, gen)))
	gen = completeRound(t, h, g, map[*tmember]*joinCall{a: h.join(joinReq(g, a.id), "a")})
	require.Equal(t, int32(5), gen)
	assert.Len(t, a.parts, topicParts)
	assert.Equal(t, "ILLEGAL_GENERATION", codeName(h.heartbeat(g, a.id, gen-1)))
}

func TestMemberNotRejoiningIsRemovedAtRebalanceTimeout(t *testing.T) {
	h := newHarness(t, testConfig())
	const g = "slow"
	a, b := &tmember{client: "a"}, &tmember{client: "b"}
	var ca, cb *joinCall
	a.id, ca = h.joinNew(g, "a")
	completeRound(t, h, g, map[*tmember]*joinCall{a: ca})
	b.id, cb = h.joinNew(g, "b")
	gen := completeRound(t, h, g, map[*tmember]*joinCall{a: h.join(joinReq(g, a.id), "a"), b: cb})

	// A rejoins (forcing a rebalance as leader); B only heartbeats.
	ca = h.join(joinReq(g, a.id), "a")
	for i := 0; i < 29; i++ {
		h.advance(time.Second)
		require.Equal(t, "REBALANCE_IN_PROGRESS", codeName(h.heartbeat(g, b.id, gen)))
		_, done := ca.poll()
		require.False(t, done, "the join waits up to the rebalance timeout")
	}
	h.advance(time.Second) // 30 s: the rebalance timeout
	gen2 := completeRound(t, h, g, map[*tmember]*joinCall{a: ca})
	assert.Equal(t, gen+1, gen2)
	assert.Equal(t, "UNKNOWN_MEMBER_ID", codeName(h.heartbeat(g, b.id, gen)))
	// B comes back with its old id: unknown now.
	assert.Equal(t, "UNKNOWN_MEMBER_ID", codeName(h.join(joinReq(g, b.id), "b").get().ErrorCode))
}

func TestInitialRebalanceDelay(t *testing.T) {
	cfg := testConfig()
	cfg.GroupInitialRebalanceDelay = 3 * time.Second
	h := newHarness(t, cfg)
	const g = "delayed"
	a, b := &tmember{client: "a"}, &tmember{client: "b"}
	var ca, cb *joinCall
	a.id, ca = h.joinNew(g, "a")
	h.advance(2 * time.Second)
	_, done := ca.poll()
	require.False(t, done, "the first rebalance waits for more members")
	b.id, cb = h.joinNew(g, "b") // a new member extends the delay
	h.advance(time.Second)       // first delay over; extended by 3 s
	_, done = ca.poll()
	require.False(t, done)
	h.advance(3 * time.Second)
	gen := completeRound(t, h, g, map[*tmember]*joinCall{a: ca, b: cb})
	assert.Equal(t, int32(1), gen)
}

func TestStaticMemberRejoinWithoutRebalance(t *testing.T) {
	h := newHarness(t, testConfig())
	const g = "static"
	a, b := &tmember{client: "a"}, &tmember{client: "b"}
	ca := h.join(joinReq(g, "", withInstance("ia")), "a") // static: no MEMBER_ID_REQUIRED
	completeRound(t, h, g, map[*tmember]*joinCall{a: ca})
	cb := h.join(joinReq(g, "", withInstance("ib")), "b")
	_, done := cb.poll()
	require.False(t, done)
	gen := completeRound(t, h, g, map[*tmember]*joinCall{a: h.join(joinReq(g, a.id, withInstance("ia")), "a"), b: cb})
	bParts := append([]int32(nil), b.parts...)

	// B restarts: same instance id, no member id, same protocols.
	r := h.join(joinReq(g, "", withInstance("ib")), "b").get()
	require.Equal(t, "NONE", codeName(r.ErrorCode))
	assert.Equal(t, gen, r.Generation, "no new generation")
	assert.NotEqual(t, b.id, r.MemberID, "a new member id")
	oldB := b.id
	b.id = r.MemberID
	assert.Equal(t, Stable.String(), h.describe(g).State)
	assert.Equal(t, "NONE", codeName(h.heartbeat(g, a.id, gen)), "A sees no rebalance")
	s := h.sync(syncReq(g, b.id, gen, nil)).get()
	require.Equal(t, "NONE", codeName(s.ErrorCode))
	assert.Equal(t, bParts, decodeAssignment(t, s.MemberAssignment), "B keeps its assignment")

	// The old incarnation is fenced.
	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Version = 4
	hb.Group, hb.MemberID, hb.Generation = g, oldB, gen
	inst := "ib"
	hb.InstanceID = &inst
	assert.Equal(t, "FENCED_INSTANCE_ID", codeName(h.c.Heartbeat(hb).ErrorCode))
	assert.Equal(t, "FENCED_INSTANCE_ID", codeName(h.join(joinReq(g, oldB, withInstance("ib")), "b").get().ErrorCode))

	// Static leader rejoin (v9): the member list comes back with
	// SkipAssignment, the leader id is its new one (Kafka's
	// updateStaticMemberAndRebalance).
	r = h.join(joinReq(g, "", withInstance("ia")), "a").get()
	require.Equal(t, "NONE", codeName(r.ErrorCode))
	assert.True(t, r.SkipAssignment)
	assert.Equal(t, r.MemberID, r.LeaderID)
	assert.NotEqual(t, a.id, r.MemberID)
	assert.Len(t, r.Members, 2)
	assert.Equal(t, gen, r.Generation)

	// Before v9: the previous leader id and no member list, so the
	// client runs no assignment the stable group would ignore.
	prev := r.MemberID
	r = h.join(joinReq(g, "", withInstance("ia"), withVersion(8)), "a").get()
	require.Equal(t, "NONE", codeName(r.ErrorCode))
	assert.False(t, r.SkipAssignment)
	assert.Equal(t, prev, r.LeaderID)
	assert.NotEqual(t, prev, r.MemberID)
	assert.Empty(t, r.Members)
	assert.Equal(t, gen, r.Generation)

	// Changed protocols force a rebalance.
	r2 := h.join(joinReq(g, "", withInstance("ib"), withProtocols(
		kmsg.JoinGroupRequestProtocol{Name: "cooperative-sticky", Metadata: consumerMeta("t")},
		kmsg.JoinGroupRequestProtocol{Name: "range", Metadata: consumerMeta("t")},
	)), "b")
	_, done = r2.poll()
	assert.False(t, done, "a rebalance runs")
	assert.Equal(t, PreparingRebalance.String(), h.describe(g).State)
}

func TestMemberIDRequired(t *testing.T) {
	h := newHarness(t, testConfig())
	const g = "mir"
	r := h.join(joinReq(g, ""), "client-1").get()
	require.Equal(t, "MEMBER_ID_REQUIRED", codeName(r.ErrorCode))
	assert.Regexp(t, `^client-1-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, r.MemberID)
	assert.Equal(t, int32(-1), r.Generation)
	r2 := h.join(joinReq(g, r.MemberID), "client-1").get()
	require.Equal(t, "NONE", codeName(r2.ErrorCode))
	assert.Equal(t, r.MemberID, r2.MemberID)
	assert.Equal(t, r.MemberID, r2.LeaderID)

	// v3 joins get an id at once.
	r3 := h.join(joinReq("old", "", withVersion(3)), "c3").get()
	require.Equal(t, "NONE", codeName(r3.ErrorCode))
	assert.Equal(t, int32(1), r3.Generation)

	// A pending id that never comes back expires after its session.
	r4 := h.join(joinReq("pend", ""), "c4").get()
	require.Equal(t, "MEMBER_ID_REQUIRED", codeName(r4.ErrorCode))
	h.advance(11 * time.Second)
	assert.Equal(t, "UNKNOWN_MEMBER_ID", codeName(h.join(joinReq("pend", r4.MemberID), "c4").get().ErrorCode))
}

func TestProtocolSelection(t *testing.T) {
	p := func(names ...string) []kmsg.JoinGroupRequestProtocol {
		var out []kmsg.JoinGroupRequestProtocol
		for _, n := range names {
			out = append(out, kmsg.JoinGroupRequestProtocol{Name: n})
		}
		return out
	}
	tests := []struct {
		name    string
		members [][]kmsg.JoinGroupRequestProtocol
		want    string
	}{
		{"single", [][]kmsg.JoinGroupRequestProtocol{p("range", "rr")}, "range"},
		{"majority", [][]kmsg.JoinGroupRequestProtocol{p("rr", "range"), p("range", "rr"), p("range", "rr")}, "range"},
		{"only common", [][]kmsg.JoinGroupRequestProtocol{p("sticky", "range"), p("range"), p("sticky", "range")}, "range"},
		{"vote among common", [][]kmsg.JoinGroupRequestProtocol{p("a", "b", "c"), p("c", "b"), p("c", "a", "b")}, "c"},
		{"tie to first member", [][]kmsg.JoinGroupRequestProtocol{p("b", "a"), p("a", "b")}, "b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGroup("g", time.Time{})
			for i, ps := range tt.members {
				id := string(rune('a' + i))
				g.members[id] = &member{id: id, protocols: ps, seq: uint64(i)}
			}
			assert.Equal(t, tt.want, g.selectProtocol())
		})
	}
}

func TestInconsistentProtocol(t *testing.T) {
	h := newHarness(t, testConfig())
	const g = "incons"
	_, ca := h.joinNew(g, "a")
	require.Equal(t, "NONE", codeName(ca.get().ErrorCode))
	r := h.join(joinReq(g, "", withProtocols(kmsg.JoinGroupRequestProtocol{Name: "roundrobin"})), "b").get()
	assert.Equal(t, "INCONSISTENT_GROUP_PROTOCOL", codeName(r.ErrorCode))
	other := joinReq(g, "")
	other.ProtocolType = "connect"
	assert.Equal(t, "INCONSISTENT_GROUP_PROTOCOL", codeName(h.join(other, "b").get().ErrorCode))
	empty := joinReq("fresh", "")
	empty.Protocols = nil
	assert.Equal(t, "INCONSISTENT_GROUP_PROTOCOL", codeName(h.join(empty, "b").get().ErrorCode))
}

// TestStaticRejoinComparesSubscriptionNotBytes: a restarted static
// consumer whose metadata differs only past the topic list (user data,
// owned partitions, generation: what franz-go and Java's cooperative
// consumers fill in) gets its assignment back without a rebalance; one
// that subscribes to other topics triggers a rebalance.
func TestStaticRejoinComparesSubscriptionNotBytes(t *testing.T) {
	h := newHarness(t, testConfig())
	const g = "static-meta"
	a, b := &tmember{client: "a"}, &tmember{client: "b"}
	ca := h.join(joinReq(g, "", withInstance("ia")), "a")
	completeRound(t, h, g, map[*tmember]*joinCall{a: ca})
	cb := h.join(joinReq(g, "", withInstance("ib")), "b")
	gen := completeRound(t, h, g, map[*tmember]*joinCall{a: h.join(joinReq(g, a.id, withInstance("ia")), "a"), b: cb})

	withUserData := consumerMeta("t")
	withUserData = append(withUserData[:len(withUserData)-4], 0, 0, 0, 3, 'o', 'w', 'n') // user data "own"
	r := h.join(joinReq(g, "", withInstance("ib"), withProtocols(
		kmsg.JoinGroupRequestProtocol{Name: "range", Metadata: withUserData})), "b").get()
	require.Equal(t, "NONE", codeName(r.ErrorCode))
	assert.Equal(t, gen, r.Generation, "no new generation")
	b.id = r.MemberID
	assert.Equal(t, Stable.String(), h.describe(g).State)
	assert.Equal(t, "NONE", codeName(h.heartbeat(g, a.id, gen)), "A sees no rebalance")

	moved := h.join(joinReq(g, "", withInstance("ib"), withProtocols(
		kmsg.JoinGroupRequestProtocol{Name: "range", Metadata: consumerMeta("t", "u")})), "b")
	_, done := moved.poll()
	assert.False(t, done, "a new subscription rebalances")
	assert.Equal(t, PreparingRebalance.String(), h.describe(g).State)
}

func TestSameSubscription(t *testing.T) {
	p := func(name string, meta []byte) kmsg.JoinGroupRequestProtocol {
		return kmsg.JoinGroupRequestProtocol{Name: name, Metadata: meta}
	}
	ps := func(x ...kmsg.JoinGroupRequestProtocol) []kmsg.JoinGroupRequestProtocol { return x }
	ud := consumerMeta("b", "a")
	ud = append(ud[:len(ud)-4], 0, 0, 0, 1, 'x')
	tests := []struct {
		name     string
		typ      string
		old, cur []kmsg.JoinGroupRequestProtocol
		want     bool
	}{
		{"identical", "consumer", ps(p("range", consumerMeta("a"))), ps(p("range", consumerMeta("a"))), true},
		{"topic order and user data", "consumer", ps(p("range", consumerMeta("a", "b"))), ps(p("range", ud)), true},
		{"other topics", "consumer", ps(p("range", consumerMeta("a"))), ps(p("range", consumerMeta("a", "c"))), false},
		{"other name", "consumer", ps(p("range", consumerMeta("a"))), ps(p("sticky", consumerMeta("a"))), false},
		{"more protocols", "consumer", ps(p("range", consumerMeta("a"))), ps(p("range", consumerMeta("a")), p("rr", consumerMeta("a"))), false},
		{"unparsable", "consumer", ps(p("range", consumerMeta("a"))), ps(p("range", []byte{0})), false},
		{"connect compares bytes", "connect", ps(p("v1", []byte("x"))), ps(p("v1", []byte("y"))), false},
		{"connect identical", "connect", ps(p("v1", []byte("x"))), ps(p("v1", []byte("x"))), true},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, sameSubscription(tc.typ, tc.old, tc.cur), tc.name)
	}
}
