// Package storetest is the contract every store.Store implementation must
// meet, written once: an implementation's test calls RunStoreTests with a
// constructor of fresh, empty stores.
//
// Events may arrive asynchronously (ZooKeeper watches), so the suite waits
// for them with a generous deadline and never asserts on timing.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strom-broker/strom/coord/store"
)

// eventDeadline bounds how long the suite waits for an expected event. It is
// a failure deadline, not a timing assertion.
const eventDeadline = 20 * time.Second

// RunStoreTests runs the Store contract against stores made by newStore. Each
// subtest gets its own store; newStore should register cleanup (Close) with
// t.Cleanup.
func RunStoreTests(t *testing.T, newStore func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"ClusterID", testClusterID},
		{"Brokers", testBrokers},
		{"BrokerEpochs", testBrokerEpochs},
		{"Controller", testController},
		{"Fencing", testFencing},
		{"Topics", testTopics},
		{"SetAssignment", testSetAssignment},
		{"PartitionState", testPartitionState},
		{"SetPartitionStatesAtomic", testSetPartitionStates},
		{"TopicConfig", testTopicConfig},
		{"Deletion", testDeletion},
		{"ProducerIDBlocks", testProducerIDBlocks},
		{"Events", testEvents},
		{"ConcurrentCreateTopic", testConcurrentCreateTopic},
		{"ConcurrentPartitionStateCAS", testConcurrentCAS},
		{"Close", testClose},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, newStore(t)) })
	}
}

// Assignment returns a topic assignment of n partitions, replicas rotated
// over brokers, for tests.
func Assignment(name string, n int, brokers ...int32) store.TopicAssignment {
	a := store.TopicAssignment{Name: name, Partitions: make(map[int32][]int32, n)}
	for p := range n {
		r := make([]int32, len(brokers))
		for i := range brokers {
			r[i] = brokers[(p+i)%len(brokers)]
		}
		a.Partitions[int32(p)] = r
	}
	return a
}

func testClusterID(t *testing.T, s store.Store) {
	ctx := context.Background()
	id, err := s.GetOrCreateClusterID(ctx, "first-id-aaaaaaaaaaaaa")
	require.NoError(t, err)
	assert.Equal(t, "first-id-aaaaaaaaaaaaa", id)
	id, err = s.GetOrCreateClusterID(ctx, "second-id-bbbbbbbbbbbb")
	require.NoError(t, err)
	assert.Equal(t, "first-id-aaaaaaaaaaaaa", id, "an existing id wins")
}

func broker(id int32) store.BrokerInfo {
	return store.BrokerInfo{ID: id, JMXPort: -1, Timestamp: int64(1000 + id), Rack: fmt.Sprintf("r%d", id),
		Endpoints: []store.Endpoint{{Listener: "PLAINTEXT", SecurityProtocol: "PLAINTEXT", Host: "127.0.0.1", Port: 9090 + id}}}
}

func testBrokers(t *testing.T, s store.Store) {
	ctx := context.Background()
	bs, err := s.Brokers(ctx)
	require.NoError(t, err)
	assert.Empty(t, bs)

	require.NoError(t, s.RegisterBroker(ctx, broker(2)))
	require.NoError(t, s.RegisterBroker(ctx, broker(1)))
	assert.ErrorIs(t, s.RegisterBroker(ctx, broker(1)), store.ErrBrokerExists)

	bs, err = s.Brokers(ctx)
	require.NoError(t, err)
	assert.Equal(t, []store.BrokerInfo{broker(1), broker(2)}, withoutEpochs(bs), "sorted by id, all fields kept")
	b, err := s.Broker(ctx, 2)
	require.NoError(t, err)
	assert.Equal(t, broker(2), withoutEpochs([]store.BrokerInfo{b})[0])
	_, err = s.Broker(ctx, 3)
	assert.ErrorIs(t, err, store.ErrUnknownBroker)

	require.NoError(t, s.UnregisterBroker(ctx, 1))
	assert.ErrorIs(t, s.UnregisterBroker(ctx, 1), store.ErrUnknownBroker)
	bs, err = s.Brokers(ctx)
	require.NoError(t, err)
	assert.Equal(t, []store.BrokerInfo{broker(2)}, withoutEpochs(bs))
	// The id is free again.
	require.NoError(t, s.RegisterBroker(ctx, broker(1)))
}

