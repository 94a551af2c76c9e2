package zkstore_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strom-broker/strom/coord/store"
	"github.com/strom-broker/strom/coord/store/storetest"
	"github.com/strom-broker/strom/coord/zkstore"
	"github.com/strom-broker/strom/coord/zktest"
)

func brokerInfo(id int32) store.BrokerInfo {
	return store.BrokerInfo{ID: id, JMXPort: -1, Timestamp: 1700000000000,
		Endpoints: []store.Endpoint{{Listener: "PLAINTEXT", SecurityProtocol: "PLAINTEXT", Host: "127.0.0.1", Port: 9000 + id}}}
}

// TestDeposedControllerIsFenced: two brokers' stores (two sessions); the
// first controller loses /controller, a second is elected, and every write
// of the first controller's fenced view fails and changes nothing.
func TestDeposedControllerIsFenced(t *testing.T) {
	ctx := context.Background()
	a, root := openChroot(t)
	b := open(t, ens.Connect()+root, sessionTimeout)
	c := plainClient(t)
	require.NoError(t, a.CreateTopic(ctx, storetest.Assignment("t", 2, 1, 2), nil))

	e1, err := a.TryBecomeController(ctx, 1)
	require.NoError(t, err)
	fa := a.Fenced(e1)
	tp := store.TopicPartition{Topic: "t", Partition: 0}
	_, err = fa.SetPartitionState(ctx, tp, store.PartitionState{Leader: 1, ISR: []int32{1, 2}, ControllerEpoch: e1}, store.NewVersion)
	require.NoError(t, err)

	// Broker 1's control is taken away (as when its session expires; see
	// TestSessionExpiry) and broker 2 wins the next election.
	require.NoError(t, c.Delete(root+"/controller", -1))
	syncStore(t, b)
	e2, err := b.TryBecomeController(ctx, 2)
	require.NoError(t, err)
	require.Equal(t, e1+1, e2)

	_, err = fa.SetPartitionStates(ctx, []store.PartitionStateUpdate{
		{Partition: tp, State: store.PartitionState{Leader: 2, LeaderEpoch: 1, ISR: []int32{2}, ControllerEpoch: e1}, ExpectedVersion: 0},
		{Partition: store.TopicPartition{Topic: "t", Partition: 1}, State: store.PartitionState{Leader: 1, ISR: []int32{1}}, ExpectedVersion: store.NewVersion},
	})
	require.ErrorIs(t, err, store.ErrControllerMoved)
	assert.ErrorContains(t, err, "controller epoch 1")
	assert.ErrorIs(t, fa.DeleteTopic(ctx, "t"), store.ErrControllerMoved)
	st, err := b.PartitionState(ctx, tp)
	require.NoError(t, err)
	assert.Equal(t, int32(1), st.Leader, "the deposed controller's write did not land")
	assert.Equal(t, int32(0), st.Version)

	// A view of the new epoch writes, also from a store that did not run
	// the election (it looks the epoch's version up, catching up with the
	// ensemble if its server has not seen the election yet).
	_, err = a.Fenced(e2).SetPartitionState(ctx, tp, store.PartitionState{Leader: 2, LeaderEpoch: 1, ISR: []int32{2}, ControllerEpoch: e2}, 0)
	require.NoError(t, err)
	require.NoError(t, b.Fenced(e2).SetTopicConfig(ctx, "t", map[string]string{"a": "b"}))
	err = a.Fenced(e2+1).SetTopicConfig(ctx, "t", nil)
	assert.ErrorIs(t, err, store.ErrControllerMoved, "an epoch not (yet) elected writes nothing")
}

