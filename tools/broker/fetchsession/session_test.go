package fetchsession

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strom-broker/strom/net/kerr"
)

// clock is a hand-driven clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func wanted(topic string, n int) []Wanted {
	var out []Wanted
	for i := range n {
		out = append(out, Wanted{Key: Key{Topic: topic, Partition: int32(i)}, Params: Params{FetchOffset: 10, MaxBytes: 1 << 20}})
	}
	return out
}

func quiet(n int) []Result {
	out := make([]Result, n)
	for i := range out {
		out[i] = Result{HighWatermark: 10, LogStartOffset: 0}
	}
	return out
}

// open makes a session of n partitions with a full request, returning its
// id (0 if none was created).
func open(t *testing.T, c *Cache, privileged bool, n int) int32 {
	t.Helper()
	x := c.NewContext(Request{Epoch: InitialEpoch, Privileged: privileged, Partitions: wanted("t", n)})
	require.NoError(t, x.Err())
	id, include, err := x.Respond(quiet(n))
	require.NoError(t, err)
	for _, in := range include {
		require.True(t, in, "a full answer carries every partition")
	}
	return id
}

func TestNextEpoch(t *testing.T) {
	assert.Equal(t, int32(1), NextEpoch(0))
	assert.Equal(t, int32(6), NextEpoch(5))
	assert.Equal(t, int32(1), NextEpoch(math.MaxInt32), "wraps to 1, never to the initial epoch")
	assert.Equal(t, int32(FinalEpoch), NextEpoch(-1))
}

// TestIncrementalRules: the session protocol without the network: epochs,
// only changed partitions answered, added / updated / forgotten partitions,
// and the session errors.
func TestIncrementalRules(t *testing.T) {
	clk := &clock{t: time.Unix(1000, 0)}
	c := New(Config{Slots: 10, EvictionAfter: 2 * time.Minute, Now: clk.now})
	id := open(t, c, false, 3)
	require.NotZero(t, id)

	// Epoch 1: nothing changed: nothing answered, all three read.
	x := c.NewContext(Request{SessionID: id, Epoch: 1})
	require.NoError(t, x.Err())
	require.True(t, x.Incremental())
	require.Len(t, x.Partitions(), 3)
	got, include, err := x.Respond(quiet(3))
	require.NoError(t, err)
	assert.Equal(t, id, got)
	assert.Equal(t, []bool{false, false, false}, include)

	// A replayed epoch is refused, and so is a future one.
	assert.ErrorIs(t, c.NewContext(Request{SessionID: id, Epoch: 1}).Err(), kerr.InvalidFetchSessionEpoch)
	assert.ErrorIs(t, c.NewContext(Request{SessionID: id, Epoch: 7}).Err(), kerr.InvalidFetchSessionEpoch)
	assert.ErrorIs(t, c.NewContext(Request{SessionID: id + 1, Epoch: 2}).Err(), kerr.FetchSessionIDNotFound)
	assert.ErrorIs(t, c.NewContext(Request{SessionID: id, Epoch: 2, UsesTopicIDs: true}).Err(), kerr.FetchSessionTopicIDError)

	// Epoch 2: partition 1 gets records, 2 a new HW, a new partition 3 is
	// added with a new offset for 0, partition 0's offset changes.
	x = c.NewContext(Request{SessionID: id, Epoch: 2, Partitions: []Wanted{
		{Key: Key{Topic: "t", Partition: 0}, Params: Params{FetchOffset: 11}},
		{Key: Key{Topic: "t", Partition: 3}, Params: Params{FetchOffset: 0}},
	}})
	require.NoError(t, x.Err())
	ws := x.Partitions()
	require.Len(t, ws, 4)
	res := quiet(4)
	offsets := map[int32]int64{}
	for i, w := range ws {
		offsets[w.Partition] = w.FetchOffset
		switch w.Partition {
		case 1:
			res[i].HasRecords = true
		case 2:
			res[i].HighWatermark = 12
		}
	}
	assert.Equal(t, map[int32]int64{0: 11, 1: 10, 2: 10, 3: 0}, offsets, "the session keeps each partition's latest parameters")
	_, include, err = x.Respond(res)
	require.NoError(t, err)
	answered := map[int32]bool{}
	for i, in := range include {
		if in {
			answered[ws[i].Partition] = true
		}
	}
	assert.Equal(t, map[int32]bool{1: true, 2: true, 3: true}, answered,
		"records, a changed HW and a new partition are answered; 0 (only its fetch offset changed) is not")

	// Epoch 3: an error is always answered and marks the HW unknown, so the
	// partition is answered again once the error clears.
	x = c.NewContext(Request{SessionID: id, Epoch: 3})
	ws = x.Partitions()
	res = quiet(4)
	for i, w := range ws {
		if w.Partition == 2 {
			res[i] = Result{HighWatermark: -1, LogStartOffset: -1, HasError: true}
		}
	}
	_, include, err = x.Respond(res)
	require.NoError(t, err)
	for i, w := range ws {
		assert.Equal(t, w.Partition == 2, include[i], "partition %d", w.Partition)
	}
	x = c.NewContext(Request{SessionID: id, Epoch: 4})
	ws = x.Partitions()
	res = quiet(4)
	for i, w := range ws {
		if w.Partition == 2 {
			res[i].HighWatermark = 12
		}
	}
	_, include, err = x.Respond(res)
	require.NoError(t, err)
	for i, w := range ws {
		assert.Equal(t, w.Partition == 2, include[i], "the cleared error is answered (partition %d)", w.Partition)
	}
	// Answered partitions move to the back of the session's order.
	assert.Equal(t, int32(2), ws[len(ws)-1].Partition, "partition 2 was answered last round, so it is read last")

	// Forgetting every partition closes the session: a sessionless answer.
	x = c.NewContext(Request{SessionID: id, Epoch: 5, Forgotten: []Key{
		{Topic: "t", Partition: 0}, {Topic: "t", Partition: 1}, {Topic: "t", Partition: 2}, {Topic: "t", Partition: 3}}})
	require.NoError(t, x.Err())
	got, _, err = x.Respond(nil)
	require.NoError(t, err)
	assert.Zero(t, got)
	assert.False(t, c.Has(id))

	// A full request naming a session closes it; epoch -1 creates none.
	id = open(t, c, false, 2)
	x = c.NewContext(Request{SessionID: id, Epoch: FinalEpoch, Partitions: wanted("t", 2)})
	got, _, err = x.Respond(quiet(2))
	require.NoError(t, err)
	assert.Zero(t, got)
	assert.False(t, c.Has(id))
	st := c.Stats()
	assert.Equal(t, 0, st.Sessions)
	assert.Equal(t, 0, st.Partitions)
	assert.Equal(t, int64(2), st.Created)
}

