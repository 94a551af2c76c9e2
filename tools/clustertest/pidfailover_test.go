package clustertest_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/engine/record"
	netclient "github.com/strom-broker/strom/net/client"
	"github.com/strom-broker/strom/tools/clustertest"
)

// TestIdempotentRetryAfterFailover (issue #15 item 5): producer-id state
// follows the leader. RF 3, min.insync.replicas=2: an idempotent batch is
// acknowledged (acks=all) by the leader, the leader is killed with SIGKILL,
// and the very same batch (same producer id, epoch and sequence), sent
// again with kmsg to the new leader, is not appended a second time: the new
// leader answers with the offset of the original (Kafka's answer to a
// duplicate of one of the last five batches), takes the next sequence,
// refuses a gap with OUT_OF_ORDER_SEQUENCE_NUMBER, and the log holds each
// record once.
func TestIdempotentRetryAfterFailover(t *testing.T) {
	const topic = "pid-failover"
	bs := startReplicated(t, topic)
	ctx, cancel := context.WithTimeout(context.Background(), clustertest.Deadline)
	defer cancel()
	pd, err := partitionOf(ctx, t, bs[0], topic)
	require.NoError(t, err)
	leader := bs[pd.Leader-1]

	conn := func(b *clustertest.Broker) *netclient.Client {
		c, err := netclient.Dial(ctx, b.Addr(), "pid-failover")
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		return c
	}
	lc := conn(leader)
	init := kmsg.NewPtrInitProducerIDRequest()
	init.TransactionTimeoutMillis = 60000
	init.SetVersion(2)
	r, err := lc.RequestVersion(ctx, init)
	require.NoError(t, err)
	ip := r.(*kmsg.InitProducerIDResponse)
	require.Zero(t, ip.ErrorCode)
	pid, pepoch := ip.ProducerID, ip.ProducerEpoch

	batch := func(seq int32, values ...string) []byte {
		b := record.NewBuilder(0).SetProducer(pid, pepoch, seq)
		for _, v := range values {
			b.Add(time.Now().UnixMilli(), nil, []byte(v))
		}
		return b.Build()
	}
	produce := func(c *netclient.Client, records []byte) kmsg.ProduceResponseTopicPartition {
		t.Helper()
		req := kmsg.NewPtrProduceRequest()
		req.Acks, req.TimeoutMillis = -1, 30000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Records = records
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		req.SetVersion(9)
		resp, err := c.RequestVersion(ctx, req)
		require.NoError(t, err)
		return resp.(*kmsg.ProduceResponse).Topics[0].Partitions[0]
	}

	first, second := batch(0, "a", "b"), batch(2, "c")
	p := produce(lc, first)
	require.Zero(t, p.ErrorCode, kerr.ErrorForCode(p.ErrorCode))
	require.Equal(t, int64(0), p.BaseOffset)
	p = produce(lc, second)
	require.Zero(t, p.ErrorCode, kerr.ErrorForCode(p.ErrorCode))
	require.Equal(t, int64(2), p.BaseOffset)

	leader.Kill()
	var newLeader *clustertest.Broker
	clustertest.Eventually(t, "a new leader from the ISR", func(ctx context.Context) error {
		for _, b := range bs {
			if b == leader {
				continue
			}
			pd, err := partitionOf(ctx, t, b, topic)
			if err != nil {
				return err
			}
			if pd.Leader == leader.ID || pd.Leader < 0 {
				return fmt.Errorf("broker %d reports leader %d", b.ID, pd.Leader)
			}
			newLeader = bs[pd.Leader-1]
		}
		return nil
	})
	nc := conn(newLeader)
	var dup kmsg.ProduceResponseTopicPartition
	clustertest.Eventually(t, "the new leader answers the retry", func(context.Context) error {
		dup = produce(nc, second)
		if kerr.IsRetriable(kerr.ErrorForCode(dup.ErrorCode)) {
			return kerr.ErrorForCode(dup.ErrorCode) // e.g. not leader yet, or the ISR not back to 2
		}
		return nil
	})
	assert.Zero(t, dup.ErrorCode, "the retry is a duplicate, not an error: %v", kerr.ErrorForCode(dup.ErrorCode))
	assert.Equal(t, int64(2), dup.BaseOffset, "answered with the original offset")
	p = produce(nc, first)
	assert.Zero(t, p.ErrorCode, kerr.ErrorForCode(p.ErrorCode))
	assert.Equal(t, int64(0), p.BaseOffset, "an older batch of the last five too")

	p = produce(nc, batch(3, "d"))
	require.Zero(t, p.ErrorCode, kerr.ErrorForCode(p.ErrorCode))
	assert.Equal(t, int64(3), p.BaseOffset, "the next sequence continues the producer's state")
	p = produce(nc, batch(9, "gap"))
	assert.Equal(t, kerr.OutOfOrderSequenceNumber.Code, p.ErrorCode, "a gap is refused")

	assert.Equal(t, []string{"a", "b", "c", "d"}, consumeValues(t, bs, topic), "each record once")
}