// TestSessionExpiry cuts a store off from the ensemble until its session
// expires there (its ephemerals vanish and another broker takes its id and
// control), then restores it: the store publishes EventSessionExpired and
// moves to a new session, its old controller epoch is fenced, it does not
// replace the other live broker's registration, it registers again with a
// larger broker epoch once the id is free, and its watches work again.
func TestSessionExpiry(t *testing.T) {
	ctx := context.Background()
	p, err := zktest.NewProxy(ens.Servers()...)
	require.NoError(t, err)
	defer p.Close()
	chroot := newChroot(t)
	a := open(t, p.Addr()+chroot, 3*time.Second) // short, so the cut expires it soon
	b := open(t, ens.Connect()+chroot, sessionTimeout)
	sub := a.Subscribe()
	defer sub.Close()

	require.NoError(t, a.RegisterBroker(ctx, brokerInfo(5)))
	first, err := a.Broker(ctx, 5)
	require.NoError(t, err)
	e1, err := a.TryBecomeController(ctx, 5)
	require.NoError(t, err)
	fa := a.Fenced(e1)
	oldSession := a.SessionID()

	p.Cut()
	eventually(t, "the ensemble expires the cut-off session", func() error {
		if _, err := b.Broker(ctx, 5); !errors.Is(err, store.ErrUnknownBroker) {
			return fmt.Errorf("broker 5 still registered: %v", err)
		}
		return nil
	})
	require.NoError(t, b.RegisterBroker(ctx, brokerInfo(5)), "another broker takes the free id")
	e2, err := b.TryBecomeController(ctx, 6)
	require.NoError(t, err)
	p.Restore()

	waitEvent(t, sub, store.Event{Kind: store.EventSessionExpired})
	assert.NotEqual(t, oldSession, a.SessionID())
	syncStore(t, a)
	assert.ErrorIs(t, fa.CreateTopic(ctx, storetest.Assignment("late", 1, 5), nil), store.ErrControllerMoved)
	_, err = a.TryBecomeController(ctx, 5)
	assert.ErrorIs(t, err, store.ErrControllerExists)
	c, err := a.Controller(ctx)
	require.NoError(t, err)
	assert.Equal(t, store.ControllerInfo{BrokerID: 6, Epoch: e2}, c)

	err = a.RegisterBroker(ctx, brokerInfo(5))
	assert.ErrorIs(t, err, store.ErrBrokerExists, "another live broker's registration is never replaced")
	require.NoError(t, b.UnregisterBroker(ctx, 5))
	syncStore(t, a)
	require.NoError(t, a.RegisterBroker(ctx, brokerInfo(5)))
	again, err := a.Broker(ctx, 5)
	require.NoError(t, err)
	assert.Greater(t, again.Epoch, first.Epoch, "a new registration, a larger broker epoch")

	// The watches were re-armed on the new session.
	require.NoError(t, b.CreateTopic(ctx, storetest.Assignment("seen", 1, 6), nil))
	waitEvent(t, sub, store.Event{Kind: store.EventTopic, Topic: "seen"})
}

// TestRegisterReplacesOwnStaleRegistration: a registration held by one of
// the store's own expired sessions (ZooKeeper has not removed it yet) is
// replaced; one held by any other session is not.
func TestRegisterReplacesOwnStaleRegistration(t *testing.T) {
	ctx := context.Background()
	s, root := openChroot(t)
	old := plainClient(t) // stands for the store's previous session
	_, err := old.Create(root+"/brokers/ids/9", []byte(`{"version":5,"host":"old","port":1,"jmx_port":-1,"timestamp":"1","endpoints":["PLAINTEXT://old:1"],"listener_security_protocol_map":{"PLAINTEXT":"PLAINTEXT"},"features":{}}`),
		zk.FlagEphemeral, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)

	err = s.RegisterBroker(ctx, brokerInfo(9))
	require.ErrorIs(t, err, store.ErrBrokerExists)
	assert.ErrorContains(t, err, "0x"+strconv.FormatInt(old.SessionID(), 16), "the error names the holder's session")

	s.AddPastSession(old.SessionID())
	require.NoError(t, s.RegisterBroker(ctx, brokerInfo(9)))
	b, err := s.Broker(ctx, 9)
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1", b.Endpoints[0].Host)
	syncClient(t, old)
	_, st, err := old.Get(root + "/brokers/ids/9")
	require.NoError(t, err)
	assert.Equal(t, s.SessionID(), st.EphemeralOwner, "now held by the store's current session")
}

// TestChroot: a missing chroot is created, and nothing is written outside.
func TestChroot(t *testing.T) {
	ctx := context.Background()
	c := plainClient(t)
	chroot := newChroot(t) + "/deeper/kafka"
	s := open(t, ens.Connect()+chroot, sessionTimeout)
	require.NoError(t, s.CreateTopic(ctx, storetest.Assignment("chrooted", 1, 1), nil))
	require.NoError(t, s.RegisterBroker(ctx, brokerInfo(1)))

	syncClient(t, c)
	ok, _, err := c.Exists(chroot + "/brokers/topics/chrooted")
	require.NoError(t, err)
	assert.True(t, ok)
	ok, _, err = c.Exists(chroot + "/brokers/ids/1")
	require.NoError(t, err)
	assert.True(t, ok)
	ok, _, err = c.Exists("/brokers/topics/chrooted")
	require.NoError(t, err)
	assert.False(t, ok, "nothing outside the chroot")

	// A second store on the same chroot sees the same cluster.
	other := open(t, ens.Connect()+chroot, sessionTimeout)
	syncStore(t, other)
	names, err := other.Topics(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"chrooted"}, names)
}