// withoutEpochs returns bs with the store-assigned broker epochs zeroed.
func withoutEpochs(bs []store.BrokerInfo) []store.BrokerInfo {
	out := make([]store.BrokerInfo, len(bs))
	for i, b := range bs {
		b.Epoch = 0
		out[i] = b
	}
	return out
}

func testBrokerEpochs(t *testing.T, s store.Store) {
	ctx := context.Background()
	in := broker(1)
	in.Epoch = 12345 // ignored on write
	require.NoError(t, s.RegisterBroker(ctx, in))
	require.NoError(t, s.RegisterBroker(ctx, broker(2)))
	b1, err := s.Broker(ctx, 1)
	require.NoError(t, err)
	b2, err := s.Broker(ctx, 2)
	require.NoError(t, err)
	assert.Positive(t, b1.Epoch)
	assert.Greater(t, b2.Epoch, b1.Epoch, "a later registration has a larger epoch")
	bs, err := s.Brokers(ctx)
	require.NoError(t, err)
	assert.Equal(t, []int64{b1.Epoch, b2.Epoch}, []int64{bs[0].Epoch, bs[1].Epoch}, "Brokers reports the same epochs")

	// A bounce of broker 1 gives it a new, larger epoch.
	require.NoError(t, s.UnregisterBroker(ctx, 1))
	require.NoError(t, s.RegisterBroker(ctx, broker(1)))
	again, err := s.Broker(ctx, 1)
	require.NoError(t, err)
	assert.Greater(t, again.Epoch, b2.Epoch)
}

// testFencing: a view fenced by an old controller epoch can write nothing
// once another controller was elected; the new controller's view can.
func testFencing(t *testing.T, s store.Store) {
	ctx := context.Background()
	require.NoError(t, s.CreateTopic(ctx, Assignment("t", 2, 1, 2), nil))
	tp := store.TopicPartition{Topic: "t", Partition: 0}
	e1, err := s.TryBecomeController(ctx, 1)
	require.NoError(t, err)
	old := s.Fenced(e1)
	v, err := old.SetPartitionState(ctx, tp, store.PartitionState{Leader: 1, ISR: []int32{1}, ControllerEpoch: e1}, store.NewVersion)
	require.NoError(t, err, "the current controller's view writes")
	require.NoError(t, old.CreateTopic(ctx, Assignment("by-first", 1, 1), nil))

	require.NoError(t, s.ResignController(ctx, 1))
	e2, err := s.TryBecomeController(ctx, 2)
	require.NoError(t, err)
	cur := s.Fenced(e2)

	moved := func(err error, what string) {
		t.Helper()
		assert.ErrorIs(t, err, store.ErrControllerMoved, "%s by the deposed controller", what)
	}
	_, err = old.SetPartitionState(ctx, tp, store.PartitionState{Leader: 2, LeaderEpoch: 1, ISR: []int32{2}, ControllerEpoch: e1}, v)
	moved(err, "SetPartitionState")
	_, err = old.SetPartitionStates(ctx, []store.PartitionStateUpdate{{Partition: store.TopicPartition{Topic: "t", Partition: 1},
		State: store.PartitionState{Leader: 2, ISR: []int32{2}}, ExpectedVersion: store.NewVersion}})
	moved(err, "SetPartitionStates")
	moved(old.CreateTopic(ctx, Assignment("late", 1, 1), nil), "CreateTopic")
	_, err = old.SetAssignment(ctx, Assignment("t", 3, 1, 2), 0)
	moved(err, "SetAssignment")
	moved(old.SetTopicConfig(ctx, "t", map[string]string{"a": "b"}), "SetTopicConfig")
	moved(old.MarkTopicForDeletion(ctx, "t"), "MarkTopicForDeletion")
	moved(old.DeleteTopic(ctx, "by-first"), "DeleteTopic")
	moved(old.RegisterBroker(ctx, broker(7)), "RegisterBroker")
	moved(old.ResignController(ctx, 2), "ResignController")
	_, err = old.AllocateProducerIDBlock(ctx, 1, 10)
	moved(err, "AllocateProducerIDBlock")
	require.NoError(t, old.Close(), "closing a view does nothing")

	// Nothing the deposed controller tried landed.
	st, err := s.PartitionState(ctx, tp)
	require.NoError(t, err)
	assert.Equal(t, int32(1), st.Leader)
	assert.Equal(t, v, st.Version)
	_, err = s.PartitionState(ctx, store.TopicPartition{Topic: "t", Partition: 1})
	assert.ErrorIs(t, err, store.ErrNoPartitionState)
	names, err := s.Topics(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"by-first", "t"}, names)
	a, err := s.Topic(ctx, "t")
	require.NoError(t, err)
	assert.Equal(t, int32(2), a.NumPartitions())
	cfg, err := s.TopicConfig(ctx, "t")
	require.NoError(t, err)
	assert.Empty(t, cfg)
	marked, err := s.TopicsMarkedForDeletion(ctx)
	require.NoError(t, err)
	assert.Empty(t, marked)
	_, err = s.Broker(ctx, 7)
	assert.ErrorIs(t, err, store.ErrUnknownBroker)
	c, err := s.Controller(ctx)
	require.NoError(t, err)
	assert.Equal(t, store.ControllerInfo{BrokerID: 2, Epoch: e2}, c)

	// The current controller's view writes, and reads work through any view.
	_, err = cur.SetPartitionState(ctx, tp, store.PartitionState{Leader: 2, LeaderEpoch: 1, ISR: []int32{2}, ControllerEpoch: e2}, v)
	require.NoError(t, err)
	st, err = old.PartitionState(ctx, tp)
	require.NoError(t, err)
	assert.Equal(t, int32(2), st.Leader)
	require.NoError(t, cur.DeleteTopic(ctx, "by-first"))
	require.NoError(t, cur.ResignController(ctx, 2))
	_, err = s.Controller(ctx)
	assert.ErrorIs(t, err, store.ErrNoController)
}

