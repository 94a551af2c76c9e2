package broker_test

import (
	"bytes"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strom-broker/strom/tools/broker/brokertest"
)

// TestRoundTrip produces with franz-go at every acks setting (acks=all
// with franz-go's default idempotent producer) to 1 and 6 partitions and
// reads every record back exactly once, in order per partition,
// byte-identical (key, value, headers).
func TestRoundTrip(t *testing.T) {
	b := brokertest.Start(t)
	const perPartition = 150
	for _, acks := range []struct {
		name string
		opts []kgo.Opt
	}{
		{"acks0", []kgo.Opt{kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite()}},
		{"acks1", []kgo.Opt{kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite()}},
		{"acksall-idempotent", nil},
	} {
		for _, parts := range []int32{1, 6} {
			t.Run(fmt.Sprintf("%s/partitions=%d", acks.name, parts), func(t *testing.T) {
				topic := fmt.Sprintf("rt-%s-%d", acks.name, parts)
				createTopic(t, b, topic, parts)
				cl := newClient(t, b, append(acks.opts, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0))...)
				var sent []*kgo.Record
				for i := range perPartition * int(parts) {
					r := &kgo.Record{
						Topic:     topic,
						Partition: int32(i) % parts,
						Key:       []byte(fmt.Sprintf("k%d", i)),
						Value:     value(0, i),
						Headers:   []kgo.RecordHeader{{Key: "i", Value: []byte{byte(i), byte(i >> 8)}}},
					}
					sent = append(sent, r)
				}
				produceAll(t, cl, sent...)

				got := consume(t, b, topic, len(sent))
				require.Len(t, got, len(sent), "every record exactly once")
				byPart := map[int32][]*kgo.Record{}
				for _, r := range got {
					byPart[r.Partition] = append(byPart[r.Partition], r)
				}
				for p := range parts {
					recs := byPart[p]
					require.Len(t, recs, perPartition, "partition %d", p)
					for j, r := range recs {
						want := sent[j*int(parts)+int(p)]
						assert.Equal(t, int64(j), r.Offset)
						assert.True(t, bytes.Equal(want.Key, r.Key), "key at %d/%d", p, j)
						assert.True(t, bytes.Equal(want.Value, r.Value), "value at %d/%d", p, j)
						assert.Equal(t, want.Headers, r.Headers)
					}
				}
			})
		}
	}
}

// TestManyClients runs 8 idempotent producers and 8 consumers at once on
// one 6-partition topic; every consumer sees every record exactly once,
// each producer's records in order within a partition.
func TestManyClients(t *testing.T) {
	b := brokertest.Start(t)
	const topic, producers, consumers, perProducer = "many", 8, 8, 400
	createTopic(t, b, topic, 6)

	var wg sync.WaitGroup
	errs := make(chan error, producers+consumers)
	results := make([][]*kgo.Record, consumers)
	for c := range consumers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.ConsumeTopics(topic),
				kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
			if err != nil {
				errs <- err
				return
			}
			defer cl.Close()
			ctx := testCtx(t)
			for len(results[c]) < producers*perProducer {
				fs := cl.PollFetches(ctx)
				if ctx.Err() != nil {
					errs <- fmt.Errorf("consumer %d: %d records: %w", c, len(results[c]), ctx.Err())
					return
				}
				if err := fs.Err(); err != nil {
					errs <- fmt.Errorf("consumer %d: %w", c, err)
					return
				}
				results[c] = append(results[c], fs.Records()...)
			}
		}()
	}
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
			if err != nil {
				errs <- err
				return
			}
			defer cl.Close()
			ctx := testCtx(t)
			var pwg sync.WaitGroup
			for i := range perProducer {
				pwg.Add(1)
				cl.Produce(ctx, &kgo.Record{Topic: topic, Key: []byte{byte(p)}, Value: value(p, i)}, func(_ *kgo.Record, err error) {
					defer pwg.Done()
					if err != nil {
						errs <- fmt.Errorf("producer %d: %w", p, err)
					}
				})
			}
			pwg.Wait()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	want := map[string]bool{}
	for p := range producers {
		for i := range perProducer {
			want[string(value(p, i))] = true
		}
	}
	for c, recs := range results {
		require.Len(t, recs, producers*perProducer, "consumer %d", c)
		seen := map[string]bool{}
		last := map[[2]int]int{} // (producer, partition) -> last index
		for _, r := range recs {
			v := string(r.Value)
			require.True(t, want[v], "consumer %d: unexpected record %q", c, v)
			require.False(t, seen[v], "consumer %d: duplicate %q", c, v)
			seen[v] = true
			var p, i int
			_, err := fmt.Sscanf(v, "p%d-r%06d-", &p, &i)
			require.NoError(t, err)
			k := [2]int{p, int(r.Partition)}
			if prev, ok := last[k]; ok {
				require.Greater(t, i, prev, "consumer %d: producer %d out of order in partition %d", c, p, r.Partition)
			}
			last[k] = i
		}
	}
}

// TestLargeRecordsSmallFetchLimits: records near max.message.bytes come
// back through a consumer whose fetch limits are far smaller (the first
// batch of a fetch is always returned whole, KIP-74), byte-identical.
func TestLargeRecordsSmallFetchLimits(t *testing.T) {
	b := brokertest.Start(t)
	const topic = "large"
	createTopic(t, b, topic, 1)
	cl := newClient(t, b, kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.ProducerLinger(0))
	var sent []*kgo.Record
	for i := range 5 {
		v := bytes.Repeat([]byte{byte('A' + i)}, 900<<10)
		copy(v, value(0, i))
		sent = append(sent, &kgo.Record{Topic: topic, Value: v})
		produceAll(t, cl, sent[i]) // one record per batch
	}
	consumer := newClient(t, b, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxBytes(100), kgo.FetchMaxPartitionBytes(100))
	ctx := testCtx(t)
	var got []*kgo.Record
	for len(got) < len(sent) {
		fs := consumer.PollFetches(ctx)
		require.NoError(t, ctx.Err(), "consumed %d of %d", len(got), len(sent))
		require.NoError(t, fs.Err())
		got = append(got, fs.Records()...)
	}
	require.Len(t, got, len(sent))
	for i, r := range got {
		assert.Equal(t, int64(i), r.Offset)
		assert.True(t, bytes.Equal(sent[i].Value, r.Value), "record %d", i)
	}
}
