package group

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Group-metadata writes (#12 item 8): the group record a leader's
// SyncGroup persists, a static member's replacement, DeleteGroups and
// OffsetDelete wait for their commit without the partition's lock. These
// tests hold one such write (slowLog) and check that the partition's other
// groups are served meanwhile, that the held operation completes as Kafka
// does once its commit is known, and that the log replays to the same
// state.

// slowHarness is a harness whose appends can be held, with a group of the
// same __consumer_offsets partition as group made stable (its member id
// and generation).
func slowHarness(t *testing.T, group string) (h *harness, slow *slowLog, other, otherID string, otherGen int32) {
	t.Helper()
	cfg := testConfig()
	cfg.OffsetsCommitTimeout = 10 * time.Minute // only the test ends held commits
	h = newHarness(t, cfg)
	slow = &slowLog{OffsetsLog: h.c.log, held: make(chan heldCommit, 4)}
	h.c.log = slow
	other = sameShard(t, h, group)
	otherID, otherGen = stableGroup(t, h, other, "t")
	return h, slow, other, otherID, otherGen
}

// holdNext runs op on another goroutine with the next append held and
// returns the held commit and a channel closed when op has returned.
func holdNext(t *testing.T, slow *slowLog, op func()) (heldCommit, <-chan struct{}) {
	t.Helper()
	slow.arm(true)
	defer slow.arm(false)
	done := make(chan struct{})
	go func() {
		defer close(done)
		op()
	}()
	select {
	case held := <-slow.held:
		return held, done
	case <-done:
		t.Fatal("the operation appended nothing")
	case <-time.After(hangGuard):
		t.Fatal("the operation did not append")
	}
	return nil, nil
}

// servesOthers checks that the other group of the partition is served
// while a write is held: heartbeat, commit, a new group's join and sync,
// the coordinator's tick.
func servesOthers(t *testing.T, h *harness, other, id string, gen int32, commit int64) {
	t.Helper()
	within(t, "another group's heartbeat", func() {
		assert.Equal(t, "NONE", codeName(h.heartbeat(other, id, gen)))
	})
	within(t, "another group's commit", func() {
		assert.Equal(t, []string{"NONE"}, commitCodes(h.commit(other, id, gen, "t", map[int32]int64{0: commit})))
	})
	within(t, "a new group's join and sync", func() {
		stableGroup(t, h, freshGroup(t, h, other), "t")
	})
	within(t, "the coordinator's tick", func() { h.advance(time.Second) })
	assert.Equal(t, map[topicPartition]int64{{"t", 0}: commit}, h.fetch(other))
}

// freshGroup returns the id of a group that does not exist yet, on the
// same __consumer_offsets partition as group.
func freshGroup(t *testing.T, h *harness, group string) string {
	t.Helper()
	for i := range 10_000 {
		k := fmt.Sprintf("fresh%d", i)
		if h.c.PartitionFor(k) == h.c.PartitionFor(group) && h.describe(k).State == Dead.String() {
			return k
		}
	}
	t.Fatal("no fresh group on the same partition")
	return ""
}

// completing brings group to CompletingRebalance with two members (the
// leader and a follower) and returns their ids and the generation.
func completing(t *testing.T, h *harness, group string) (leader, follower string, gen int32) {
	t.Helper()
	leader, _ = stableGroup(t, h, group, "t")
	follower, fj := h.joinNew(group, "f")
	lj := h.join(joinReq(group, leader), "c")
	lr, fr := lj.get(), fj.get()
	require.Equal(t, "NONE", codeName(lr.ErrorCode))
	require.Equal(t, "NONE", codeName(fr.ErrorCode))
	require.Equal(t, leader, lr.LeaderID)
	require.Equal(t, CompletingRebalance.String(), h.describe(group).State)
	return leader, follower, lr.Generation
}

// heldSync is a group of two members in CompletingRebalance: the
// follower waits in SyncGroup, the leader's SyncGroup (assigning "x" to
// itself, "y" to the follower) has its group record held.
type heldSync struct {
	leader, follower string
	gen              int32
	follow, lead     *syncCall // lead is set once done is closed
	held             heldCommit
	done             <-chan struct{}
}

func holdLeaderSync(t *testing.T, h *harness, slow *slowLog, group string) *heldSync {
	t.Helper()
	hs := &heldSync{}
	hs.leader, hs.follower, hs.gen = completing(t, h, group)
	hs.follow = h.sync(syncReq(group, hs.follower, hs.gen, nil))
	_, answered := hs.follow.poll()
	require.False(t, answered, "the follower waits for the leader")
	assign := map[string][]byte{hs.leader: []byte("x"), hs.follower: []byte("y")}
	hs.held, hs.done = holdNext(t, slow, func() { hs.lead = h.sync(syncReq(group, hs.leader, hs.gen, assign)) })
	return hs
}

// heldAssignments returns the assignments the coordinator holds for the
// group's members (DescribeGroups shows them only in Stable).
func heldAssignments(t *testing.T, h *harness, group string) map[string]string {
	t.Helper()
	s, code := h.c.acquire(group)
	require.Equal(t, "NONE", codeName(code))
	defer h.c.unlock(s)
	out := map[string]string{}
	for id, m := range s.groups[group].members {
		out[id] = string(m.assignment)
	}
	return out
}

// assignmentsOf returns the member assignments DescribeGroups shows.
func assignmentsOf(h *harness, group string) map[string]string {
	out := map[string]string{}
	for _, m := range h.describe(group).Members {
		out[m.MemberID] = string(m.MemberAssignment)
	}
	return out
}

func TestSlowSyncGroupDoesNotStallThePartition(t *testing.T) {
	h, slow, other, otherID, otherGen := slowHarness(t, "a")
	hs := holdLeaderSync(t, h, slow, "a")
	leader, follower := hs.leader, hs.follower

	servesOthers(t, h, other, otherID, otherGen, 7)
	within(t, "the group's own heartbeat", func() {
		assert.Equal(t, "NONE", codeName(h.heartbeat("a", follower, hs.gen)))
	})
	assert.Equal(t, CompletingRebalance.String(), h.describe("a").State, "not stable before the record is committed")
	assert.Equal(t, map[string]string{leader: "", follower: ""}, heldAssignments(t, h, "a"), "the assignment applies once committed")
	_, answered := hs.follow.poll()
	assert.False(t, answered, "the follower is answered once the record is committed")

	hs.held.ok()
	within(t, "the leader's SyncGroup", func() { <-hs.done })
	lr := hs.lead.get()
	require.Equal(t, "NONE", codeName(lr.ErrorCode))
	assert.Equal(t, "x", string(lr.MemberAssignment))
	fr := hs.follow.get()
	require.Equal(t, "NONE", codeName(fr.ErrorCode))
	assert.Equal(t, "y", string(fr.MemberAssignment))
	assert.Equal(t, Stable.String(), h.describe("a").State)
	assert.Equal(t, map[string]string{leader: "x", follower: "y"}, assignmentsOf(h, "a"))

	h.reopen()
	assert.Equal(t, map[string]string{leader: "x", follower: "y"}, assignmentsOf(h, "a"), "as the log replays")
	assert.Equal(t, map[topicPartition]int64{{"t", 0}: 7}, h.fetch(other))
}

// TestSyncGroupWriteOutcomeWhenTheGroupChanged: the assignment applies
// only if the group is still in CompletingRebalance at the same
// generation when its record is committed (Kafka's doSyncGroup callback);
// whatever changed the group answered the waiting members already.
func TestSyncGroupWriteOutcomeWhenTheGroupChanged(t *testing.T) {
	h, slow, _, _, _ := slowHarness(t, "a")
	hs := holdLeaderSync(t, h, slow, "a")
	leader, follower, gen := hs.leader, hs.follower, hs.gen

	// A new member joins while the record is in flight.
	newcomer, nj := h.joinNew("a", "n")
	fr, ok := hs.follow.poll()
	require.True(t, ok, "the waiting follower is answered at once")
	assert.Equal(t, "REBALANCE_IN_PROGRESS", codeName(fr.ErrorCode))
	assert.Equal(t, PreparingRebalance.String(), h.describe("a").State)

	hs.held.ok()
	within(t, "the leader's SyncGroup", func() { <-hs.done })
	assert.Equal(t, "REBALANCE_IN_PROGRESS", codeName(hs.lead.get().ErrorCode))
	assert.Equal(t, PreparingRebalance.String(), h.describe("a").State, "the stale generation's assignment does not apply")
	assert.Equal(t, map[string]string{leader: "", follower: "", newcomer: ""}, heldAssignments(t, h, "a"))

	// The rebalance goes on: everyone rejoins, a new generation syncs.
	lj, fj := h.join(joinReq("a", leader), "c"), h.join(joinReq("a", follower), "f")
	lr := lj.get()
	require.Equal(t, "NONE", codeName(lr.ErrorCode))
	require.Equal(t, gen+1, lr.Generation)
	require.Equal(t, "NONE", codeName(fj.get().ErrorCode))
	require.Equal(t, "NONE", codeName(nj.get().ErrorCode))
	next := map[string][]byte{leader: []byte("1"), follower: []byte("2"), newcomer: []byte("3")}
	require.Equal(t, "NONE", codeName(h.sync(syncReq("a", leader, gen+1, next)).get().ErrorCode))
	assert.Equal(t, Stable.String(), h.describe("a").State)

	h.reopen()
	assert.Equal(t, map[string]string{leader: "1", follower: "2", newcomer: "3"}, assignmentsOf(h, "a"))
}

// TestSyncGroupWriteFails: a group record whose commit fails with the
// group unchanged answers every waiting member Kafka's storeGroup error
// (NOT_LEADER -> NOT_COORDINATOR, a timeout -> REBALANCE_IN_PROGRESS) and
// rebalances the group.
func TestSyncGroupWriteFails(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("leadership moved: %w", ErrNotLeader), "NOT_COORDINATOR"},
		{fmt.Errorf("acks=all: %w", context.DeadlineExceeded), "REBALANCE_IN_PROGRESS"},
		{fmt.Errorf("not enough replicas"), "COORDINATOR_NOT_AVAILABLE"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			h, slow, _, _, _ := slowHarness(t, "a")
			hs := holdLeaderSync(t, h, slow, "a")
			leader, follower := hs.leader, hs.follower
			hs.held.fail(tc.err)
			within(t, "the leader's SyncGroup", func() { <-hs.done })
			assert.Equal(t, tc.want, codeName(hs.lead.get().ErrorCode))
			assert.Equal(t, tc.want, codeName(hs.follow.get().ErrorCode))
			assert.Equal(t, PreparingRebalance.String(), h.describe("a").State)
			assert.Equal(t, map[string]string{leader: "", follower: ""}, heldAssignments(t, h, "a"))
		})
	}
}

