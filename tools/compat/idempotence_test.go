package compat

// Idempotent produce at the wire level: batches built by hand with a
// producer id from InitProducerId, sent raw, resent as a retrying producer
// would, and the log inspected. The clients' idempotent defaults are covered
// by TestFranzGo (idempotent by default), TestKcat (enable.idempotence=true)
// and TestSarama (Producer.Idempotent).

import (
	"context"
	"encoding/binary"
	"hash/crc32"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// idempotentProducer sends hand-built batches for one producer id and epoch
// to one partition's leader.
type idempotentProducer struct {
	t      *testing.T
	leader *kgo.Broker
	topic  string
	pid    int64
	epoch  int16
}

func newIdempotentProducer(t *testing.T, bootstrap, topic string) *idempotentProducer {
	t.Helper()
	// Produce v9 (Kafka 3.0) still names topics rather than ids.
	cl := newKgo(t, bootstrap, kgo.MaxVersions(kversion.V3_0_0()))
	ctx := caseContext(t)

	md, err := kadm.NewClient(cl).Metadata(ctx, topic)
	require.NoError(t, err)
	part, ok := md.Topics[topic].Partitions[0]
	require.True(t, ok, "metadata lacks %s/0", topic)
	require.NoError(t, part.Err)

	init := kmsg.NewPtrInitProducerIDRequest()
	init.TransactionTimeoutMillis = 60_000
	resp, err := init.RequestWith(ctx, cl)
	require.NoError(t, err, "InitProducerId")
	require.NoError(t, kerr.ErrorForCode(resp.ErrorCode), "InitProducerId")
	require.GreaterOrEqual(t, resp.ProducerID, int64(0), "InitProducerId producer id")
	return &idempotentProducer{t: t, leader: cl.Broker(int(part.Leader)), topic: topic, pid: resp.ProducerID, epoch: resp.ProducerEpoch}
}

// batch encodes recs as one uncompressed v2 batch starting at sequence seq.
func (p *idempotentProducer) batch(seq int32, recs []record) []byte {
	ts := time.Now().UnixMilli()
	var body []byte
	for i, r := range recs {
		kr := kmsg.Record{OffsetDelta: int32(i), Key: r.Key, Value: r.Value}
		for _, h := range r.Headers {
			kr.Headers = append(kr.Headers, kmsg.Header{Key: h.Key, Value: h.Value})
		}
		// Length counts the bytes after its own varint; encoded once with
		// Length 0 (one varint byte) to measure them.
		kr.Length = int32(len(kr.AppendTo(nil)) - 1)
		body = kr.AppendTo(body)
	}
	rb := kmsg.RecordBatch{
		PartitionLeaderEpoch: -1,
		Magic:                2,
		LastOffsetDelta:      int32(len(recs) - 1),
		FirstTimestamp:       ts,
		MaxTimestamp:         ts,
		ProducerID:           p.pid,
		ProducerEpoch:        p.epoch,
		FirstSequence:        seq,
		NumRecords:           int32(len(recs)),
		Records:              body,
	}
	b := rb.AppendTo(nil)
	// batchLength (bytes 8-12) counts everything after it; the CRC
	// (bytes 17-21) covers attributes (byte 21) to the end.
	binary.BigEndian.PutUint32(b[8:12], uint32(len(b)-12))
	binary.BigEndian.PutUint32(b[17:21], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
	return b
}

// produce sends one batch with acks=all and returns the partition's answer.
func (p *idempotentProducer) produce(ctx context.Context, batch []byte) (baseOffset int64, err error) {
	p.t.Helper()
	req := kmsg.NewPtrProduceRequest()
	req.Acks = -1
	req.TimeoutMillis = 30_000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = p.topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition = 0
	rp.Records = batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, rerr := req.RequestWith(ctx, p.leader)
	require.NoError(p.t, rerr, "produce request")
	require.Len(p.t, resp.Topics, 1)
	require.Len(p.t, resp.Topics[0].Partitions, 1)
	part := resp.Topics[0].Partitions[0]
	return part.BaseOffset, kerr.ErrorForCode(part.ErrorCode)
}

// TestIdempotentRetryStoredOnce resends batches exactly as a producer
// retrying after a lost answer would (same producer id, epoch, sequence) and
// checks each is stored once and every resend is answered with the original
// base offset; a sequence gap is refused.
func TestIdempotentRetryStoredOnce(t *testing.T) {
	bootstrap := startBroker(t)
	topic := topicFor(t)
	createTopic(t, bootstrap, topic, 1)
	recs := genRecords(newRNG(t), 10, genOpts{})
	a, b := recs[:5], recs[5:]

	p := newIdempotentProducer(t, bootstrap, topic)
	ctx := caseContext(t)
	batchA, batchB := p.batch(0, a), p.batch(int32(len(a)), b)

	steps := []struct {
		name  string
		batch []byte
		want  int64
	}{
		{"first send of A", batchA, 0},
		{"retry of A", batchA, 0},
		{"first send of B", batchB, int64(len(a))},
		{"retry of B", batchB, int64(len(a))},
		{"late retry of A (within the last five batches)", batchA, 0},
	}
	for _, s := range steps {
		off, err := p.produce(ctx, s.batch)
		require.NoError(t, err, s.name)
		assert.Equal(t, s.want, off, "%s: base offset", s.name)
	}

	_, err := p.produce(ctx, p.batch(int32(len(recs)+3), a[:1]))
	require.ErrorIs(t, err, kerr.OutOfOrderSequenceNumber, "batch leaving a sequence gap")

	assert.Equal(t, map[int32]int64{0: int64(len(recs))}, endOffsets(t, bootstrap, topic), "log end after retries")
	verifyConsumed(t, "franz-go reader", recs, readAll(t, bootstrap, topic, len(recs)), 1)
	batches := storedBatches(t, bootstrap, topic, 1)
	require.Len(t, batches, 2, "stored batches")
	checkBatches(t, caseSpec{codec: codecNone, partitions: 1, idempotent: true}, batches)
	for _, sb := range batches {
		assert.Equal(t, p.pid, sb.ProducerID)
		assert.Equal(t, p.epoch, sb.ProducerEpoch)
	}
}
