package clustertest_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/tools/clustertest"
)

// TestControlledShutdownUnderLoad: RF 3, min.insync.replicas=2, an
// idempotent acks=all producer. SIGTERM of the partition's leader: before
// the process stops serving, the controller moves the leadership to
// another in-sync replica and takes the stopping broker out of the ISR
// (its log says the controlled shutdown succeeded, the controller's log
// that it moved one leader). The broker restarts and rejoins the ISR; then
// the controller itself is stopped with SIGTERM: it resigns first, another
// broker takes over and runs its controlled shutdown. Every acknowledged
// record is in the log exactly once, in order. A ControlledShutdown with a
// stale broker epoch is refused with STALE_BROKER_EPOCH and changes
// nothing.
func TestControlledShutdownUnderLoad(t *testing.T) {
	const topic = "graceful"
	c, bs := startReplicatedCluster(t, topic)
	ctx := context.Background()
	zkc := plainZK(t, c.Connect)
	pd, err := partitionOf(ctx, t, bs[0], topic)
	require.NoError(t, err)
	leader := bs[pd.Leader-1]
	ctrlID, _ := controllerOf(t, zkc)
	require.GreaterOrEqual(t, ctrlID, int32(1))

	// A stale broker epoch: refused, nothing moves.
	req := kmsg.NewPtrControlledShutdownRequest()
	req.SetVersion(3)
	req.BrokerID, req.BrokerEpoch = leader.ID, 1
	resp, err := req.RequestWith(ctx, client(t, []string{bs[ctrlID-1].Addr()}))
	require.NoError(t, err)
	assert.Equal(t, kerr.StaleBrokerEpoch.Code, resp.ErrorCode)
	pd2, err := partitionOf(ctx, t, bs[0], topic)
	require.NoError(t, err)
	assert.Equal(t, pd.Leader, pd2.Leader)
	assert.Equal(t, pd.LeaderEpoch, pd2.LeaderEpoch)

	p := startProducer(t, bs, topic)
	p.waitAcked(t, 2000)
	stopAndCheck(t, bs, leader, topic)
	p.waitAcked(t, 2000)

	require.NoError(t, leader.Start())
	leader.WaitListening()
	waitISR(t, bs, topic, 1, 2, 3)
	p.waitAcked(t, 500)

	ctrlID, _ = controllerOf(t, zkc)
	require.GreaterOrEqual(t, ctrlID, int32(1))
	ctrl := bs[ctrlID-1]
	stopAndCheck(t, bs, ctrl, topic)
	assert.Contains(t, ctrl.Log(), "controlled shutdown succeeded")
	clustertest.Eventually(t, "another controller", func(context.Context) error {
		if id, _ := controllerOf(t, zkc); id < 0 || id == ctrlID {
			return fmt.Errorf("controller %d", id)
		}
		return nil
	})
	p.waitAcked(t, 2000)

	p.mu.Lock()
	gap := p.maxGap
	p.mu.Unlock()
	acked, failed := p.finish()
	t.Logf("%d records acknowledged, %d failed, longest wait between acknowledgements %s", len(acked), failed, gap)
	log := consumeAll(t, bs, topic)
	require.GreaterOrEqual(t, len(log), len(acked))
	checkHistory(t, log, acked)
}

// stopAndCheck sends SIGTERM to b, waits for it to exit and checks that its
// controlled shutdown succeeded before it stopped, that the partition has
// another leader and that b is out of the ISR, as every running broker
// reports it.
func stopAndCheck(t *testing.T, bs []*clustertest.Broker, b *clustertest.Broker, topic string) {
	t.Helper()
	b.Stop()
	log := b.Log()
	lives := strings.Split(log, "strom broker started")
	last := lives[len(lives)-1]
	ok := strings.Index(last, "controlled shutdown succeeded")
	stopped := strings.Index(last, "strom broker stopped")
	require.GreaterOrEqual(t, ok, 0, "broker %d log:\n%s", b.ID, last)
	assert.Less(t, ok, stopped, "the controlled shutdown comes before the stop")
	clustertest.Eventually(t, "leader moved off the stopped broker", func(ctx context.Context) error {
		for _, o := range bs {
			if !o.Running() {
				continue
			}
			pd, err := partitionOf(ctx, t, o, topic)
			if err != nil {
				return err
			}
			if pd.Leader == b.ID || pd.Leader < 0 || slices.Contains(pd.ISR, b.ID) {
				return fmt.Errorf("broker %d reports leader %d ISR %v", o.ID, pd.Leader, pd.ISR)
			}
		}
		return nil
	})
	moved := false
	for _, o := range bs {
		if o.Running() && strings.Contains(o.Log(), fmt.Sprintf(`msg="controlled shutdown" broker=%d`, b.ID)) {
			moved = true
		}
	}
	assert.True(t, moved, "the controller logged the controlled shutdown of broker %d", b.ID)
}
