package compat

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestFranzGo round-trips through franz-go (kgo) with its defaults: an
// idempotent producer, and a consumer-group consumer.
func TestFranzGo(t *testing.T) {
	bootstrap := startBroker(t)
	runMatrix(t, bootstrap, matrix(true, genOpts{}), franzRoundTrip)
}

func franzCodec(c codec) kgo.CompressionCodec {
	switch c {
	case codecGzip:
		return kgo.GzipCompression()
	case codecSnappy:
		return kgo.SnappyCompression()
	case codecLZ4:
		return kgo.Lz4Compression()
	case codecZstd:
		return kgo.ZstdCompression()
	}
	return kgo.NoCompression()
}

func franzRoundTrip(t *testing.T, bootstrap, topic string, cs caseSpec, recs []record) []consumed {
	ctx := caseContext(t)
	prod := newKgo(t, bootstrap,
		kgo.DefaultProduceTopic(topic),
		kgo.ProducerBatchCompression(franzCodec(cs.codec)),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		// Small batches, so a case crosses many batch boundaries.
		kgo.ProducerBatchMaxBytes(32<<10),
	)
	var (
		mu       sync.Mutex
		firstErr error
	)
	for _, r := range recs {
		kr := &kgo.Record{Key: r.Key, Value: r.Value}
		for _, h := range r.Headers {
			kr.Headers = append(kr.Headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
		}
		prod.Produce(ctx, kr, func(_ *kgo.Record, err error) {
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		})
	}
	require.NoError(t, prod.Flush(ctx))
	mu.Lock()
	require.NoError(t, firstErr, "franz-go produce")
	mu.Unlock()

	cons := newKgo(t, bootstrap,
		kgo.ConsumerGroup(topic+".group"),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(200*time.Millisecond),
	)
	return pollKgo(t, cons, len(recs))
}
