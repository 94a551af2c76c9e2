package broker_test

// Shared helpers for the broker's integration tests: franz-go clients and
// raw connections (net/client, versions pinned exactly) against a broker
// started in-process by brokertest, hand-built record batches, and
// condition waits with generous deadlines (hang guards, never timing
// assertions).

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/net/client"
	"github.com/strom-broker/strom/tools/broker/brokertest"
)

// deadline bounds any single wait on the broker; healthy steps take a tiny
// fraction of it.
const deadline = 90 * time.Second

// testCtx returns a context ending at the hang-guard deadline.
func testCtx(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	t.Cleanup(cancel)
	return ctx
}

// newClient returns a franz-go client for b, closed when t ends.
func newClient(t testing.TB, b *brokertest.Broker, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(b.Addr())}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(cl.Close)
	return cl
}

// newAdmin returns a kadm client for b.
func newAdmin(t testing.TB, b *brokertest.Broker) *kadm.Client {
	t.Helper()
	return kadm.NewClient(newClient(t, b))
}

// rawConn returns one raw connection to b (net/client), closed when t ends.
func rawConn(t testing.TB, b *brokertest.Broker) *client.Client {
	t.Helper()
	c, err := client.Dial(testCtx(t), b.Addr(), "strom-broker-test")
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// request sends req at exactly version v on c and requires an answer (a
// closed connection fails the test).
func request[R kmsg.Response](t testing.TB, c *client.Client, req kmsg.Request, v int16) R {
	t.Helper()
	req.SetVersion(v)
	resp, err := c.RequestVersion(testCtx(t), req)
	require.NoError(t, err, "%s v%d", kmsg.NameForKey(req.Key()), v)
	r, ok := resp.(R)
	require.True(t, ok, "%s v%d: response type %T", kmsg.NameForKey(req.Key()), v, resp)
	return r
}

// createTopic creates a topic with the given partitions (RF 1) and
// "key=value" configs.
func createTopic(t testing.TB, b *brokertest.Broker, topic string, partitions int32, configs ...string) {
	t.Helper()
	c := rawConn(t, b)
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, partitions, 1
	for _, kv := range configs {
		k, v, ok := cut(kv)
		require.True(t, ok, kv)
		c := kmsg.NewCreateTopicsRequestTopicConfig()
		c.Name, c.Value = k, &v
		rt.Configs = append(rt.Configs, c)
	}
	req.Topics = append(req.Topics, rt)
	req.TimeoutMillis = 30000
	resp := request[*kmsg.CreateTopicsResponse](t, c, req, 5)
	require.Len(t, resp.Topics, 1)
	require.Zero(t, resp.Topics[0].ErrorCode, "create %s: %s", topic, deref(resp.Topics[0].ErrorMessage))
}

func cut(kv string) (string, string, bool) {
	for i := range kv {
		if kv[i] == '=' {
			return kv[:i], kv[i+1:], true
		}
	}
	return "", "", false
}

// value returns a distinct, checkable record value.
func value(producer, i int) []byte {
	return []byte(fmt.Sprintf("p%d-r%06d-%s", producer, i, strconv.Itoa(i*7919%1000)))
}

// produceAll produces records synchronously and fails on any error.
func produceAll(t testing.TB, cl *kgo.Client, recs ...*kgo.Record) {
	t.Helper()
	res := cl.ProduceSync(testCtx(t), recs...)
	require.NoError(t, res.FirstErr())
}

// consume reads from topic (all partitions, from the start) until n
// records arrived, and returns them.
func consume(t testing.TB, b *brokertest.Broker, topic string, n int) []*kgo.Record {
	t.Helper()
	cl := newClient(t, b, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(200*time.Millisecond))
	defer cl.Close()
	ctx := testCtx(t)
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		require.NoError(t, ctx.Err(), "consumed %d of %d", len(out), n)
		fs.EachError(func(topic string, p int32, err error) {
			t.Fatalf("fetch %s/%d: %v", topic, p, err)
		})
		out = append(out, fs.Records()...)
	}
	return out
}

// rawBatch builds an uncompressed magic-2 record batch of values with
// producer id -1, first timestamp ts and timestamps ts+i.
func rawBatch(ts int64, values ...[]byte) []byte {
	return idempotentBatch(ts, -1, -1, -1, values...)
}