func testController(t *testing.T, s store.Store) {
	ctx := context.Background()
	_, err := s.Controller(ctx)
	assert.ErrorIs(t, err, store.ErrNoController)

	e1, err := s.TryBecomeController(ctx, 1)
	require.NoError(t, err)
	assert.Positive(t, e1)
	c, err := s.Controller(ctx)
	require.NoError(t, err)
	assert.Equal(t, store.ControllerInfo{BrokerID: 1, Epoch: e1}, c)

	_, err = s.TryBecomeController(ctx, 2)
	assert.ErrorIs(t, err, store.ErrControllerExists)
	_, err = s.TryBecomeController(ctx, 1)
	assert.ErrorIs(t, err, store.ErrControllerExists, "re-election needs a resignation first")
	assert.ErrorIs(t, s.ResignController(ctx, 2), store.ErrNotController)

	require.NoError(t, s.ResignController(ctx, 1))
	_, err = s.Controller(ctx)
	assert.ErrorIs(t, err, store.ErrNoController)
	e2, err := s.TryBecomeController(ctx, 2)
	require.NoError(t, err)
	assert.Equal(t, e1+1, e2, "every election bumps the epoch by one")
}

func testTopics(t *testing.T, s store.Store) {
	ctx := context.Background()
	id, err := store.NewUUID()
	require.NoError(t, err)
	a := Assignment("orders", 3, 1, 2)
	a.ID = id
	require.NoError(t, s.CreateTopic(ctx, a, map[string]string{"retention.ms": "1000"}))
	require.NoError(t, s.CreateTopic(ctx, Assignment("audit", 1, 1), nil))

	err = s.CreateTopic(ctx, Assignment("orders", 1, 3), nil)
	assert.ErrorIs(t, err, store.ErrTopicExists)

	got, err := s.Topic(ctx, "orders")
	require.NoError(t, err)
	assert.Equal(t, id, got.ID)
	assert.Equal(t, a.Partitions, got.Partitions)
	assert.Equal(t, int32(0), got.Version)
	assert.Equal(t, int32(3), got.NumPartitions())

	// The returned value is a copy.
	got.Partitions[0][0] = 99
	again, err := s.Topic(ctx, "orders")
	require.NoError(t, err)
	assert.Equal(t, a.Partitions, again.Partitions)

	names, err := s.Topics(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"audit", "orders"}, names)

	_, err = s.Topic(ctx, "missing")
	assert.ErrorIs(t, err, store.ErrUnknownTopic)

	cfg, err := s.TopicConfig(ctx, "orders")
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"retention.ms": "1000"}, cfg)
	cfg, err = s.TopicConfig(ctx, "audit")
	require.NoError(t, err)
	assert.NotNil(t, cfg)
	assert.Empty(t, cfg)
}

