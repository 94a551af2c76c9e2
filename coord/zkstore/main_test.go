package zkstore_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/require"

	"github.com/strom-broker/strom/coord/store"
	"github.com/strom-broker/strom/coord/zkstore"
	"github.com/strom-broker/strom/coord/zktest"
)

// ens is the package's 3-node ensemble (tickTime 500 ms: sessions of 1 s
// to 10 s). Tests that kill or pause nodes restore them before they end.
var ens *zktest.Ensemble

func TestMain(m *testing.M) {
	zktest.Main(m, zktest.Options{Nodes: 3}, func(e *zktest.Ensemble) { ens = e })
}

// Generous failure deadlines; never timing assertions.
const (
	deadline       = 60 * time.Second
	sessionTimeout = 10 * time.Second // the ensemble's maximum: no spurious expiry on a loaded machine
)

var chroots atomic.Int64

// newChroot returns a chroot no other test uses.
func newChroot(t *testing.T) string {
	return fmt.Sprintf("/test/%s-%d", sanitize(t.Name()), chroots.Add(1))
}

func sanitize(name string) string {
	out := []byte(name)
	for i, c := range out {
		if c == '/' || c == ' ' {
			out[i] = '_'
		}
	}
	return string(out)
}

// quietLogger drops the store's logs (a failing test shows its own).
func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// open opens a store on connect and closes it when the test ends.
func open(t *testing.T, connect string, sessionTimeout time.Duration) *zkstore.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	s, err := zkstore.Open(ctx, zkstore.Config{Connect: connect, SessionTimeout: sessionTimeout, Logger: quietLogger()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// openChroot opens a store on the whole ensemble under a fresh chroot and
// returns it with its chroot.
func openChroot(t *testing.T) (*zkstore.Store, string) {
	chroot := newChroot(t)
	return open(t, ens.Connect()+chroot, sessionTimeout), chroot
}

// plainClient is a plain ZooKeeper client, as Kafka's tools or an operator
// would use, closed when the test ends.
func plainClient(t *testing.T) *zk.Conn {
	t.Helper()
	c, events, err := zk.Connect(ens.Servers(), sessionTimeout, zk.WithLogInfo(false), zk.WithLogger(nopLogger{}))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	waitSession(t, events)
	return c
}

func waitSession(t *testing.T, events <-chan zk.Event) {
	t.Helper()
	timeout := time.After(deadline)
	for {
		select {
		case ev := <-events:
			if ev.State == zk.StateHasSession {
				return
			}
		case <-timeout:
			require.FailNow(t, "no ZooKeeper session")
		}
	}
}

type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}

// waitEvent waits until sub delivers want.
func waitEvent(t *testing.T, sub *store.Subscription, want store.Event) {
	t.Helper()
	timeout := time.After(deadline)
	for {
		select {
		case _, ok := <-sub.Ready():
			require.True(t, ok, "subscription closed while waiting for %v", want)
			for _, ev := range sub.Drain() {
				if ev == want {
					return
				}
			}
		case <-timeout:
			require.FailNow(t, "event not delivered", "%+v", want)
		}
	}
}

// waitUntil waits for events like want until ok() holds: an event says
// "re-read", and it may come early (from arming a watch) and be followed by
// the one of the change awaited.
func waitUntil(t *testing.T, sub *store.Subscription, want store.Event, ok func() bool) {
	t.Helper()
	for {
		waitEvent(t, sub, want)
		if ok() {
			return
		}
	}
}

// eventually retries fn until it returns nil or the deadline passes.
func eventually(t *testing.T, what string, fn func() error) {
	t.Helper()
	end := time.Now().Add(deadline)
	var err error
	for time.Now().Before(end) {
		if err = fn(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	require.NoError(t, err, what)
}

// syncClient makes a plain client's following reads see every write
// committed so far (ZooKeeper reads are only as fresh as the server the
// client talks to).
func syncClient(t *testing.T, c *zk.Conn) {
	t.Helper()
	_, err := c.Sync("/")
	require.NoError(t, err)
}

// syncStore is syncClient for a store.
func syncStore(t *testing.T, s *zkstore.Store) {
	t.Helper()
	require.NoError(t, s.Sync(context.Background()))
}