// idempotentBatch is rawBatch with a producer id, epoch and base sequence.
func idempotentBatch(ts, pid int64, epoch int16, seq int32, values ...[]byte) []byte {
	var recs []byte
	for i, v := range values {
		var body []byte
		body = append(body, 0)                          // attributes
		body = binary.AppendVarint(body, int64(i))      // timestamp delta
		body = binary.AppendVarint(body, int64(i))      // offset delta
		body = binary.AppendVarint(body, -1)            // key: null
		body = binary.AppendVarint(body, int64(len(v))) // value length
		body = append(body, v...)
		body = binary.AppendVarint(body, 0) // headers
		recs = binary.AppendVarint(recs, int64(len(body)))
		recs = append(recs, body...)
	}
	b := make([]byte, 0, 61+len(recs))
	b = binary.BigEndian.AppendUint64(b, 0)                               // base offset
	b = binary.BigEndian.AppendUint32(b, uint32(49+len(recs)))            // batch length
	b = binary.BigEndian.AppendUint32(b, 0xffffffff)                      // partition leader epoch
	b = append(b, 2)                                                      // magic
	b = binary.BigEndian.AppendUint32(b, 0)                               // crc, below
	b = binary.BigEndian.AppendUint16(b, 0)                               // attributes
	b = binary.BigEndian.AppendUint32(b, uint32(len(values)-1))           // last offset delta
	b = binary.BigEndian.AppendUint64(b, uint64(ts))                      // first timestamp
	b = binary.BigEndian.AppendUint64(b, uint64(ts+int64(len(values))-1)) // max timestamp
	b = binary.BigEndian.AppendUint64(b, uint64(pid))                     // producer id
	b = binary.BigEndian.AppendUint16(b, uint16(epoch))                   // producer epoch
	b = binary.BigEndian.AppendUint32(b, uint32(seq))                     // base sequence
	b = binary.BigEndian.AppendUint32(b, uint32(len(values)))             // record count
	b = append(b, recs...)
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
	return b
}

// produceRequest is a Produce of one partition's records.
func produceRequest(topic string, partition int32, acks int16, records []byte) *kmsg.ProduceRequest {
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = acks, 30000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition, rp.Records = partition, records
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// produceOne sends one Produce (v9) and returns its partition answer.
func produceOne(t testing.TB, c *client.Client, topic string, partition int32, acks int16, records []byte) kmsg.ProduceResponseTopicPartition {
	t.Helper()
	resp := request[*kmsg.ProduceResponse](t, c, produceRequest(topic, partition, acks, records), 9)
	require.Len(t, resp.Topics, 1)
	require.Len(t, resp.Topics[0].Partitions, 1)
	return resp.Topics[0].Partitions[0]
}

// fetchRequest is a Fetch of one partition from offset.
func fetchRequest(topic string, partition int32, offset int64, maxWait, minBytes, maxBytes, partMax int32) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID = -1
	req.MaxWaitMillis, req.MinBytes, req.MaxBytes = maxWait, minBytes, maxBytes
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = partition, offset, partMax
	rp.CurrentLeaderEpoch, rp.LogStartOffset = -1, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// fetchOne sends a Fetch (v11, by name) and returns its one partition.
func fetchOne(t testing.TB, c *client.Client, req *kmsg.FetchRequest) kmsg.FetchResponseTopicPartition {
	t.Helper()
	resp := request[*kmsg.FetchResponse](t, c, req, 11)
	require.Zero(t, resp.ErrorCode)
	require.Len(t, resp.Topics, 1)
	require.Len(t, resp.Topics[0].Partitions, 1)
	return resp.Topics[0].Partitions[0]
}

// batchValues decodes the uncompressed batches of a fetch answer into
// (offset, value) pairs, and returns the batch count.
func batchValues(t testing.TB, records []byte) (offsets []int64, values [][]byte, batches int) {
	t.Helper()
	for len(records) >= 12 {
		var rb kmsg.RecordBatch
		n := int(binary.BigEndian.Uint32(records[8:])) + 12
		if n > len(records) {
			break // a partial batch at the end
		}
		require.NoError(t, rb.ReadFrom(records[:n]))
		records = records[n:]
		batches++
		require.Zero(t, rb.Attributes&7, "test batches are uncompressed")
		raw := rb.Records
		for range rb.NumRecords {
			l, m := binary.Varint(raw)
			require.Positive(t, m)
			var r kmsg.Record
			require.NoError(t, r.ReadFrom(raw[:m+int(l)]))
			raw = raw[m+int(l):]
			offsets = append(offsets, rb.FirstOffset+int64(r.OffsetDelta))
			values = append(values, r.Value)
		}
	}
	return offsets, values, batches
}

// waitFor polls cond until it holds, failing after the deadline.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(deadline)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// deref returns *s, or "" for nil.
func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// metadataTopic returns Metadata v12's answer for one topic (no error).
func metadataTopic(t testing.TB, c *client.Client, topic string) kmsg.MetadataResponseTopic {
	t.Helper()
	req := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = &topic
	req.Topics = append(req.Topics, mt)
	resp := request[*kmsg.MetadataResponse](t, c, req, 12)
	require.Len(t, resp.Topics, 1)
	require.Zero(t, resp.Topics[0].ErrorCode, code(resp.Topics[0].ErrorCode))
	return resp.Topics[0]
}

// fetchAnswer is what a Fetch sent by startFetch got.
type fetchAnswer struct {
	resp *kmsg.FetchResponse
	err  error
}

// startFetch sends req (at v11) on c in the background and returns once
// the broker has read it; the answer arrives on the channel.
func startFetch(t testing.TB, b *brokertest.Broker, c *client.Client, req *kmsg.FetchRequest) <-chan fetchAnswer {
	t.Helper()
	before := b.Stats().Requests
	got := make(chan fetchAnswer, 1)
	ctx := testCtx(t)
	go func() {
		req.SetVersion(11)
		resp, err := c.RequestVersion(ctx, req)
		r, _ := resp.(*kmsg.FetchResponse)
		got <- fetchAnswer{r, err}
	}()
	waitFor(t, "the fetch to reach the broker", func() bool { return b.Stats().Requests > before })
	return got
}
