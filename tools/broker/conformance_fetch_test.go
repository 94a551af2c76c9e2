package broker_test

// Regression tests for issue #12's Fetch and Produce items, on a real
// in-process broker with exact kmsg requests.

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

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
