package clustertest_test

import (
	"context"
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

// TestRetriedBatchWaitsForISR is the regression test of the fault bed's
// finding F4: an idempotent producer's retry of an acks=all batch that is
// in the leader's log but not yet committed was answered at once as a
// duplicate, so a record the followers never had was acknowledged (and
// lost when one of them became leader). The retry must wait for the ISR
// like the first attempt (Kafka's DelayedProduce does).
func TestRetriedBatchWaitsForISR(t *testing.T) {
	const topic = "retried-batch"
	// A long lag time: the paused followers stay in the ISR throughout.
	bs := startReplicatedWith(t, topic, "replica.lag.time.max.ms=600000")
	ctx, cancel := context.WithTimeout(context.Background(), clustertest.Deadline)
	defer cancel()
	pd, err := partitionOf(ctx, t, bs[0], topic)
	require.NoError(t, err)
	leader := bs[pd.Leader-1]
	raw, err := netclient.Dial(ctx, leader.Addr(), "clustertest")
	require.NoError(t, err)
	defer raw.Close()
	init, err := raw.Request(ctx, kmsg.NewPtrInitProducerIDRequest())
	require.NoError(t, err)
	pid := init.(*kmsg.InitProducerIDResponse)
	require.Zero(t, pid.ErrorCode)
	batch := record.NewBuilder(0).SetProducer(pid.ProducerID, pid.ProducerEpoch, 0).
		Add(time.Now().UnixMilli(), nil, []byte("once")).Build()
	send := func(timeoutMs int32) kmsg.ProduceResponseTopicPartition {
		t.Helper()
		req := kmsg.NewPtrProduceRequest()
		req.Acks, req.TimeoutMillis = -1, timeoutMs
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Records = append([]byte(nil), batch...) // the broker stamps offsets in place
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := raw.Request(ctx, req)
		require.NoError(t, err)
		return resp.(*kmsg.ProduceResponse).Topics[0].Partitions[0]
	}

	var followers []*clustertest.Broker
	for _, b := range bs {
		if b != leader {
			followers = append(followers, b)
			b.Pause()
		}
	}
	first := send(300)
	assert.Equal(t, kerr.RequestTimedOut.Code, first.ErrorCode, "appended, not committed: the followers are paused")
	retry := send(300)
	assert.NotZero(t, retry.ErrorCode, "the retry (a duplicate in the leader's log) is not acknowledged before the followers have it")

	for _, b := range followers {
		b.Resume()
	}
	done := send(30000)
	require.Zero(t, done.ErrorCode, "once the followers fetch it, the retry is acknowledged")
	assert.Equal(t, []int{0}, offsetsOf(t, consumeValues(t, bs, topic), "once"), "stored once, at offset 0")
	assert.Equal(t, int64(0), done.BaseOffset, "with the original offset")
}

// offsetsOf returns the positions of v in values.
func offsetsOf(t *testing.T, values []string, v string) []int {
	t.Helper()
	var out []int
	for i, x := range values {
		if x == v {
			out = append(out, i)
		}
	}
	return out
}