// nodeAt returns the ensemble node serving addr.
func nodeAt(t *testing.T, addr string) *zktest.Node {
	t.Helper()
	for _, n := range ens.Nodes() {
		if n.Addr() == addr {
			return n
		}
	}
	require.FailNow(t, "no node at "+addr)
	return nil
}

// restartOnCleanup restarts nodes when the test ends and waits until the
// ensemble serves again, so later tests find it whole.
func restartOnCleanup(t *testing.T, nodes ...*zktest.Node) {
	t.Cleanup(func() {
		for _, n := range nodes {
			if !n.Running() {
				assert.NoError(t, n.Start())
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		defer cancel()
		assert.NoError(t, ens.WaitServing(ctx))
	})
}

// TestOneNodeKilled: with a multi-host connect string, kill -9 of the node
// the store is connected to changes nothing but the server it talks to:
// same session, every write after the move succeeds.
func TestOneNodeKilled(t *testing.T) {
	ctx := context.Background()
	s, root := openChroot(t)
	sub := s.Subscribe(store.EventSessionExpired)
	defer sub.Close()
	session := s.SessionID()
	require.NoError(t, s.CreateTopic(ctx, storetest.Assignment("t", 4, 1), nil))

	n := nodeAt(t, s.Server())
	restartOnCleanup(t, n)
	require.NoError(t, n.Kill())

	// The client moves to another node; a request in flight at the kill
	// may fail (outcome unknown), so the first write is retried.
	tp := store.TopicPartition{Topic: "t", Partition: 0}
	eventually(t, "first write after the kill", func() error {
		_, err := s.SetPartitionState(ctx, tp, store.PartitionState{Leader: 1, ISR: []int32{1}}, store.NewVersion)
		if errors.Is(err, store.ErrBadVersion) {
			return nil // the retried create had landed
		}
		return err
	})
	assert.NotEqual(t, n.Addr(), s.Server())
	for i := range 20 {
		cur, err := s.PartitionState(ctx, tp)
		require.NoError(t, err)
		cur.LeaderEpoch++
		_, err = s.SetPartitionState(ctx, tp, cur, cur.Version)
		require.NoError(t, err, "write %d", i)
	}
	assert.Equal(t, session, s.SessionID(), "the session survives")
	assert.Empty(t, sub.Drain())

	// The client re-sent the watches to the new server.
	topics := s.Subscribe(store.EventTopic)
	defer topics.Close()
	c := plainClient(t)
	_, err := c.Create(root+"/brokers/topics/after-move", []byte(`{"version":1,"partitions":{"0":[1]}}`), 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)
	waitEvent(t, topics, store.Event{Kind: store.EventTopic, Topic: "after-move"})
}

// TestQuorumLost: with two of three nodes dead, writes fail with
// store.ErrUnavailable naming the ensemble; once they are back, the store
// works again without being reopened, watches included.
func TestQuorumLost(t *testing.T) {
	ctx := context.Background()
	s, root := openChroot(t)
	sub := s.Subscribe(store.EventTopic)
	defer sub.Close()
	require.NoError(t, s.CreateTopic(ctx, storetest.Assignment("t", 1, 1), nil))

	dead := []*zktest.Node{ens.Node(0), ens.Node(1)}
	restartOnCleanup(t, dead...)
	for _, n := range dead {
		require.NoError(t, n.Kill())
	}
	var err error
	eventually(t, "writes fail without a quorum", func() error {
		err = s.SetTopicConfig(ctx, "t", map[string]string{"retention.ms": "1"})
		if errors.Is(err, store.ErrUnavailable) {
			return nil
		}
		return fmt.Errorf("write did not fail as unavailable: %v", err)
	})
	assert.ErrorContains(t, err, "metadata store unavailable")
	assert.ErrorContains(t, err, ens.Connect())
	_, err = s.Topics(ctx)
	assert.ErrorIs(t, err, store.ErrUnavailable, "reads fail too")

	for _, n := range dead {
		require.NoError(t, n.Start())
	}
	wctx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()
	require.NoError(t, ens.WaitServing(wctx))
	eventually(t, "writes work again", func() error {
		return s.SetTopicConfig(ctx, "t", map[string]string{"retention.ms": "2"})
	})
	cfg, err := s.TopicConfig(ctx, "t")
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"retention.ms": "2"}, cfg)

	// Watches work after the outage (re-armed if the session expired).
	c := plainClient(t)
	_, err = c.Create(root+"/brokers/topics/after", []byte(`{"version":1,"partitions":{"0":[1]}}`), 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)
	waitEvent(t, sub, store.Event{Kind: store.EventTopic, Topic: "after"})
}

