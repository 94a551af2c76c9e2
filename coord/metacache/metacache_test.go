package metacache

import (
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strom-broker/strom/coord/store"
)

func broker(id int32, listeners ...string) store.BrokerInfo {
	b := store.BrokerInfo{ID: id, Rack: "r" + string(rune('0'+id)), JMXPort: -1}
	for i, l := range listeners {
		b.Endpoints = append(b.Endpoints, store.Endpoint{Listener: l, SecurityProtocol: "PLAINTEXT",
			Host: "127.0.0." + string(rune('0'+id)), Port: int32(9090 + 10*int(id) + i)})
	}
	return b
}

func state(topic string, p, leader, epoch int32, replicas ...int32) PartitionState {
	return PartitionState{Topic: topic, Partition: p, Leader: leader, LeaderEpoch: epoch,
		ISR: replicas, Replicas: replicas, ControllerEpoch: 1}
}

func uuid(t *testing.T) store.UUID {
	t.Helper()
	u, err := store.NewUUID()
	require.NoError(t, err)
	return u
}

func TestApplyPartialUpdatesKeepUnnamedPartitions(t *testing.T) {
	c := New()
	_, known := c.Snapshot().Controller()
	assert.False(t, known, "a new cache knows no controller")
	id := uuid(t)
	c.Apply(Update{ControllerID: 1, ControllerEpoch: 1, BrokerEpoch: -1,
		LiveBrokers: []store.BrokerInfo{broker(1, "PLAINTEXT"), broker(2, "PLAINTEXT")},
		TopicIDs:    map[string]store.UUID{"a": id},
		Partitions:  []PartitionState{state("a", 0, 1, 0, 1, 2), state("a", 1, 2, 0, 2, 1)}})

	// A second update names only partition 1 and drops broker 2.
	c.Apply(Update{ControllerID: 1, ControllerEpoch: 1, BrokerEpoch: -1,
		LiveBrokers: []store.BrokerInfo{broker(1, "PLAINTEXT")},
		Partitions:  []PartitionState{state("a", 1, 1, 1, 2, 1)}})

	s := c.Snapshot()
	ctrl, ok := s.Controller()
	assert.True(t, ok)
	assert.Equal(t, int32(1), ctrl)
	assert.Equal(t, []string{"a"}, s.Topics())
	p0, ok := s.Partition("a", 0)
	require.True(t, ok, "partition 0 was not named by the second update and must stay")
	assert.Equal(t, int32(1), p0.Leader)
	p1, _ := s.Partition("a", 1)
	assert.Equal(t, int32(1), p1.Leader)
	assert.Equal(t, int32(1), p1.LeaderEpoch)
	assert.Equal(t, id, s.TopicID("a"), "an update without ids keeps the known ids")
	name, ok := s.TopicName(id)
	assert.True(t, ok)
	assert.Equal(t, "a", name)
	assert.True(t, s.Alive(1))
	assert.False(t, s.Alive(2), "the live broker list is replaced wholesale")
}

func TestDeletionMarkerRemovesPartitionsAndTopicID(t *testing.T) {
	c := New()
	id := uuid(t)
	c.Apply(Update{ControllerID: 1, TopicIDs: map[string]store.UUID{"a": id},
		LiveBrokers: []store.BrokerInfo{broker(1, "PLAINTEXT")},
		Partitions:  []PartitionState{state("a", 0, 1, 0, 1), state("a", 1, 1, 0, 1), state("b", 0, 1, 0, 1)}})

	removed := c.Apply(Update{ControllerID: 1, LiveBrokers: []store.BrokerInfo{broker(1, "PLAINTEXT")},
		Partitions: []PartitionState{
			{Topic: "a", Partition: 0, Leader: LeaderDuringDelete},
			{Topic: "a", Partition: 1, Leader: LeaderDuringDelete},
			{Topic: "zz", Partition: 0, Leader: LeaderDuringDelete}, // never cached: nothing removed
		}})
	assert.ElementsMatch(t, []store.TopicPartition{{Topic: "a", Partition: 0}, {Topic: "a", Partition: 1}}, removed)
	s := c.Snapshot()
	assert.False(t, s.HasTopic("a"))
	assert.False(t, s.HasTopic("zz"), "a deletion marker never creates a topic")
	assert.Equal(t, []string{"b"}, s.Topics())
	assert.True(t, s.TopicID("a").IsZero(), "a deleted topic's id is forgotten")
	_, ok := s.TopicName(id)
	assert.False(t, ok)
}

func TestZeroTopicIDForgetsID(t *testing.T) {
	c := New()
	id := uuid(t)
	c.Apply(Update{TopicIDs: map[string]store.UUID{"a": id}, Partitions: []PartitionState{state("a", 0, 1, 0, 1)}})
	c.Apply(Update{TopicIDs: map[string]store.UUID{"a": {}}})
	assert.True(t, c.Snapshot().TopicID("a").IsZero())
	assert.True(t, c.Snapshot().HasTopic("a"))
}

