package zktest_test

import (
	"context"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strom-broker/strom/coord/zktest"
)

var ens *zktest.Ensemble

func TestMain(m *testing.M) {
	zktest.Main(m, zktest.Options{Nodes: 1}, func(e *zktest.Ensemble) { ens = e })
}

const deadline = 60 * time.Second

// TestNodeLifecycle drives one standalone node through pause, resume, kill
// and restart, checking with real clients what the node serves.
func TestNodeLifecycle(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	n := ens.Node(0)
	mode, err := n.Mode(ctx)
	require.NoError(t, err)
	assert.Equal(t, "standalone", mode)
	ruok, err := n.FourLetter(ctx, "ruok")
	require.NoError(t, err)
	assert.Equal(t, "imok", string(ruok))

	c, _, err := zk.Connect(ens.Servers(), 2*time.Second, zk.WithLogInfo(false))
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Create("/lifecycle", []byte("v"), 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)

	require.NoError(t, n.Pause())
	assert.True(t, n.Paused())
	_, err = n.Mode(ctx)
	assert.Error(t, err, "a paused node answers nothing")
	require.NoError(t, n.Resume())
	require.NoError(t, n.WaitServing(ctx))

	pid := n.PID()
	require.NoError(t, n.Kill())
	assert.False(t, n.Running())
	assert.ErrorIs(t, syscall.Kill(pid, 0), syscall.ESRCH, "the process is gone")
	require.NoError(t, n.Start())
	require.NoError(t, n.WaitServing(ctx))

	// Data survives a crash: the same data dir is used again.
	got, _, err := getRetry(ctx, c, "/lifecycle")
	require.NoError(t, err)
	assert.Equal(t, "v", string(got))

	// An orderly stop, paused or not, and a start again.
	require.NoError(t, n.Pause())
	require.NoError(t, n.Stop())
	assert.False(t, n.Running())
	assert.False(t, n.Paused())
	require.NoError(t, n.Start())
	require.NoError(t, ens.WaitServing(ctx))
	leader, err := ens.Leader(ctx)
	require.NoError(t, err)
	assert.Equal(t, n, leader, "a standalone node counts as the leader")
}

// TestProxyCut checks that a cut proxy drops and refuses connections and a
// restored one forwards again.
func TestProxyCut(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	p, err := zktest.NewProxy(ens.Servers()...)
	require.NoError(t, err)
	defer p.Close()
	c, events, err := zk.Connect([]string{p.Addr()}, 2*time.Second, zk.WithLogInfo(false))
	require.NoError(t, err)
	defer c.Close()
	waitState(ctx, t, events, zk.StateHasSession)
	session := c.SessionID()

	p.Cut()
	waitState(ctx, t, events, zk.StateDisconnected)
	p.Restore()
	waitState(ctx, t, events, zk.StateHasSession)
	assert.Equal(t, session, c.SessionID(), "a short cut keeps the session")
}

// TestStartRejectsBadOptions covers validation and the missing-jar error.
func TestStartRejectsBadOptions(t *testing.T) {
	_, err := zktest.Start(zktest.Options{Nodes: 2})
	assert.ErrorContains(t, err, "2 nodes")
	_, err = zktest.Start(zktest.Options{Jar: "/nonexistent/zookeeper.jar"})
	assert.ErrorContains(t, err, "make test-deps")
	assert.ErrorIs(t, zktest.Available(zktest.Options{Java: "no-such-java-binary"}), zktest.ErrUnavailable)
	assert.NoError(t, zktest.Available(zktest.Options{}))
	_, err = os.Stat(ens.Dir())
	assert.NoError(t, err)
}

func waitState(ctx context.Context, t *testing.T, events <-chan zk.Event, want zk.State) {
	t.Helper()
	for {
		select {
		case ev := <-events:
			if ev.Type == zk.EventSession && ev.State == want {
				return
			}
		case <-ctx.Done():
			require.FailNow(t, "no session state", "want %v", want)
		}
	}
}

func getRetry(ctx context.Context, c *zk.Conn, path string) ([]byte, *zk.Stat, error) {
	for {
		data, st, err := c.Get(path)
		if err == nil || ctx.Err() != nil {
			return data, st, err
		}
		time.Sleep(50 * time.Millisecond)
	}
}