func deleteGroups(h *harness, groups ...string) []string {
	r := kmsg.NewPtrDeleteGroupsRequest()
	r.Version = 2
	r.Groups = groups
	var out []string
	for _, g := range h.c.DeleteGroups(context.Background(), r).Groups {
		out = append(out, codeName(g.ErrorCode))
	}
	return out
}

// TestSlowDeleteGroupsDoesNotStallThePartition: the deleted group leaves
// memory once its tombstones are in the local log (as in Kafka); while
// they wait for their commit the partition's other groups are served and
// a group of the same id can start afresh; the deletion is answered once
// committed, and the log replays to the same state.
func TestSlowDeleteGroupsDoesNotStallThePartition(t *testing.T) {
	h, slow, other, otherID, otherGen := slowHarness(t, "e")
	require.Equal(t, []string{"NONE"}, commitCodes(h.commit("e", "", -1, "t", map[int32]int64{0: 3})))

	var codes []string
	held, done := holdNext(t, slow, func() { codes = deleteGroups(h, "e") })
	servesOthers(t, h, other, otherID, otherGen, 8)
	assert.Empty(t, h.fetch("e"), "gone from memory once appended")
	assert.Equal(t, Dead.String(), h.describe("e").State)
	assert.Equal(t, []string{"GROUP_ID_NOT_FOUND"}, deleteGroups(h, "e"))
	var newID string
	within(t, "a new incarnation of the group", func() { newID, _ = stableGroup(t, h, "e", "t") })

	held.ok()
	within(t, "DeleteGroups", func() { <-done })
	assert.Equal(t, []string{"NONE"}, codes)

	h.reopen()
	assert.Empty(t, h.fetch("e"), "the tombstones replay")
	d := h.describe("e")
	assert.Equal(t, Stable.String(), d.State, "the new incarnation, written after them, too")
	require.Len(t, d.Members, 1)
	assert.Equal(t, newID, d.Members[0].MemberID)
}