func testSetAssignment(t *testing.T, s store.Store) {
	ctx := context.Background()
	require.NoError(t, s.CreateTopic(ctx, Assignment("t", 1, 1), nil))
	grown := Assignment("t", 3, 1)
	v, err := s.SetAssignment(ctx, grown, 0)
	require.NoError(t, err)
	assert.Equal(t, int32(1), v)

	_, err = s.SetAssignment(ctx, Assignment("t", 5, 1), 0)
	assert.ErrorIs(t, err, store.ErrBadVersion)
	got, err := s.Topic(ctx, "t")
	require.NoError(t, err)
	assert.Equal(t, grown.Partitions, got.Partitions, "a failed CAS changes nothing")
	assert.Equal(t, int32(1), got.Version)

	_, err = s.SetAssignment(ctx, Assignment("nope", 1, 1), 0)
	assert.ErrorIs(t, err, store.ErrUnknownTopic)
}

func testPartitionState(t *testing.T, s store.Store) {
	ctx := context.Background()
	require.NoError(t, s.CreateTopic(ctx, Assignment("t", 2, 1, 2), nil))
	tp := store.TopicPartition{Topic: "t", Partition: 0}

	_, err := s.PartitionState(ctx, tp)
	assert.ErrorIs(t, err, store.ErrNoPartitionState)
	_, err = s.PartitionState(ctx, store.TopicPartition{Topic: "x", Partition: 0})
	assert.ErrorIs(t, err, store.ErrUnknownTopic)

	st := store.PartitionState{Leader: 1, LeaderEpoch: 0, ISR: []int32{1, 2}, ControllerEpoch: 1, Version: 42}
	v, err := s.SetPartitionState(ctx, tp, st, store.NewVersion)
	require.NoError(t, err)
	assert.Equal(t, int32(0), v)
	_, err = s.SetPartitionState(ctx, tp, st, store.NewVersion)
	assert.ErrorIs(t, err, store.ErrBadVersion, "create of an existing state")

	got, err := s.PartitionState(ctx, tp)
	require.NoError(t, err)
	st.Version = 0
	assert.Equal(t, st, got, "Version on write is ignored; read gives the znode version")

	next := store.PartitionState{Leader: 2, LeaderEpoch: 1, ISR: []int32{2}, ControllerEpoch: 1}
	v, err = s.SetPartitionState(ctx, tp, next, 0)
	require.NoError(t, err)
	assert.Equal(t, int32(1), v)

	stale := store.PartitionState{Leader: 1, LeaderEpoch: 1, ISR: []int32{1}, ControllerEpoch: 1}
	_, err = s.SetPartitionState(ctx, tp, stale, 0)
	assert.ErrorIs(t, err, store.ErrBadVersion)
	got, err = s.PartitionState(ctx, tp)
	require.NoError(t, err)
	next.Version = 1
	assert.Equal(t, next, got, "a failed CAS changes nothing")

	_, err = s.SetPartitionState(ctx, store.TopicPartition{Topic: "t", Partition: 1}, st, 0)
	assert.ErrorIs(t, err, store.ErrNoPartitionState, "conditional set of a missing state")
	_, err = s.SetPartitionState(ctx, store.TopicPartition{Topic: "t", Partition: 7}, st, store.NewVersion)
	assert.ErrorIs(t, err, store.ErrUnknownPartition)
	_, err = s.SetPartitionState(ctx, store.TopicPartition{Topic: "x", Partition: 0}, st, store.NewVersion)
	assert.ErrorIs(t, err, store.ErrUnknownTopic)

	all, err := s.PartitionStates(ctx, "t")
	require.NoError(t, err)
	assert.Equal(t, map[int32]store.PartitionState{0: next}, all)
	_, err = s.PartitionStates(ctx, "x")
	assert.ErrorIs(t, err, store.ErrUnknownTopic)
}