// TestDuplicateRequestRefused: two requests of the same epoch racing: the
// second to respond sees the session moved on and answers
// INVALID_FETCH_SESSION_EPOCH (IncrementalFetchContext).
func TestDuplicateRequestRefused(t *testing.T) {
	c := New(Config{Slots: 10, EvictionAfter: time.Minute})
	id := open(t, c, true, 2)
	a := c.NewContext(Request{SessionID: id, Epoch: 1})
	require.NoError(t, a.Err())
	b := c.NewContext(Request{SessionID: id, Epoch: 2}) // the next request, before a answered
	require.NoError(t, b.Err())
	_, _, err := a.Respond(quiet(2))
	assert.ErrorIs(t, err, kerr.InvalidFetchSessionEpoch)
	_, _, err = b.Respond(quiet(2))
	assert.NoError(t, err)
}

// TestEviction: Kafka's three eviction rules, with a hand-driven clock.
func TestEviction(t *testing.T) {
	const after = 2 * time.Minute
	clk := &clock{t: time.Unix(1000, 0)}
	c := New(Config{Slots: 2, EvictionAfter: after, Now: clk.now})
	small := open(t, c, false, 2)
	big := open(t, c, false, 5)
	require.NotZero(t, small)
	require.NotZero(t, big)

	// Full, both recently created: a consumer gets no session, however big.
	assert.Zero(t, open(t, c, false, 100), "recent sessions are not evictable by consumers")
	// 1. A follower may evict an unprivileged session: the smallest.
	follower := open(t, c, true, 1)
	require.NotZero(t, follower)
	assert.False(t, c.Has(small), "the smallest unprivileged session went first")
	assert.True(t, c.Has(big))
	// Now {big (consumer), follower}: another follower evicts big.
	follower2 := open(t, c, true, 1)
	require.NotZero(t, follower2)
	assert.False(t, c.Has(big))
	// Two recent follower sessions: nobody evicts them.
	assert.Zero(t, open(t, c, true, 1000))
	assert.Zero(t, open(t, c, false, 1000))

	// 2. A session unused for longer than the eviction time is stale:
	// any newcomer evicts the least recently used one.
	clk.advance(after / 2)
	use := func(id int32) {
		t.Helper()
		x := c.NewContext(Request{SessionID: id, Epoch: epochOf(c, id)})
		require.NoError(t, x.Err())
		_, _, err := x.Respond(quiet(len(x.Partitions())))
		require.NoError(t, err)
	}
	use(follower2)
	clk.advance(after/2 + time.Second)
	consumer := open(t, c, false, 1)
	require.NotZero(t, consumer)
	assert.False(t, c.Has(follower), "the stale session was evicted")
	assert.True(t, c.Has(follower2), "the recently used one stays")

	// 3. Older than the eviction time (as seen at its last use) and used
	// recently: evictable by a newcomer with more partitions only.
	clk.advance(after + time.Second)
	use(follower2) // both older than `after` now: evictable by all
	use(consumer)
	assert.Zero(t, open(t, c, false, 1), "not more partitions than the smallest evictable one")
	bigger := open(t, c, false, 3)
	require.NotZero(t, bigger, "more partitions than the consumer session's one")
	assert.False(t, c.Has(consumer), "the consumer's 1-partition session is smaller (unprivileged first)")
	assert.True(t, c.Has(follower2))
	assert.Equal(t, int64(4), c.Stats().Evicted)
}

// epochOf returns the epoch session id expects. Test helper.
func epochOf(c *Cache, id int32) int32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.sessions[id]
	if s == nil {
		panic(fmt.Sprint("no session ", id))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.epoch
}

func TestNoSlotsNoSessions(t *testing.T) {
	c := New(Config{Slots: 0, EvictionAfter: time.Minute})
	assert.Zero(t, open(t, c, true, 3))
}