// TestDeleteGroupsCommitFails: a deletion whose tombstones fail to commit
// answers the failure (NOT_COORDINATOR: the client retries at the new
// coordinator, which deletes the group if the tombstones did not reach
// it).
func TestDeleteGroupsCommitFails(t *testing.T) {
	h, slow, _, _, _ := slowHarness(t, "e")
	require.Equal(t, []string{"NONE"}, commitCodes(h.commit("e", "", -1, "t", map[int32]int64{0: 3})))
	var codes []string
	held, done := holdNext(t, slow, func() { codes = deleteGroups(h, "e") })
	held.fail(fmt.Errorf("leadership moved: %w", ErrNotLeader))
	within(t, "DeleteGroups", func() { <-done })
	assert.Equal(t, []string{"NOT_COORDINATOR"}, codes)
}

func offsetDelete(h *harness, group, topic string, partitions ...int32) *kmsg.OffsetDeleteResponse {
	r := kmsg.NewPtrOffsetDeleteRequest()
	r.Group = group
	t := kmsg.OffsetDeleteRequestTopic{Topic: topic}
	for _, p := range partitions {
		t.Partitions = append(t.Partitions, kmsg.OffsetDeleteRequestTopicPartition{Partition: p})
	}
	r.Topics = []kmsg.OffsetDeleteRequestTopic{t}
	return h.c.OffsetDelete(context.Background(), r)
}