func testSetPartitionStates(t *testing.T, s store.Store) {
	ctx := context.Background()
	require.NoError(t, s.CreateTopic(ctx, Assignment("t", 3, 1, 2), nil))
	tp := func(p int32) store.TopicPartition { return store.TopicPartition{Topic: "t", Partition: p} }
	st := func(leader int32) store.PartitionState {
		return store.PartitionState{Leader: leader, ISR: []int32{leader}}
	}

	vs, err := s.SetPartitionStates(ctx, []store.PartitionStateUpdate{
		{Partition: tp(0), State: st(1), ExpectedVersion: store.NewVersion},
		{Partition: tp(1), State: st(2), ExpectedVersion: store.NewVersion},
	})
	require.NoError(t, err)
	assert.Equal(t, []int32{0, 0}, vs)

	// One stale version fails the whole batch.
	_, err = s.SetPartitionStates(ctx, []store.PartitionStateUpdate{
		{Partition: tp(2), State: st(1), ExpectedVersion: store.NewVersion},
		{Partition: tp(0), State: st(2), ExpectedVersion: 0},
		{Partition: tp(1), State: st(1), ExpectedVersion: 7},
	})
	assert.ErrorIs(t, err, store.ErrBadVersion)
	all, err := s.PartitionStates(ctx, "t")
	require.NoError(t, err)
	assert.Len(t, all, 2, "partition 2 was not created")
	assert.Equal(t, int32(1), all[0].Leader, "partition 0 was not changed")
	assert.Equal(t, int32(0), all[0].Version)

	_, err = s.SetPartitionStates(ctx, []store.PartitionStateUpdate{
		{Partition: tp(2), State: st(1), ExpectedVersion: store.NewVersion},
		{Partition: tp(2), State: st(2), ExpectedVersion: 0},
	})
	assert.ErrorIs(t, err, store.ErrInvalidArgument, "a partition may appear once")

	vs, err = s.SetPartitionStates(ctx, []store.PartitionStateUpdate{
		{Partition: tp(0), State: st(2), ExpectedVersion: 0},
		{Partition: tp(2), State: st(1), ExpectedVersion: store.NewVersion},
	})
	require.NoError(t, err)
	assert.Equal(t, []int32{1, 0}, vs)
	vs, err = s.SetPartitionStates(ctx, nil)
	require.NoError(t, err)
	assert.Empty(t, vs)
}

func testTopicConfig(t *testing.T, s store.Store) {
	ctx := context.Background()
	require.NoError(t, s.CreateTopic(ctx, Assignment("t", 1, 1), map[string]string{"a": "1", "b": "2"}))
	in := map[string]string{"b": "3", "cleanup.policy": "compact"}
	require.NoError(t, s.SetTopicConfig(ctx, "t", in))
	in["b"] = "mutated after the call"
	got, err := s.TopicConfig(ctx, "t")
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"b": "3", "cleanup.policy": "compact"}, got, "replaced, not merged; copied")

	assert.ErrorIs(t, s.SetTopicConfig(ctx, "x", in), store.ErrUnknownTopic)
	_, err = s.TopicConfig(ctx, "x")
	assert.ErrorIs(t, err, store.ErrUnknownTopic)
}

