package compat

import (
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/stretchr/testify/require"
)

// TestSarama round-trips through IBM/sarama: a SyncProducer (hash
// partitioner) for every codec, an idempotent SyncProducer, and a partition
// consumer per partition.
func TestSarama(t *testing.T) {
	bootstrap := startBroker(t)
	cases := append(matrix(false, genOpts{}),
		caseSpec{codec: codecLZ4, partitions: 3, idempotent: true})
	runMatrix(t, bootstrap, cases, saramaRoundTrip)
}

var saramaCodecs = map[codec]sarama.CompressionCodec{
	codecNone:   sarama.CompressionNone,
	codecGzip:   sarama.CompressionGZIP,
	codecSnappy: sarama.CompressionSnappy,
	codecLZ4:    sarama.CompressionLZ4,
	codecZstd:   sarama.CompressionZSTD,
}

func saramaConfig(cs caseSpec) *sarama.Config {
	cfg := sarama.NewConfig()
	cfg.ClientID = "strom-compat"
	// Kafka 2.1 is the first version with zstd; headers need 0.11.
	cfg.Version = sarama.V2_8_0_0
	cfg.Producer.Return.Successes = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Compression = saramaCodecs[cs.codec]
	cfg.Producer.Partitioner = sarama.NewHashPartitioner
	// Small batches, so a case crosses many batch boundaries. Messages
	// alone would leave a final partial batch waiting forever: Frequency
	// flushes it.
	cfg.Producer.Flush.Messages = 500
	cfg.Producer.Flush.MaxMessages = 500
	cfg.Producer.Flush.Frequency = 10 * time.Millisecond
	if cs.idempotent {
		cfg.Producer.Idempotent = true
		cfg.Net.MaxOpenRequests = 1
	}
	if cs.failover {
		// Retry through a leader election, and give acks=all as long as
		// the other clients do (a produce timeout while the broker
		// commits the batch would make the retry a duplicate).
		cfg.Producer.Timeout = time.Minute
		cfg.Producer.Retry.Max = 30
		cfg.Producer.Retry.Backoff = 500 * time.Millisecond
		cfg.Metadata.Retry.Max = 30
		cfg.Metadata.Retry.Backoff = 500 * time.Millisecond
	}
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	return cfg
}

func saramaRoundTrip(t *testing.T, bootstrap, topic string, cs caseSpec, recs []record) []consumed {
	cfg := saramaConfig(cs)
	prod, err := sarama.NewSyncProducer([]string{bootstrap}, cfg)
	require.NoError(t, err, "sarama producer")
	msgs := make([]*sarama.ProducerMessage, len(recs))
	for i, r := range recs {
		m := &sarama.ProducerMessage{Topic: topic, Key: sarama.ByteEncoder(r.Key), Value: sarama.ByteEncoder(r.Value)}
		for _, h := range r.Headers {
			m.Headers = append(m.Headers, sarama.RecordHeader{Key: []byte(h.Key), Value: h.Value})
		}
		msgs[i] = m
	}
	// SendMessages takes no context: bound it here so a hang fails the
	// case instead of the whole test binary.
	sent := make(chan error, 1)
	go func() { sent <- prod.SendMessages(msgs) }()
	select {
	case err := <-sent:
		require.NoError(t, err, "sarama SendMessages")
	case <-caseContext(t).Done():
		t.Fatalf("sarama SendMessages of %d records did not return within %v", len(msgs), caseDeadline)
	}
	require.NoError(t, prod.Close())

	ends := endOffsets(t, bootstrap, topic)
	cons, err := sarama.NewConsumer([]string{bootstrap}, cfg)
	require.NoError(t, err, "sarama consumer")
	defer func() { require.NoError(t, cons.Close()) }()
	ctx := caseContext(t)
	var got []consumed
	for p := range cs.partitions {
		pc, err := cons.ConsumePartition(topic, p, sarama.OffsetOldest)
		require.NoError(t, err, "sarama ConsumePartition %d", p)
		for n := int64(0); n < ends[p]; n++ {
			select {
			case m := <-pc.Messages():
				c := consumed{Partition: m.Partition, Offset: m.Offset, record: record{Key: m.Key, Value: m.Value}}
				for _, h := range m.Headers {
					c.Headers = append(c.Headers, header{Key: string(h.Key), Value: h.Value})
				}
				got = append(got, c)
			case err := <-pc.Errors():
				require.NoError(t, err, "sarama partition %d", p)
			case <-ctx.Done():
				t.Fatalf("sarama partition %d: consumed %d of %d records: %v", p, n, ends[p], ctx.Err())
			}
		}
		require.NoError(t, pc.Close())
	}
	return got
}
