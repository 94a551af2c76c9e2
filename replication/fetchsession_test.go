package replication

import (
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/net/kerr"
)

func keys(ks []partKey) []int32 {
	var out []int32
	for _, k := range ks {
		out = append(out, k.partition)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// TestFetchSessionClient: the follower's side of KIP-227: a full request
// first, then only changed partitions and the forgotten ones; session
// errors and a leader that keeps no session make the next request full.
func TestFetchSessionClient(t *testing.T) {
	var s fetchSession
	want := map[partKey]fetchParams{{"t", 0}: {fetchOffset: 5}, {"t", 1}: {fetchOffset: 7}}
	req := kmsg.NewPtrFetchRequest()
	send, forget := s.build(req, want, false)
	assert.Equal(t, int32(0), req.SessionID)
	assert.Equal(t, int32(0), req.SessionEpoch, "full, asking for a session")
	assert.Equal(t, []int32{0, 1}, keys(send))
	assert.Empty(t, forget)
	assert.NoError(t, s.answered(&kmsg.FetchResponse{SessionID: 42}))

	// Partition 0 moved on, 1 did not, 2 is new.
	want = map[partKey]fetchParams{{"t", 0}: {fetchOffset: 6}, {"t", 1}: {fetchOffset: 7}, {"t", 2}: {fetchOffset: 0}}
	send, forget = s.build(req, want, false)
	assert.Equal(t, int32(42), req.SessionID)
	assert.Equal(t, int32(1), req.SessionEpoch)
	assert.Equal(t, []int32{0, 2}, keys(send))
	assert.Empty(t, forget)
	assert.NoError(t, s.answered(&kmsg.FetchResponse{SessionID: 42}))

	// Partition 1 no longer fetched (backing off): forgotten; a new leader
	// epoch for 2 is a change.
	want = map[partKey]fetchParams{{"t", 0}: {fetchOffset: 6}, {"t", 2}: {fetchOffset: 0, leaderEpoch: 3}}
	send, forget = s.build(req, want, false)
	assert.Equal(t, int32(2), req.SessionEpoch)
	assert.Equal(t, []int32{2}, keys(send))
	assert.Equal(t, []int32{1}, keys(forget))

	// The leader refuses the epoch: the next request is full, naming the
	// old session so that the leader closes it.
	assert.ErrorIs(t, s.answered(&kmsg.FetchResponse{ErrorCode: kerr.InvalidFetchSessionEpoch.Code}), kerr.InvalidFetchSessionEpoch)
	send, _ = s.build(req, want, false)
	assert.Equal(t, int32(42), req.SessionID)
	assert.Equal(t, int32(0), req.SessionEpoch)
	assert.Equal(t, []int32{0, 2}, keys(send))
	// The leader has no room: no session, full requests go on.
	assert.NoError(t, s.answered(&kmsg.FetchResponse{SessionID: 0}))
	s.build(req, want, false)
	assert.Equal(t, int32(0), req.SessionID)
	assert.Equal(t, int32(0), req.SessionEpoch)
	// An unknown session: full, without an id.
	assert.NoError(t, s.answered(&kmsg.FetchResponse{SessionID: 9}))
	s.build(req, want, false)
	assert.ErrorIs(t, s.answered(&kmsg.FetchResponse{ErrorCode: kerr.FetchSessionIDNotFound.Code}), kerr.FetchSessionIDNotFound)
	s.build(req, want, false)
	assert.Equal(t, int32(0), req.SessionID)
	assert.Equal(t, int32(0), req.SessionEpoch)
	// A reset while a request is out (the leader moved): its answer is
	// not taken for the new leader's session.
	s.build(req, want, false)
	s = fetchSession{}
	assert.NoError(t, s.answered(&kmsg.FetchResponse{SessionID: 77}))
	s.build(req, want, false)
	assert.Equal(t, int32(0), req.SessionID)
	assert.Equal(t, int32(0), req.SessionEpoch)
	// Sessionless: epoch -1.
	s.build(req, want, true)
	assert.Equal(t, int32(-1), req.SessionEpoch)
	assert.Equal(t, int32(1), nextSessionEpoch(1<<31-1))
}