func testDeletion(t *testing.T, s store.Store) {
	ctx := context.Background()
	require.NoError(t, s.CreateTopic(ctx, Assignment("t", 2, 1), map[string]string{"x": "y"}))
	require.NoError(t, s.CreateTopic(ctx, Assignment("keep", 1, 1), nil))
	tp := store.TopicPartition{Topic: "t", Partition: 1}
	_, err := s.SetPartitionState(ctx, tp, store.PartitionState{Leader: 1, ISR: []int32{1}}, store.NewVersion)
	require.NoError(t, err)

	assert.ErrorIs(t, s.MarkTopicForDeletion(ctx, "x"), store.ErrUnknownTopic)
	require.NoError(t, s.MarkTopicForDeletion(ctx, "t"))
	require.NoError(t, s.MarkTopicForDeletion(ctx, "t"), "idempotent")
	marked, err := s.TopicsMarkedForDeletion(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"t"}, marked)
	assert.ErrorIs(t, s.CreateTopic(ctx, Assignment("t", 1, 1), nil), store.ErrTopicExists,
		"a topic being deleted still exists")

	require.NoError(t, s.DeleteTopic(ctx, "t"))
	assert.ErrorIs(t, s.DeleteTopic(ctx, "t"), store.ErrUnknownTopic)
	_, err = s.Topic(ctx, "t")
	assert.ErrorIs(t, err, store.ErrUnknownTopic)
	_, err = s.PartitionState(ctx, tp)
	assert.ErrorIs(t, err, store.ErrUnknownTopic)
	_, err = s.TopicConfig(ctx, "t")
	assert.ErrorIs(t, err, store.ErrUnknownTopic)
	marked, err = s.TopicsMarkedForDeletion(ctx)
	require.NoError(t, err)
	assert.Empty(t, marked)
	names, err := s.Topics(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"keep"}, names)

	// Re-creating starts from nothing.
	require.NoError(t, s.CreateTopic(ctx, Assignment("t", 2, 1), nil))
	_, err = s.PartitionState(ctx, tp)
	assert.ErrorIs(t, err, store.ErrNoPartitionState)
	cfg, err := s.TopicConfig(ctx, "t")
	require.NoError(t, err)
	assert.Empty(t, cfg)
}

func testProducerIDBlocks(t *testing.T, s store.Store) {
	ctx := context.Background()
	_, err := s.AllocateProducerIDBlock(ctx, 1, 0)
	assert.ErrorIs(t, err, store.ErrInvalidArgument)

	b1, err := s.AllocateProducerIDBlock(ctx, 1, 1000)
	require.NoError(t, err)
	assert.Equal(t, int32(1), b1.BrokerID)
	assert.Equal(t, int64(999), b1.End-b1.Start)
	assert.GreaterOrEqual(t, b1.Start, int64(0))
	b2, err := s.AllocateProducerIDBlock(ctx, 2, 10)
	require.NoError(t, err)
	assert.Equal(t, b1.End+1, b2.Start, "blocks are consecutive")
	assert.Equal(t, b2.Start+9, b2.End)

	// Concurrent allocations never overlap.
	const n = 8
	blocks := make([]store.ProducerIDBlock, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			b, err := s.AllocateProducerIDBlock(ctx, int32(i), 5)
			assert.NoError(t, err)
			blocks[i] = b
		})
	}
	wg.Wait()
	slices.SortFunc(blocks, func(a, b store.ProducerIDBlock) int { return int(a.Start - b.Start) })
	for i, b := range blocks {
		assert.Equal(t, int64(4), b.End-b.Start)
		if i > 0 {
			assert.Greater(t, b.Start, blocks[i-1].End)
		} else {
			assert.Greater(t, b.Start, b2.End)
		}
	}
}

// waitFor drains sub until every event in want has been seen and returns all
// events seen.
func waitFor(t *testing.T, sub *store.Subscription, want ...store.Event) []store.Event {
	t.Helper()
	var seen []store.Event
	deadline := time.NewTimer(eventDeadline)
	defer deadline.Stop()
	for {
		missing := false
		for _, w := range want {
			if !slices.Contains(seen, w) {
				missing = true
			}
		}
		if !missing {
			return seen
		}
		select {
		case _, ok := <-sub.Ready():
			seen = append(seen, sub.Drain()...)
			if !ok {
				require.Failf(t, "subscription closed", "seen %v, want %v", seen, want)
			}
		case <-deadline.C:
			require.Failf(t, "events not delivered", "seen %v, want %v", seen, want)
		}
	}
}

