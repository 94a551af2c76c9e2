package clustertest_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strom-broker/strom/tools/clustertest"
)

// TestProducerIDBlockReusedByZooKeeper is the regression test of the
// fault bed's finding F2: ZooKeeper loses the acknowledged write of
// /latest_producer_id_block (as Debian's ZooKeeper 3.8.0 does under fast
// rolling restarts), so the store hands the same block out again. The
// broker must not give a new producer an id its logs already hold: that
// producer's first batch would be answered as a duplicate of the old
// producer's batch (same id, epoch and sequence) and never stored.
func TestProducerIDBlockReusedByZooKeeper(t *testing.T) {
	c := clustertest.NewCluster(t, ens)
	b := c.StartBroker(1)
	const topic = "pid-reuse"
	adm := kadm.NewClient(client(t, addrs(b)))
	ctx := context.Background()
	clustertest.Eventually(t, "topic created", func(ctx context.Context) error {
		_, err := adm.CreateTopic(ctx, 1, 1, nil, topic)
		return err
	})

	produce := func(value string) int64 {
		t.Helper()
		cl := client(t, addrs(b), kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(kgo.AllISRAcks()))
		r, err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(value)}).First()
		require.NoError(t, err)
		require.GreaterOrEqual(t, r.ProducerID, int64(0), "idempotent producer")
		cl.Close()
		return r.ProducerID
	}
	first := produce("first")

	// ZooKeeper "loses" the block write: the znode goes back to its state
	// before the first allocation (absent). The broker restarts (an
	// orderly shutdown), so the block it holds in memory is gone too.
	zkc := plainZK(t, c.Connect)
	_, st, err := zkc.Get("/latest_producer_id_block")
	require.NoError(t, err)
	require.NoError(t, zkc.Conn.Delete(zkc.root+"/latest_producer_id_block", st.Version))
	b.Stop()
	require.NoError(t, b.Start())
	b.WaitListening()

	second := produce("second")
	assert.Greater(t, second, first, "the new producer's id is above every id in the broker's logs")
	assert.Equal(t, []string{"first", "second"}, consumeValues(t, []*clustertest.Broker{b}, topic),
		"the second producer's record is stored, not answered as a duplicate")
	assert.Contains(t, b.Log(), "holds ids already in use", "the broker says why it skipped the block")
}
