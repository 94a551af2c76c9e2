package faultbed

import (
	"context"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strom-broker/strom/coord/zktest"
)

// TestZooKeeperRollingKills runs the ZooKeeper canary alone while one
// node after another is killed and restarted the way the nemesis does it
// (a node restarted, the next one killed a moment later): does the
// ensemble itself lose acknowledged writes? Opt-in (FAULTBED_ZK_SOAK=2m):
// it needs its own ensemble and minutes.
func TestZooKeeperRollingKills(t *testing.T) {
	d := os.Getenv("FAULTBED_ZK_SOAK")
	if d == "" {
		t.Skip("set FAULTBED_ZK_SOAK=2m")
	}
	dur, err := time.ParseDuration(d)
	require.NoError(t, err)
	e, err := zktest.Start(zktest.Options{Nodes: 3})
	require.NoError(t, err)
	defer e.Close()
	can, err := newCanary(e.Servers(), "/canary")
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), dur)
	defer cancel()
	done := make(chan struct{})
	go func() { can.run(ctx); close(done) }()
	rng := rand.New(rand.NewPCG(1, 2))
	var down *zktest.Node
	kills := 0
	for ctx.Err() == nil {
		if down != nil {
			require.NoError(t, down.Start())
		}
		time.Sleep(time.Duration(rng.IntN(200)) * time.Millisecond)
		down = e.Node(rng.IntN(3))
		if down.Running() {
			require.NoError(t, down.Kill())
			kills++
		} else {
			down = nil
		}
		time.Sleep(time.Duration(1000+rng.IntN(5000)) * time.Millisecond)
	}
	<-done
	if down != nil {
		require.NoError(t, down.Start())
	}
	wctx, wcancel := context.WithTimeout(context.Background(), time.Minute)
	defer wcancel()
	require.NoError(t, e.WaitServing(wctx))
	lost := can.close()
	t.Logf("%d kills, %d acknowledged writes, lost: %v", kills, len(can.acked), lost)
	assert.Empty(t, lost)
}