// TestOpenUnreachable: no ZooKeeper at the address → a clear error after
// zookeeper.connection.timeout.ms.
func TestOpenUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close()) // nothing listens there now

	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	_, err = zkstore.Open(ctx, zkstore.Config{Connect: addr + "/kafka", SessionTimeout: 2 * time.Second,
		ConnectionTimeout: time.Second, Logger: quietLogger()})
	require.ErrorIs(t, err, store.ErrUnavailable)
	assert.ErrorContains(t, err, "zookeeper.connection.timeout.ms=1000")
	assert.ErrorContains(t, err, addr)
}

// TestOversizedBatch: a batch too large for one ZooKeeper request fails
// before it is sent, and a topic too large for one multi is still deleted
// whole.
func TestOversizedBatch(t *testing.T) {
	ctx := context.Background()
	s, _ := openChroot(t)
	const n = 8000
	require.NoError(t, s.CreateTopic(ctx, storetest.Assignment("big", n, 1), nil))
	updates := make([]store.PartitionStateUpdate, n)
	for p := range n {
		updates[p] = store.PartitionStateUpdate{Partition: store.TopicPartition{Topic: "big", Partition: int32(p)},
			State: store.PartitionState{Leader: 1, ISR: []int32{1}}, ExpectedVersion: store.NewVersion}
	}
	_, err := s.SetPartitionStates(ctx, updates)
	require.ErrorIs(t, err, store.ErrInvalidArgument)
	assert.ErrorContains(t, err, "jute.maxbuffer")
	states, err := s.PartitionStates(ctx, "big")
	require.NoError(t, err)
	assert.Empty(t, states, "nothing was written")

	for i := 0; i < n; i += 1000 {
		_, err := s.SetPartitionStates(ctx, updates[i:i+1000])
		require.NoError(t, err)
	}
	states, err = s.PartitionStates(ctx, "big")
	require.NoError(t, err)
	require.Len(t, states, n)
	require.NoError(t, s.DeleteTopic(ctx, "big"))
	_, err = s.Topic(ctx, "big")
	assert.ErrorIs(t, err, store.ErrUnknownTopic)
	require.NoError(t, s.CreateTopic(ctx, storetest.Assignment("big", 1, 1), nil))
	states, err = s.PartitionStates(ctx, "big")
	require.NoError(t, err)
	assert.Empty(t, states, "no state survived the deletion")
}

func TestParseConnect(t *testing.T) {
	tests := []struct {
		in      string
		servers []string
		chroot  string
		err     string
	}{
		{in: "localhost:2181", servers: []string{"localhost:2181"}},
		{in: "a:1,b:2,c:3/kafka", servers: []string{"a:1", "b:2", "c:3"}, chroot: "/kafka"},
		{in: "a,b:2/x/y", servers: []string{"a:2181", "b:2"}, chroot: "/x/y"},
		{in: "[::1]:2181/", servers: []string{"[::1]:2181"}},
		{in: "", err: "no host"},
		{in: "/kafka", err: "no host"},
		{in: "a:1,,b:2", err: "empty host"},
		{in: "a:x", err: "want host:port"},
		{in: "a:1/kafka/", err: "chroot"},
		{in: "a:1/x//y", err: "chroot"},
		{in: "a:1/x/../y", err: "chroot"},
	}
	for _, tt := range tests {
		servers, chroot, err := zkstore.ParseConnect(tt.in)
		if tt.err != "" {
			assert.ErrorContains(t, err, tt.err, tt.in)
			continue
		}
		require.NoError(t, err, tt.in)
		assert.Equal(t, tt.servers, servers, tt.in)
		assert.Equal(t, tt.chroot, chroot, tt.in)
	}
	err := zkstore.Config{Connect: "", SessionTimeout: -1}.Validate()
	assert.ErrorContains(t, err, "no host")
	assert.ErrorContains(t, err, "zookeeper.session.timeout.ms")
}
