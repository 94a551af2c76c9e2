package compat

import (
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/compress"
	"github.com/stretchr/testify/require"
)

// TestKafkaGo round-trips through segmentio/kafka-go: a Writer (hash
// balancer) for every codec and a partition Reader per partition.
// kafka-go has no idempotent producer.
func TestKafkaGo(t *testing.T) {
	bootstrap := startBroker(t)
	runMatrix(t, bootstrap, matrix(false, genOpts{}), kafkaGoRoundTrip)
}

var kafkaGoCodecs = map[codec]compress.Compression{
	codecNone:   0,
	codecGzip:   kafka.Gzip,
	codecSnappy: kafka.Snappy,
	codecLZ4:    kafka.Lz4,
	codecZstd:   kafka.Zstd,
}

func kafkaGoRoundTrip(t *testing.T, bootstrap, topic string, cs caseSpec, recs []record) []consumed {
	ctx := caseContext(t)
	// A transport per case: kafka-go's shared default transport caches
	// metadata per broker address, and would not yet know this case's topic.
	tr := &kafka.Transport{ClientID: "strom-compat"}
	defer tr.CloseIdleConnections()
	w := &kafka.Writer{
		Transport:    tr,
		Addr:         kafka.TCP(bootstrap),
		Topic:        topic,
		Balancer:     &kafka.Hash{},
		Compression:  kafkaGoCodecs[cs.codec],
		RequiredAcks: kafka.RequireAll,
		// Small batches, so a case crosses many batch boundaries; the
		// timeout only bounds how long a partial batch waits.
		BatchSize:    500,
		BatchTimeout: 10 * time.Millisecond,
	}
	if cs.failover {
		// Retry through a leader election (the default gives up after 10
		// attempts at most 1 s apart), and wait for acks=all as long as
		// the other clients do: a write that times out on the client
		// while the broker commits it is sent again (kafka-go has no
		// idempotent producer), a duplicate.
		w.MaxAttempts = 60
		w.WriteTimeout = time.Minute
		w.ErrorLogger = kafka.LoggerFunc(func(msg string, args ...any) { t.Logf("kafka-go: "+msg, args...) })
	}
	msgs := make([]kafka.Message, len(recs))
	for i, r := range recs {
		msgs[i] = kafka.Message{Key: r.Key, Value: r.Value}
		for _, h := range r.Headers {
			msgs[i].Headers = append(msgs[i].Headers, kafka.Header{Key: h.Key, Value: h.Value})
		}
	}
	require.NoError(t, w.WriteMessages(ctx, msgs...), "kafka-go WriteMessages")
	require.NoError(t, w.Close())

	ends := endOffsets(t, bootstrap, topic)
	var got []consumed
	for p := range cs.partitions {
		r := kafka.NewReader(kafka.ReaderConfig{
			Brokers:   []string{bootstrap},
			Topic:     topic,
			Partition: int(p),
			MinBytes:  1,
			MaxBytes:  fetchMaxBytes,
			MaxWait:   200 * time.Millisecond,
		})
		require.NoError(t, r.SetOffset(kafka.FirstOffset))
		for n := int64(0); n < ends[p]; n++ {
			m, err := r.ReadMessage(ctx)
			require.NoError(t, err, "kafka-go partition %d: read %d of %d", p, n, ends[p])
			c := consumed{Partition: int32(m.Partition), Offset: m.Offset, record: record{Key: m.Key, Value: m.Value}}
			for _, h := range m.Headers {
				c.Headers = append(c.Headers, header{Key: h.Key, Value: h.Value})
			}
			got = append(got, c)
		}
		require.NoError(t, r.Close())
	}
	return got
}
