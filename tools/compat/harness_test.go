package compat

// The case harness: one case = a fresh topic, a client producing and then
// consuming recordsPerCase records, and three independent checks of the
// result (what the client consumed, what franz-go reads back from the
// broker, and the stored batch headers: codec, producer id, sequences).

import (
	"context"
	"encoding/binary"
	"fmt"
	"strings"
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

// caseDeadline bounds how long any one step of a case may wait on the
// broker or a client before the case fails. It is a hang guard, not a
// performance assertion: healthy steps take a small fraction of it.
const caseDeadline = 2 * time.Minute

// codec is a Kafka compression codec by the name clients use for it.
type codec string

// The codecs of record batch attributes bits 0-2, in attribute order.
const (
	codecNone   codec = "none"
	codecGzip   codec = "gzip"
	codecSnappy codec = "snappy"
	codecLZ4    codec = "lz4"
	codecZstd   codec = "zstd"
)

// allCodecs lists every codec in the order of their attribute values.
var allCodecs = []codec{codecNone, codecGzip, codecSnappy, codecLZ4, codecZstd}

// attr returns the codec's value in record batch attributes bits 0-2.
func (c codec) attr() int16 {
	for i, x := range allCodecs {
		if x == c {
			return int16(i)
		}
	}
	panic("unknown codec " + string(c))
}

// caseSpec is one compatibility case for a client.
type caseSpec struct {
	codec      codec
	partitions int32
	// idempotent says the producer under test is idempotent, so every
	// stored batch must carry a producer id and gap-free sequences.
	idempotent bool
	// failover says a partition leader may die during the case: the
	// client is configured to retry for as long as a leader election
	// takes (a ZooKeeper session timeout and then some), as its
	// documentation advises for fault tolerance, where its defaults give
	// up sooner (sarama: 3 retries 100 ms apart; kafka-go: 10 attempts),
	// and to wait for acks=all at least 30 s like the other clients.
	failover bool
	gen      genOpts
}

func (cs caseSpec) name() string {
	n := fmt.Sprintf("codec=%s/partitions=%d", cs.codec, cs.partitions)
	if cs.idempotent {
		n += "/idempotent"
	}
	return n
}

// multiPartitionCodec is the codec of each client's multi-partition case:
// gzip, because every client can do it without optional modules.
const multiPartitionCodec = codecGzip

// matrix returns a client's standard cases: every codec on one partition,
// plus one case on three partitions.
func matrix(idempotent bool, gen genOpts) []caseSpec {
	var cases []caseSpec
	for _, c := range allCodecs {
		cases = append(cases, caseSpec{codec: c, partitions: 1, idempotent: idempotent, gen: gen})
	}
	return append(cases, caseSpec{codec: multiPartitionCodec, partitions: 3, idempotent: idempotent, gen: gen})
}

// roundTrip produces recs to topic through one client and returns what the
// same client then consumes from topic (every partition, from the start).
type roundTrip func(t *testing.T, bootstrap, topic string, cs caseSpec, recs []record) []consumed

// runMatrix runs each case against one broker as a parallel subtest.
func runMatrix(t *testing.T, bootstrap string, cases []caseSpec, rt roundTrip) {
	t.Helper()
	for _, cs := range cases {
		t.Run(cs.name(), func(t *testing.T) {
			t.Parallel()
			runCase(t, bootstrap, cs, rt)
		})
	}
}

// runCase runs one case on a fresh topic and checks it.
func runCase(t *testing.T, bootstrap string, cs caseSpec, rt roundTrip) {
	t.Helper()
	topic := topicFor(t)
	createTopic(t, bootstrap, topic, cs.partitions)
	runCaseOn(t, bootstrap, topic, cs, rt)
}

// runCaseOn runs one case on an existing empty topic and checks it: what
// the client read back, what franz-go reads, the stored batches.
func runCaseOn(t *testing.T, bootstrap, topic string, cs caseSpec, rt roundTrip) {
	t.Helper()
	recs := genRecords(newRNG(t), recordsPerCase, cs.gen)

	got := rt(t, bootstrap, topic, cs, recs)
	verifyConsumed(t, "client consumer", recs, got, cs.partitions)

	stored := readAll(t, bootstrap, topic, len(recs))
	verifyConsumed(t, "franz-go reader", recs, stored, cs.partitions)

	checkBatches(t, cs, storedBatches(t, bootstrap, topic, cs.partitions))
}

// topicFor derives a unique, legal topic name from the test's name.
func topicFor(t *testing.T) string {
	r := strings.NewReplacer("/", ".", "=", "-", " ", "_")
	return "compat." + r.Replace(t.Name())
}

func newKgo(t *testing.T, bootstrap string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(bootstrap)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(cl.Close)
	return cl
}

func caseContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), caseDeadline)
	t.Cleanup(cancel)
	return ctx
}