func testEvents(t *testing.T, s store.Store) {
	ctx := context.Background()
	all := s.Subscribe()
	defer all.Close()
	topicsOnly := s.Subscribe(store.EventTopic)
	defer topicsOnly.Close()

	require.NoError(t, s.RegisterBroker(ctx, broker(1)))
	_, err := s.TryBecomeController(ctx, 1)
	require.NoError(t, err)
	require.NoError(t, s.CreateTopic(ctx, Assignment("t", 1, 1), nil))
	tp := store.TopicPartition{Topic: "t", Partition: 0}
	_, err = s.SetPartitionState(ctx, tp, store.PartitionState{Leader: 1, ISR: []int32{1}}, store.NewVersion)
	require.NoError(t, err)
	require.NoError(t, s.SetTopicConfig(ctx, "t", map[string]string{"a": "b"}))
	require.NoError(t, s.MarkTopicForDeletion(ctx, "t"))
	require.NoError(t, s.UnregisterBroker(ctx, 1))

	waitFor(t, all,
		store.Event{Kind: store.EventBrokers},
		store.Event{Kind: store.EventController},
		store.Event{Kind: store.EventTopic, Topic: "t"},
		store.Event{Kind: store.EventPartitionState, Topic: "t", Partition: 0},
		store.Event{Kind: store.EventTopicConfig, Topic: "t"},
		store.Event{Kind: store.EventTopicDeletion, Topic: "t"},
	)

	require.NoError(t, s.DeleteTopic(ctx, "t"))
	require.NoError(t, s.CreateTopic(ctx, Assignment("u", 1, 1), nil))
	seen := waitFor(t, topicsOnly,
		store.Event{Kind: store.EventTopic, Topic: "t"},
		store.Event{Kind: store.EventTopic, Topic: "u"})
	for _, ev := range seen {
		assert.Equal(t, store.EventTopic, ev.Kind, "filtered subscription got %v", ev)
	}

	// A closed subscription gets nothing more and its channel is closed.
	topicsOnly.Close()
	require.NoError(t, s.CreateTopic(ctx, Assignment("v", 1, 1), nil))
	waitFor(t, all, store.Event{Kind: store.EventTopic, Topic: "v"})
	for range topicsOnly.Ready() {
		// Drain until closed.
	}
	assert.Empty(t, topicsOnly.Drain())
}

func testConcurrentCreateTopic(t *testing.T, s store.Store) {
	ctx := context.Background()
	const n = 16
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errs[i] = s.CreateTopic(ctx, Assignment("race", i%4+1, int32(i)), nil)
		})
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		if err == nil {
			wins++
			continue
		}
		assert.ErrorIs(t, err, store.ErrTopicExists)
	}
	assert.Equal(t, 1, wins, "exactly one creator wins")
}

func testConcurrentCAS(t *testing.T, s store.Store) {
	ctx := context.Background()
	require.NoError(t, s.CreateTopic(ctx, Assignment("t", 1, 1), nil))
	tp := store.TopicPartition{Topic: "t", Partition: 0}
	_, err := s.SetPartitionState(ctx, tp, store.PartitionState{Leader: 1, ISR: []int32{1}}, store.NewVersion)
	require.NoError(t, err)

	// Each worker bumps the leader epoch k times by read-modify-CAS; no
	// increment may be lost.
	const workers, k = 4, 10
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for done := 0; done < k; {
				cur, err := s.PartitionState(ctx, tp)
				if !assert.NoError(t, err) {
					return
				}
				cur.LeaderEpoch++
				_, err = s.SetPartitionState(ctx, tp, cur, cur.Version)
				switch {
				case err == nil:
					done++
				case errors.Is(err, store.ErrBadVersion):
				default:
					assert.NoError(t, err)
					return
				}
			}
		})
	}
	wg.Wait()
	got, err := s.PartitionState(ctx, tp)
	require.NoError(t, err)
	assert.Equal(t, int32(workers*k), got.LeaderEpoch)
	assert.Equal(t, int32(workers*k), got.Version)
}

func testClose(t *testing.T, s store.Store) {
	ctx := context.Background()
	sub := s.Subscribe()
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "idempotent")
	_, err := s.Topics(ctx)
	assert.ErrorIs(t, err, store.ErrClosed)
	assert.ErrorIs(t, s.CreateTopic(ctx, Assignment("t", 1, 1), nil), store.ErrClosed)
	_, err = s.AllocateProducerIDBlock(ctx, 1, 1)
	assert.ErrorIs(t, err, store.ErrClosed)
	_, open := <-sub.Ready()
	for open {
		_, open = <-sub.Ready()
	}
	_, open = <-s.Subscribe().Ready()
	assert.False(t, open, "subscribing to a closed store gives a closed subscription")
}
