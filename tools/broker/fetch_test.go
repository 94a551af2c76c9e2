package broker_test

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/tools/broker/brokertest"
)

// TestFetchLongPollWokenByProduce starts a fetch at the log end with
// min.bytes 1 and a long max.wait.ms, waits until the broker has read it,
// then produces: the waiting fetch answers with the new record. (A broken
// wake-up would answer empty after max.wait.ms, failing the test.)
func TestFetchLongPollWokenByProduce(t *testing.T) {
	b := brokertest.Start(t)
	const topic = "long-poll"
	createTopic(t, b, topic, 2)
	producer := rawConn(t, b)
	require.Zero(t, produceOne(t, producer, topic, 0, 1, rawBatch(1000, []byte("old"))).ErrorCode)

	for round := range 3 {
		req := fetchRequest(topic, 0, int64(1+round), 60000, 1, 1<<20, 1<<20)
		// A second, idle partition in the same request.
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch = 1, 0, 1<<20, -1
		req.Topics[0].Partitions = append(req.Topics[0].Partitions, rp)
		got := startFetch(t, b, rawConn(t, b), req)
		want := value(round, round)
		require.Zero(t, produceOne(t, producer, topic, 0, 1, rawBatch(2000, want)).ErrorCode)
		a := <-got
		require.NoError(t, a.err)
		require.Len(t, a.resp.Topics, 1)
		require.Len(t, a.resp.Topics[0].Partitions, 2)
		p0 := a.resp.Topics[0].Partitions[0]
		require.Zero(t, p0.ErrorCode)
		offs, vals, _ := batchValues(t, p0.RecordBatches)
		assert.Equal(t, []int64{int64(1 + round)}, offs, "round %d", round)
		assert.Equal(t, [][]byte{want}, vals, "round %d", round)
		assert.Empty(t, a.resp.Topics[0].Partitions[1].RecordBatches)
	}
}

// TestFetchLongPollWaitsForMinBytes: a fetch whose min.bytes needs three
// batches is woken by each produce but answers only once all three are
// there (a long max.wait.ms makes an early or late answer visible).
func TestFetchLongPollWaitsForMinBytes(t *testing.T) {
	b := brokertest.Start(t)
	const topic = "min-bytes"
	createTopic(t, b, topic, 1)
	producer := rawConn(t, b)
	batch := func(i int) []byte { return rawBatch(1000, bytes.Repeat([]byte{byte('a' + i)}, 500)) }
	size := len(batch(0))

	got := startFetch(t, b, rawConn(t, b), fetchRequest(topic, 0, 0, 60000, int32(3*size), 1<<20, 1<<20))
	for i := range 3 {
		select {
		case a := <-got:
			t.Fatalf("fetch answered before min.bytes was reached (%d batches): %v", i, a.err)
		default:
		}
		require.Zero(t, produceOne(t, producer, topic, 0, 1, batch(i)).ErrorCode)
	}
	a := <-got
	require.NoError(t, a.err)
	fp := a.resp.Topics[0].Partitions[0]
	require.Zero(t, fp.ErrorCode)
	offs, _, _ := batchValues(t, fp.RecordBatches)
	assert.Equal(t, []int64{0, 1, 2}, offs)
}

// TestFetchMaxWaitExpires: a fetch with nothing to read answers empty (no
// error) once max.wait.ms passes, also when min.bytes is above what exists.
func TestFetchMaxWaitExpires(t *testing.T) {
	b := brokertest.Start(t)
	const topic = "max-wait"
	createTopic(t, b, topic, 1)
	c := rawConn(t, b)

	fp := fetchOne(t, c, fetchRequest(topic, 0, 0, 50, 1, 1<<20, 1<<20))
	require.Zero(t, fp.ErrorCode)
	assert.Empty(t, fp.RecordBatches)
	assert.Zero(t, fp.HighWatermark)

	require.Zero(t, produceOne(t, c, topic, 0, 1, rawBatch(1000, []byte("small"))).ErrorCode)
	fp = fetchOne(t, c, fetchRequest(topic, 0, 0, 50, 1<<20, 1<<20, 1<<20))
	require.Zero(t, fp.ErrorCode)
	_, vals, _ := batchValues(t, fp.RecordBatches)
	assert.Equal(t, [][]byte{[]byte("small")}, vals, "below min.bytes: what there is, after max.wait.ms")
}

