package broker_test

// Regression tests for issue #12's Fetch and Produce items, on a real
// in-process broker with exact kmsg requests.

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/strom-broker/strom/net/client"
	"github.com/strom-broker/strom/tools/broker/brokertest"
)

// longMaxWait is the max.wait.ms of fetches that must be answered at
// once; answerBound is how long a test waits for such an answer: half of
// max.wait.ms, so a broker that long-polls cannot pass, while a healthy
// answer takes a tiny fraction of it.
const (
	longMaxWait = 60000
	answerBound = longMaxWait / 2 * time.Millisecond
)

// answeredBeforeMaxWait waits for a fetch started by startFetch and fails
// if it has not answered within answerBound.
func answeredBeforeMaxWait(t *testing.T, got <-chan fetchAnswer, what string) *kmsg.FetchResponse {
	t.Helper()
	select {
	case a := <-got:
		require.NoError(t, a.err, what)
		return a.resp
	case <-time.After(answerBound):
		t.Fatalf("%s: no answer within %v of a %d ms max.wait.ms: the broker long-polls", what, answerBound, longMaxWait)
		return nil
	}
}

// TestFetchAnswersAtOnce (#12 item 4): with max.wait.ms 60 s, a fetch
// answers at once (well before max.wait.ms) when min.bytes is 0, when any
// partition has an error, and for an offset past the log end or before
// the log start (OFFSET_OUT_OF_RANGE).
func TestFetchAnswersAtOnce(t *testing.T) {
	b := brokertest.Start(t)
	const topic = "at-once"
	createTopic(t, b, topic, 2)
	c := rawConn(t, b)
	for i := range 4 {
		require.Zero(t, produceOne(t, c, topic, 0, 1, rawBatch(1000, value(0, i))).ErrorCode)
	}
	require.Zero(t, deleteRecords(t, c, topic, 2).ErrorCode)

	// min.bytes 0 at the log end of an idle partition: empty, no error.
	resp := answeredBeforeMaxWait(t, startFetch(t, b, rawConn(t, b), fetchRequest(topic, 1, 0, longMaxWait, 0, 1<<20, 1<<20)), "min.bytes 0")
	fp := resp.Topics[0].Partitions[0]
	assert.Zero(t, fp.ErrorCode, code(fp.ErrorCode))
	assert.Empty(t, fp.RecordBatches)

	for _, off := range []int64{0, 1, 5, 1000} {
		resp := answeredBeforeMaxWait(t, startFetch(t, b, rawConn(t, b), fetchRequest(topic, 0, off, longMaxWait, 1, 1<<20, 1<<20)), "out of range")
		assertCode(t, kerr.OffsetOutOfRange, resp.Topics[0].Partitions[0].ErrorCode, "fetch offset out of range")
	}

	// An idle partition at its log end (would wait) beside a partition
	// in error: the error is answered at once.
	errorBeside := func(what string, bad func(*kmsg.FetchRequestTopicPartition)) {
		req := fetchRequest(topic, 1, 0, longMaxWait, 1, 1<<20, 1<<20)
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch = 0, 4, 1<<20, -1
		bad(&rp)
		req.Topics[0].Partitions = append(req.Topics[0].Partitions, rp)
		resp := answeredBeforeMaxWait(t, startFetch(t, b, rawConn(t, b), req), what)
		require.Len(t, resp.Topics[0].Partitions, 2)
		assert.Zero(t, resp.Topics[0].Partitions[0].ErrorCode, what)
		assert.NotZero(t, resp.Topics[0].Partitions[1].ErrorCode, what)
	}
	errorBeside("unknown partition", func(rp *kmsg.FetchRequestTopicPartition) { rp.Partition = 9 })
	errorBeside("leader epoch from the future", func(rp *kmsg.FetchRequestTopicPartition) { rp.CurrentLeaderEpoch = 7 })
	errorBeside("offset past the log end", func(rp *kmsg.FetchRequestTopicPartition) { rp.FetchOffset = 50 })

	// A fetch that should wait still waits: it is answered by a produce.
	got := startFetch(t, b, rawConn(t, b), fetchRequest(topic, 1, 0, longMaxWait, 1, 1<<20, 1<<20))
	select {
	case a := <-got:
		t.Fatalf("a fetch with nothing to read answered before data arrived: %+v", a)
	case <-time.After(50 * time.Millisecond):
	}
	require.Zero(t, produceOne(t, c, topic, 1, 1, rawBatch(1000, []byte("wake"))).ErrorCode)
	resp = answeredBeforeMaxWait(t, got, "woken by a produce")
	assert.NotEmpty(t, resp.Topics[0].Partitions[0].RecordBatches)
}

