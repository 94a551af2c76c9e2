package broker_test

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/engine/partlog"
	"github.com/strom-broker/strom/engine/record"
	"github.com/strom-broker/strom/replication"
	"github.com/strom-broker/strom/tools/broker/brokertest"
)

// TestReplicaFetcherAgainstBroker runs replication's follower fetcher (as
// broker 7) against a real broker that leads two partitions with replicas
// {0, 7}: partition 0's follower log diverged (three records of epoch 0
// the leader never had past offset 3) and is truncated from the leader's
// DivergingEpoch answer; partition 1's starts empty. Both end with the
// leader's bytes, fetched in one privileged fetch session that the
// fetcher keeps using incrementally (one session created in all).
func TestReplicaFetcherAgainstBroker(t *testing.T) {
	b := brokertest.Start(t)
	const topic = "followed"
	createTopic(t, b, topic, 2)
	c := rawConn(t, b)
	require.Zero(t, produceOne(t, c, topic, 0, 1, rawBatch(1, []byte("a"), []byte("b"), []byte("c"))).ErrorCode)

	// The controller (epoch 1000, above the local one) makes broker 0 lead
	// both partitions in epoch 1 with follower 7.
	req := leaderAndIsr(1000, topic, 0, 0, 1, 0, 7)
	p1 := req.TopicStates[0].PartitionStates[0]
	p1.Partition = 1
	req.TopicStates[0].PartitionStates = append(req.TopicStates[0].PartitionStates, p1)
	resp := request[*kmsg.LeaderAndISRResponse](t, c, req, 7)
	require.Zero(t, resp.ErrorCode)
	for _, p := range resp.Topics[0].Partitions {
		require.Zero(t, p.ErrorCode, "partition %d", p.Partition)
	}
	require.Zero(t, produceOne(t, c, topic, 0, 1, rawBatch(2, []byte("d"), []byte("e"))).ErrorCode)
	require.Zero(t, produceOne(t, c, topic, 1, 1, rawBatch(3, []byte("f"))).ErrorCode)

	// Broker 7's replicas: partition 0 holds offsets 0-5 all in epoch 0.
	diverged := followerReplica(t, topic, 0)
	// The leader's first batch (same bytes), then x, y, z in epoch 0.
	for i, batch := range [][]byte{rawBatch(1, []byte("a"), []byte("b"), []byte("c")), rawBatch(1, []byte("x"), []byte("y"), []byte("z"))} {
		record.SetBaseOffset(batch, int64(3*i))
		record.SetPartitionLeaderEpoch(batch, 0)
		_, err := diverged.Log().AppendAsFollower(batch)
		require.NoError(t, err)
	}
	empty := followerReplica(t, topic, 1)

	fs := replication.NewFetchers(replication.FetcherConfig{BrokerID: 7, MaxWait: 20 * time.Millisecond,
		Backoff: 20 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	defer fs.Close()
	fs.Add(diverged, 0, b.Addr(), 1)
	fs.Add(empty, 0, b.Addr(), 1)

	// The ISR is {0, 7}: the leader's high watermark moves only as 7
	// fetches, so a consumer reads all of it once 7 has it.
	caughtUp := func(p *replication.Partition, leo int64) bool {
		f := fetchOne(t, c, fetchRequest(topic, p.Index(), 0, 0, 0, 1<<20, 1<<20))
		got, err := p.Log().ReadBytes(0, 1<<20, 1<<40)
		return f.ErrorCode == 0 && f.HighWatermark == leo && err == nil && string(got) == string(f.RecordBatches)
	}
	waitFor(t, "both followers hold the leader's records", func() bool {
		return caughtUp(diverged, 5) && caughtUp(empty, 1)
	})
	assert.Equal(t, int64(5), diverged.Log().LogEndOffset(), "x, y, z cut by epoch")

	// More rounds: new records reach the follower through the same session.
	for i := range 3 {
		require.Zero(t, produceOne(t, c, topic, 1, 1, rawBatch(int64(10+i), []byte("g"))).ErrorCode)
		waitFor(t, "the follower copies the new record", func() bool { return caughtUp(empty, int64(2+i)) })
	}
	st := b.FetchSessions()
	assert.Equal(t, 1, st.Sessions)
	assert.Equal(t, 2, st.Partitions)
	assert.Equal(t, int64(1), st.Created, "one session, fetched incrementally ever since")
}

// followerReplica returns broker 7's replica of topic/partition, following
// broker 0 in leader epoch 1, on a log in a temp dir.
func followerReplica(t *testing.T, topic string, partition int32) *replication.Partition {
	t.Helper()
	l, err := partlog.Open(t.TempDir(), partlog.DefaultConfig())
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	p := replication.New(topic, partition, 7, l, 0, time.Now)
	p.MakeFollower(1, 0, []int32{0, 7})
	return p
}