// TestFetchSizeLimits: partition max bytes and request max bytes bound the
// answer in whole batches, but the first batch of the first partition with
// data is always returned whole (KIP-74), and only that one may exceed the
// limits.
func TestFetchSizeLimits(t *testing.T) {
	b := brokertest.Start(t)
	const topic = "limits"
	createTopic(t, b, topic, 2)
	c := rawConn(t, b)
	var batchLen int
	for p := range int32(2) {
		for i := range 10 {
			batch := rawBatch(1000, bytes.Repeat([]byte{byte('a' + i)}, 1000))
			batchLen = len(batch)
			require.Zero(t, produceOne(t, c, topic, p, 1, batch).ErrorCode)
		}
	}
	for _, tc := range []struct {
		name              string
		maxBytes, partMax int32
		wantP0, wantP1    int // batches
	}{
		{"partition max 1 byte", 1 << 20, 1, 1, 0},
		{"partition max below one batch", 1 << 20, int32(batchLen - 1), 1, 0},
		{"partition max 2.5 batches", 1 << 20, int32(batchLen * 5 / 2), 2, 2},
		{"partition max everything", 1 << 20, 1 << 20, 10, 10},
		{"request max 1 byte", 1, 1 << 20, 1, 0},
		{"request max 3.5 batches", int32(batchLen * 7 / 2), 1 << 20, 3, 0},
		{"request max 13 batches", int32(batchLen * 13), 1 << 20, 10, 3},
	} {
		req := fetchRequest(topic, 0, 0, 0, 1, tc.maxBytes, tc.partMax)
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch = 1, 0, tc.partMax, -1
		req.Topics[0].Partitions = append(req.Topics[0].Partitions, rp)
		resp := request[*kmsg.FetchResponse](t, c, req, 11)
		require.Len(t, resp.Topics[0].Partitions, 2)
		for i, want := range []int{tc.wantP0, tc.wantP1} {
			fp := resp.Topics[0].Partitions[i]
			require.Zero(t, fp.ErrorCode)
			offs, vals, batches := batchValues(t, fp.RecordBatches)
			assert.Equal(t, want, batches, "%s: partition %d batches", tc.name, i)
			assert.Equal(t, want*batchLen, len(fp.RecordBatches), "%s: partition %d: whole batches only", tc.name, i)
			for j := range offs {
				assert.Equal(t, int64(j), offs[j])
				assert.Equal(t, byte('a'+j), vals[j][0])
			}
		}
	}
}

// TestFetchIsZeroCopy consumes over TCP, raw and with franz-go: the
// server sent at least every fetched record byte with sendfile and copied
// none through user space.
func TestFetchIsZeroCopy(t *testing.T) {
	b := brokertest.Start(t)
	const topic = "zero-copy"
	createTopic(t, b, topic, 3)
	cl := newClient(t, b, kgo.RecordPartitioner(kgo.RoundRobinPartitioner()), kgo.ProducerBatchCompression(kgo.NoCompression()))
	const n = 3000
	var recs []*kgo.Record
	for i := range n {
		recs = append(recs, &kgo.Record{Topic: topic, Value: value(1, i)})
	}
	produceAll(t, cl, recs...)

	before := b.Stats()
	c := rawConn(t, b)
	var fetched int64
	for p := range int32(3) {
		off := int64(0)
		for {
			fp := fetchOne(t, c, fetchRequest(topic, p, off, 0, 1, 64<<10, 16<<10))
			require.Zero(t, fp.ErrorCode)
			offs, _, _ := batchValues(t, fp.RecordBatches)
			if len(offs) == 0 {
				break
			}
			fetched += int64(len(fp.RecordBatches))
			off = offs[len(offs)-1] + 1
		}
	}
	require.Positive(t, fetched)
	after := b.Stats()
	assert.GreaterOrEqual(t, after.SendfileBytes-before.SendfileBytes, fetched)
	assert.Zero(t, after.CopiedBytes)

	got := consume(t, b, topic, n)
	assert.Len(t, got, n)
	final := b.Stats()
	assert.GreaterOrEqual(t, final.SendfileBytes-after.SendfileBytes, fetched, "franz-go's fetches went out with sendfile")
	assert.Zero(t, final.CopiedBytes)
}

// TestClientLeavesDuringLongPoll: clients that close their connection
// while their fetch long-polls do not hurt the broker, and the connection
// is released (at the latest when max.wait.ms ends the fetch).
func TestClientLeavesDuringLongPoll(t *testing.T) {
	b := brokertest.Start(t)
	const topic = "leaver"
	createTopic(t, b, topic, 1)
	for range 3 {
		open := b.Stats().ConnectionsOpen
		c := rawConn(t, b)
		_ = startFetch(t, b, c, fetchRequest(topic, 0, 0, 300, 1, 1<<20, 1<<20)) // fails: closed below
		c.Close()
		waitFor(t, "the connection to close", func() bool { return b.Stats().ConnectionsOpen == open })
	}
	c := rawConn(t, b)
	sp := produceOne(t, c, topic, 0, 1, rawBatch(1000, []byte("still here")))
	require.Zero(t, sp.ErrorCode)
}

// TestLongPollEndsWhenTopicDeleted: a fetch long-polling on a topic that
// gets deleted answers at once with UNKNOWN_TOPIC_OR_PARTITION (as Kafka
// completes such a delayed fetch), not after max.wait.ms.
func TestLongPollEndsWhenTopicDeleted(t *testing.T) {
	b := brokertest.Start(t, "auto.create.topics.enable=false")
	const topic = "doomed"
	createTopic(t, b, topic, 1)
	got := startFetch(t, b, rawConn(t, b), fetchRequest(topic, 0, 0, 10*60*1000, 1, 1<<20, 1<<20))
	c := rawConn(t, b)
	dt := kmsg.NewPtrDeleteTopicsRequest()
	dt.TimeoutMillis, dt.TopicNames = 30000, []string{topic}
	require.Zero(t, request[*kmsg.DeleteTopicsResponse](t, c, dt, 3).Topics[0].ErrorCode)
	a := <-got
	require.NoError(t, a.err)
	fp := a.resp.Topics[0].Partitions[0]
	assert.Equal(t, code(kerr.UnknownTopicOrPartition.Code), code(fp.ErrorCode))
}