// createTopic creates topic with the given partition count, replication 1.
func createTopic(t *testing.T, bootstrap, topic string, partitions int32) {
	t.Helper()
	adm := kadm.NewClient(newKgo(t, bootstrap))
	resp, err := adm.CreateTopic(caseContext(t), partitions, 1, nil, topic)
	require.NoError(t, err, "create topic %s", topic)
	require.NoError(t, resp.Err, "create topic %s", topic)
}

// endOffsets returns each partition's end offset (high watermark).
func endOffsets(t *testing.T, bootstrap, topic string) map[int32]int64 {
	t.Helper()
	adm := kadm.NewClient(newKgo(t, bootstrap))
	ends, err := adm.ListEndOffsets(caseContext(t), topic)
	require.NoError(t, err)
	out := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		require.NoError(t, o.Err, "end offset of %s/%d", o.Topic, o.Partition)
		out[o.Partition] = o.Offset
	})
	return out
}

// readAll reads n records of topic from the start with a plain franz-go
// consumer (no group), independent of the client under test.
func readAll(t *testing.T, bootstrap, topic string, n int) []consumed {
	t.Helper()
	cl := newKgo(t, bootstrap,
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(200*time.Millisecond),
	)
	return pollKgo(t, cl, n)
}

// pollKgo polls cl until it returned n records.
func pollKgo(t *testing.T, cl *kgo.Client, n int) []consumed {
	t.Helper()
	ctx := caseContext(t)
	out := make([]consumed, 0, n)
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		require.NoError(t, ctx.Err(), "consumed %d of %d records", len(out), n)
		for _, fe := range fs.Errors() {
			// A retriable error (a leader or coordinator moving) is
			// franz-go telling what it rides out; the records must still
			// all arrive.
			if kerr.IsRetriable(fe.Err) {
				t.Logf("fetch %s/%d: %v (retried)", fe.Topic, fe.Partition, fe.Err)
				continue
			}
			require.NoError(t, fe.Err, "fetch %s/%d", fe.Topic, fe.Partition)
		}
		fs.EachRecord(func(r *kgo.Record) {
			c := consumed{Partition: r.Partition, Offset: r.Offset, record: record{Key: r.Key, Value: r.Value}}
			for _, h := range r.Headers {
				c.Headers = append(c.Headers, header{Key: h.Key, Value: h.Value})
			}
			out = append(out, c)
		})
	}
	return out
}

// batchInfo is the header of one stored record batch.
type batchInfo struct {
	Partition     int32
	FirstOffset   int64
	NumRecords    int32
	Attributes    int16
	ProducerID    int64
	ProducerEpoch int16
	FirstSequence int32
}

// fetchMaxBytes is large enough for a whole case's partition in one fetch.
const fetchMaxBytes = 32 << 20

// storedBatches fetches every batch of topic raw (no decompression) and
// returns their headers in offset order per partition.
func storedBatches(t *testing.T, bootstrap, topic string, partitions int32) []batchInfo {
	t.Helper()
	// Fetch v12 is the last version that names topics rather than ids.
	cl := newKgo(t, bootstrap, kgo.MaxVersions(kversion.V3_0_0()))
	ctx := caseContext(t)
	ends := endOffsets(t, bootstrap, topic)
	// Each partition is fetched from its leader (in a cluster, another
	// broker answers NOT_LEADER_OR_FOLLOWER).
	md, err := kadm.NewClient(cl).Metadata(ctx, topic)
	require.NoError(t, err)
	var out []batchInfo
	for p := range partitions {
		for off := int64(0); off < ends[p]; {
			req := kmsg.NewPtrFetchRequest()
			req.ReplicaID = -1
			req.MaxWaitMillis = 100
			req.MinBytes = 1
			req.MaxBytes = fetchMaxBytes
			req.SessionEpoch = -1
			rt := kmsg.NewFetchRequestTopic()
			rt.Topic = topic
			rp := kmsg.NewFetchRequestTopicPartition()
			rp.Partition = p
			rp.FetchOffset = off
			rp.PartitionMaxBytes = fetchMaxBytes
			rp.CurrentLeaderEpoch = -1
			rp.LogStartOffset = -1
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			leader := md.Topics[topic].Partitions[p].Leader
			kresp, err := cl.Broker(int(leader)).Request(ctx, req)
			resp, _ := kresp.(*kmsg.FetchResponse)
			require.NoError(t, err, "raw fetch %s/%d@%d", topic, p, off)
			require.NoError(t, kerr.ErrorForCode(resp.ErrorCode))
			require.Len(t, resp.Topics, 1)
			require.Len(t, resp.Topics[0].Partitions, 1)
			part := resp.Topics[0].Partitions[0]
			require.NoError(t, kerr.ErrorForCode(part.ErrorCode), "raw fetch %s/%d@%d", topic, p, off)
			batches := parseBatches(t, p, part.RecordBatches)
			require.NotEmpty(t, batches, "raw fetch %s/%d@%d below end %d returned no whole batch", topic, p, off, ends[p])
			for _, b := range batches {
				if b.FirstOffset+int64(b.NumRecords) > off {
					out = append(out, b)
				}
			}
			last := batches[len(batches)-1]
			off = last.FirstOffset + int64(last.NumRecords)
		}
	}
	return out
}