// withCompression returns batch with its compression attribute set to
// codec (the records are left as they are) and its CRC recomputed.
func withCompression(batch []byte, codec byte) []byte {
	b := append([]byte(nil), batch...)
	b[22] = b[22]&^7 | codec
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
	return b
}

// TestProduceRecordRules (#12 item 11): Produce v3-v6 with a zstd batch is
// UNSUPPORTED_COMPRESSION_TYPE (zstd needs v7, where a real zstd batch is
// stored); empty or null records are INVALID_RECORD; an acks=0 produce
// that fails closes its connection (after answering what came before),
// while one that succeeds leaves it open.
func TestProduceRecordRules(t *testing.T) {
	b := brokertest.Start(t, "auto.create.topics.enable=false")
	const topic = "record-rules"
	createTopic(t, b, topic, 1)
	c := rawConn(t, b)

	zstdLabel := withCompression(rawBatch(1000, []byte("not really zstd")), 4)
	for v := int16(3); v <= 6; v++ {
		resp := request[*kmsg.ProduceResponse](t, c, produceRequest(topic, 0, 1, zstdLabel), v)
		assertCode(t, kerr.UnsupportedCompressionType, resp.Topics[0].Partitions[0].ErrorCode, "zstd at v"+strconv.Itoa(int(v)))
	}
	for _, v := range []int16{3, 7, 9, 11} {
		for _, records := range [][]byte{nil, {}} {
			resp := request[*kmsg.ProduceResponse](t, c, produceRequest(topic, 0, 1, records), v)
			assertCode(t, kerr.InvalidRecord, resp.Topics[0].Partitions[0].ErrorCode, "empty records at v"+strconv.Itoa(int(v)))
		}
	}
	fp := fetchOne(t, c, fetchRequest(topic, 0, 0, 0, 1, 1<<20, 1<<20))
	assert.Zero(t, fp.HighWatermark, "nothing appended")

	v7 := kversion.V3_9_0()
	v7.SetMaxKeyVersion(0, 7)
	zstdProducer := newClient(t, b, kgo.MaxVersions(v7), kgo.ProducerBatchCompression(kgo.ZstdCompression()))
	produceAll(t, zstdProducer, &kgo.Record{Topic: topic, Value: bytes.Repeat([]byte("zstd at v7 "), 50)})
	got := consume(t, b, topic, 1)
	assert.Equal(t, bytes.Repeat([]byte("zstd at v7 "), 50), got[0].Value)

	fireAndForget := rawConn(t, b)
	for range 3 {
		_, err := fireAndForget.RequestVersion(testCtx(t), withVersion(produceRequest(topic, 0, 0, rawBatch(1000, []byte("acks=0"))), 9))
		require.NoError(t, err)
	}
	assert.Equal(t, int64(4), latestOffset(t, fireAndForget, topic), "a good acks=0 produce leaves the connection open")

	for _, bad := range []*kmsg.ProduceRequest{
		produceRequest("no-such-topic", 0, 0, rawBatch(1000, []byte("lost"))),
		produceRequest(topic, 0, 0, zstdLabel),
	} {
		conn := rawConn(t, b)
		_, err := conn.RequestVersion(testCtx(t), withVersion(bad, 5))
		require.NoError(t, err, "acks=0: nothing to wait for")
		_, err = conn.RequestVersion(testCtx(t), withVersion(kmsg.NewPtrMetadataRequest(), 12))
		require.Error(t, err, "the broker closes the connection of a failed acks=0 produce")
		assert.NoError(t, testCtx(t).Err())
	}
	assert.Equal(t, int64(4), latestOffset(t, rawConn(t, b), topic), "nothing appended by the failed produces")
}

// withVersion sets req's version and returns it.
func withVersion[R kmsg.Request](req R, v int16) R {
	req.SetVersion(v)
	return req
}

// latestOffset is partition 0's high watermark, from ListOffsets.
func latestOffset(t *testing.T, c *client.Client, topic string) int64 {
	t.Helper()
	p := listOffset(t, c, topic, -1, -1)
	require.Zero(t, p.ErrorCode, code(p.ErrorCode))
	return p.Offset
}