// TestSlowOffsetDeleteDoesNotStallThePartition: the deleted offsets leave
// memory once their tombstones are in the local log; a commit made while
// they wait for their commit applies after them (its record follows them
// in the log), and the log replays to the same state.
func TestSlowOffsetDeleteDoesNotStallThePartition(t *testing.T) {
	h, slow, other, otherID, otherGen := slowHarness(t, "e")
	require.Equal(t, []string{"NONE", "NONE"}, commitCodes(h.commit("e", "", -1, "t", map[int32]int64{0: 3, 1: 4})))

	var resp *kmsg.OffsetDeleteResponse
	held, done := holdNext(t, slow, func() { resp = offsetDelete(h, "e", "t", 0) })
	servesOthers(t, h, other, otherID, otherGen, 9)
	assert.Equal(t, map[topicPartition]int64{{"t", 1}: 4}, h.fetch("e"), "gone from memory once appended")
	within(t, "the group's own commit", func() {
		assert.Equal(t, []string{"NONE"}, commitCodes(h.commit("e", "", -1, "t", map[int32]int64{0: 5})))
	})

	held.ok()
	within(t, "OffsetDelete", func() { <-done })
	require.Equal(t, "NONE", codeName(resp.ErrorCode))
	assert.Equal(t, "NONE", codeName(resp.Topics[0].Partitions[0].ErrorCode))
	assert.Equal(t, map[topicPartition]int64{{"t", 0}: 5, {"t", 1}: 4}, h.fetch("e"), "the later commit stands")

	h.reopen()
	assert.Equal(t, map[topicPartition]int64{{"t", 0}: 5, {"t", 1}: 4}, h.fetch("e"), "as the log replays")
}