// parseBatches decodes the batch headers in a fetch response's record bytes,
// ignoring a trailing partial batch.
func parseBatches(t *testing.T, partition int32, b []byte) []batchInfo {
	t.Helper()
	var out []batchInfo
	for len(b) >= 12 {
		size := 12 + int(binary.BigEndian.Uint32(b[8:12]))
		if size > len(b) {
			break
		}
		var rb kmsg.RecordBatch
		require.NoError(t, rb.ReadFrom(b[:size]))
		require.EqualValues(t, 2, rb.Magic, "stored batch magic")
		require.Equal(t, rb.LastOffsetDelta+1, rb.NumRecords, "batch at %d: records vs offset delta", rb.FirstOffset)
		out = append(out, batchInfo{
			Partition:     partition,
			FirstOffset:   rb.FirstOffset,
			NumRecords:    rb.NumRecords,
			Attributes:    rb.Attributes,
			ProducerID:    rb.ProducerID,
			ProducerEpoch: rb.ProducerEpoch,
			FirstSequence: rb.FirstSequence,
		})
		b = b[size:]
	}
	return out
}

// Record batch attribute bits the checks look at.
const (
	attrCodecMask     = 0x07
	attrTransactional = 0x10
	attrControl       = 0x20
)

// minCompressedShare is the share of a compressed case's records that must
// sit in batches carrying the case's codec. Clients may send a batch
// uncompressed when compression does not shrink it (kafka-python and
// librdkafka do, typically for a batch of one or two records), but a client
// that quietly sends everything uncompressed (librdkafka does when the
// broker does not advertise the versions it wants) must fail.
const minCompressedShare = 0.9

// checkBatches checks the stored batch headers: each batch carries the
// case's codec (or none, see minCompressedShare), is neither transactional
// nor a control batch, and, for idempotent cases, carries a producer id with
// gap-free sequences starting at 0.
func checkBatches(t *testing.T, cs caseSpec, batches []batchInfo) {
	t.Helper()
	require.NotEmpty(t, batches)
	type pidPart struct {
		pid       int64
		partition int32
	}
	nextSeq := map[pidPart]int32{}
	var records, withCodec int64
	bad := 0
	for _, b := range batches {
		records += int64(b.NumRecords)
		c := b.Attributes & attrCodecMask
		if c == cs.codec.attr() {
			withCodec += int64(b.NumRecords)
		}
		ok := assert.Contains(t, []int16{cs.codec.attr(), codecNone.attr()}, c, "batch %d/%d: stored codec", b.Partition, b.FirstOffset) &&
			assert.Zero(t, b.Attributes&(attrTransactional|attrControl), "batch %d/%d: attributes %#x", b.Partition, b.FirstOffset, b.Attributes)
		if ok && cs.idempotent {
			k := pidPart{b.ProducerID, b.Partition}
			ok = assert.GreaterOrEqual(t, b.ProducerID, int64(0), "batch %d/%d: idempotent producer id", b.Partition, b.FirstOffset) &&
				assert.Equal(t, nextSeq[k], b.FirstSequence, "batch %d/%d: sequence", b.Partition, b.FirstOffset)
			nextSeq[k] = b.FirstSequence + b.NumRecords
		}
		if !ok {
			if bad++; bad >= maxReported {
				t.Errorf("stopping batch checks after %d bad batches of %d", bad, len(batches))
				return
			}
		}
	}
	assert.GreaterOrEqual(t, float64(withCodec), minCompressedShare*float64(records),
		"only %d of %d records stored with codec %s: did the client fall back to no compression?", withCodec, records, cs.codec)
	t.Logf("%d records stored in %d batches", records, len(batches))
}