func TestSnapshotsAreImmutable(t *testing.T) {
	c := New()
	isr := []int32{1, 2}
	st := state("a", 0, 1, 0, 1, 2)
	st.ISR = isr
	c.Apply(Update{LiveBrokers: []store.BrokerInfo{broker(1, "PLAINTEXT")}, Partitions: []PartitionState{st}})
	before := c.Snapshot()
	isr[0] = 99 // the caller's slice is not the cache's
	got, _ := before.Partition("a", 0)
	got.Replicas[0] = 77 // nor is a reader's copy
	c.Apply(Update{Partitions: []PartitionState{state("a", 0, 2, 1, 2)}})

	old, _ := before.Partition("a", 0)
	assert.Equal(t, []int32{1, 2}, old.ISR)
	assert.Equal(t, []int32{1, 2}, old.Replicas)
	assert.Equal(t, int32(1), old.Leader, "an older snapshot does not see later updates")
	assert.True(t, before.Alive(1))
	cur, _ := c.Snapshot().Partition("a", 0)
	assert.Equal(t, int32(2), cur.Leader)
}

func TestNodesByListener(t *testing.T) {
	c := New()
	c.Apply(Update{LiveBrokers: []store.BrokerInfo{broker(2, "INTERNAL", "EXTERNAL"), broker(1, "INTERNAL")}})
	s := c.Snapshot()
	n, ok := s.Node(2, "EXTERNAL")
	require.True(t, ok)
	assert.Equal(t, Node{ID: 2, Host: "127.0.0.2", Port: 9111, Rack: "r2"}, n)
	_, ok = s.Node(1, "EXTERNAL")
	assert.False(t, ok)
	assert.Equal(t, []int32{1, 2}, ids(s.Nodes("INTERNAL")))
	assert.Equal(t, []int32{2}, ids(s.Nodes("EXTERNAL")))
	assert.Equal(t, []int32{1, 2}, brokerIDs(s.Brokers()))
}

func ids(ns []Node) []int32 {
	var out []int32
	for _, n := range ns {
		out = append(out, n.ID)
	}
	return out
}

func brokerIDs(bs []store.BrokerInfo) []int32 {
	var out []int32
	for _, b := range bs {
		out = append(out, b.ID)
	}
	return out
}

func TestAvailability(t *testing.T) {
	c := New()
	c.Apply(Update{LiveBrokers: []store.BrokerInfo{broker(1, "A", "B"), broker(2, "A")}})
	s := c.Snapshot()
	for _, tc := range []struct {
		name     string
		st       PartitionState
		listener string
		want     Availability
	}{
		{"all live", state("t", 0, 1, 0, 1, 2), "A", Available},
		{"no leader", state("t", 0, store.NoLeader, 0, 1, 2), "A", LeaderNotAvailable},
		{"leader dead", state("t", 0, 3, 0, 3, 1), "A", LeaderNotAvailable},
		{"leader lacks listener", state("t", 0, 2, 0, 2, 1), "B", ListenerNotFound},
		{"replica lacks listener", state("t", 0, 1, 0, 1, 2), "B", ReplicaNotAvailable},
		{"replica dead", state("t", 0, 1, 0, 1, 3), "A", ReplicaNotAvailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, s.Availability(tc.st, tc.listener))
		})
	}
}

func TestFence(t *testing.T) {
	f := NewFence(100)
	assert.Equal(t, int32(-1), f.ControllerEpoch())
	require.NoError(t, f.Check(3, 100))
	require.NoError(t, f.Check(3, -1), "broker epoch -1 is not checked; the same controller epoch is accepted again")
	require.NoError(t, f.Check(4, 150), "a newer broker epoch than ours is accepted (Kafka only refuses older)")
	assert.Equal(t, int32(4), f.ControllerEpoch())

	err := f.Check(3, 100)
	assert.True(t, errors.Is(err, ErrStaleControllerEpoch), "got %v", err)
	assert.Equal(t, int32(4), f.ControllerEpoch(), "a refused request does not lower the epoch")

	f.SetBrokerEpoch(200) // re-registered after a session expiry
	err = f.Check(5, 100)
	assert.True(t, errors.Is(err, ErrStaleBrokerEpoch), "got %v", err)
	assert.Equal(t, int32(4), f.ControllerEpoch(), "a request for an older incarnation does not raise the controller epoch")
	require.NoError(t, f.Check(5, 200))
}

// TestConcurrentReadersSeeWholeUpdates runs readers against a writer that
// moves two partitions' leaders together; a reader must never see one moved
// and the other not (run with -race).
func TestConcurrentReadersSeeWholeUpdates(t *testing.T) {
	c := New()
	c.Apply(Update{Partitions: []PartitionState{state("t", 0, 0, 0, 0), state("t", 1, 0, 0, 0)}})
	var wg sync.WaitGroup
	stop := make(chan struct{})
	torn := make(chan string, 1)
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				s := c.Snapshot()
				a, _ := s.Partition("t", 0)
				b, _ := s.Partition("t", 1)
				if a.LeaderEpoch != b.LeaderEpoch {
					select {
					case torn <- "torn snapshot":
					default:
					}
					return
				}
			}
		}()
	}
	for e := int32(1); e <= 2000; e++ {
		c.Apply(Update{Partitions: []PartitionState{state("t", 0, e%3, e, 0), state("t", 1, e%3, e, 0)}})
	}
	close(stop)
	wg.Wait()
	select {
	case msg := <-torn:
		t.Fatal(msg)
	default:
	}
	last, _ := c.Snapshot().Partition("t", 1)
	assert.Equal(t, int32(2000), last.LeaderEpoch)
}