// TestSlowStaticMemberReplacement: a static member rejoining a stable group
// under a new id is answered once the group record naming it is
// committed, without stalling the partition; if a rebalance starts while
// the record is in flight, the member takes part in it (it counts as
// joined) and is answered by it, as in Kafka.
func TestSlowStaticMemberReplacement(t *testing.T) {
	h, slow, other, otherID, otherGen := slowHarness(t, "s")
	sa := h.join(joinReq("s", "", withInstance("ia")), "a").get()
	require.Equal(t, "NONE", codeName(sa.ErrorCode))
	require.Equal(t, "NONE", codeName(h.sync(syncReq("s", sa.MemberID, sa.Generation, map[string][]byte{sa.MemberID: []byte("p")})).get().ErrorCode))

	// The static member restarts: answered once its record is committed.
	var rejoin *joinCall
	held, done := holdNext(t, slow, func() { rejoin = h.join(joinReq("s", "", withInstance("ia"), withVersion(8)), "a") })
	servesOthers(t, h, other, otherID, otherGen, 10)
	held.ok()
	within(t, "the static member's JoinGroup", func() { <-done })
	r := rejoin.get()
	require.Equal(t, "NONE", codeName(r.ErrorCode))
	assert.Equal(t, sa.Generation, r.Generation, "no rebalance")
	assert.NotEqual(t, sa.MemberID, r.MemberID)
	h.reopen()
	d := h.describe("s")
	require.Len(t, d.Members, 1)
	assert.Equal(t, r.MemberID, d.Members[0].MemberID, "the new id is persisted")
	h.c.log = slow

	// It restarts again; a new member joins while the record is in flight:
	// the rebalance completes at once, the static member counting as
	// joined, and its JoinGroup is answered with the new generation.
	held, done = holdNext(t, slow, func() { rejoin = h.join(joinReq("s", "", withInstance("ia")), "a") })
	_, nj := h.joinNew("s", "n")
	nr := nj.get()
	require.Equal(t, "NONE", codeName(nr.ErrorCode))
	assert.Equal(t, sa.Generation+1, nr.Generation)
	assert.Equal(t, CompletingRebalance.String(), h.describe("s").State)
	held.ok()
	within(t, "the static member's JoinGroup", func() { <-done })
	r2 := rejoin.get()
	require.Equal(t, "NONE", codeName(r2.ErrorCode))
	assert.Equal(t, sa.Generation+1, r2.Generation, "answered by the rebalance")
	assert.Equal(t, nr.LeaderID, r2.LeaderID)
	assert.Equal(t, CompletingRebalance.String(), h.describe("s").State, "the record's commit changes nothing more")
}

// TestSlowEmptyGroupRecord: the last member's LeaveGroup empties the group,
// whose record (generation+1, no members) is written; while it waits for
// its commit the partition's other groups are served, and the group is
// Empty already (Kafka's onCompleteJoin only logs a failure of this write).
func TestSlowEmptyGroupRecord(t *testing.T) {
	h, slow, other, otherID, otherGen := slowHarness(t, "l")
	id, gen := stableGroup(t, h, "l", "t")
	leave := kmsg.NewPtrLeaveGroupRequest()
	leave.Group, leave.MemberID = "l", id
	var code int16
	held, done := holdNext(t, slow, func() { code = h.c.LeaveGroup(leave).ErrorCode })
	servesOthers(t, h, other, otherID, otherGen, 11)
	assert.Equal(t, Empty.String(), h.describe("l").State)
	held.ok()
	within(t, "LeaveGroup", func() { <-done })
	assert.Equal(t, "NONE", codeName(code))

	h.reopen()
	d := h.describe("l")
	assert.Equal(t, Empty.String(), d.State, "the empty generation replays")
	assert.Empty(t, d.Members)
	r := h.join(joinReq("l", ""), "c").get()
	require.Equal(t, "MEMBER_ID_REQUIRED", codeName(r.ErrorCode))
	jr := h.join(joinReq("l", r.MemberID), "c").get()
	require.Equal(t, "NONE", codeName(jr.ErrorCode))
	assert.Equal(t, gen+2, jr.Generation, "generations continue after the empty one")
}
