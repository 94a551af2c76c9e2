package benchmarks

// Protocol codec benchmarks: a Produce request (6 partitions of one 16 KiB
// batch of 100-byte records) encoded and decoded with kmsg, and the matching
// Fetch response encoded by net/fetchwire (the broker's path; record bytes
// are referenced, not copied) against kmsg's encoder (which copies them),
// and decoded by kmsg as a client does.

import (
	"bytes"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/net/fetchwire"
)

const codecPartitions = 6

func produceRequest(batch []byte) *kmsg.ProduceRequest {
	req := kmsg.NewPtrProduceRequest()
	req.Version = 9
	req.Acks = -1
	req.TimeoutMillis = 30000
	t := kmsg.NewProduceRequestTopic()
	t.Topic = "bench"
	for p := range codecPartitions {
		pp := kmsg.NewProduceRequestTopicPartition()
		pp.Partition = int32(p)
		pp.Records = batch
		t.Partitions = append(t.Partitions, pp)
	}
	req.Topics = append(req.Topics, t)
	return req
}

// BenchmarkCodec: throughput is record bytes per second (b.SetBytes counts
// the record bytes, not the framing).
func BenchmarkCodec(b *testing.B) {
	batch := batchOf(16<<10, 100)
	recBytes := int64(codecPartitions * len(batch))

	b.Run("msg=produce/op=encode", func(b *testing.B) {
		req := produceRequest(batch)
		buf := make([]byte, 0, 2*recBytes)
		b.SetBytes(recBytes)
		b.ReportAllocs()
		for b.Loop() {
			buf = req.AppendTo(buf[:0])
		}
	})
	b.Run("msg=produce/op=decode", func(b *testing.B) {
		wire := produceRequest(batch).AppendTo(nil)
		b.SetBytes(recBytes)
		b.ReportAllocs()
		for b.Loop() {
			req := kmsg.NewPtrProduceRequest()
			req.Version = 9
			if err := req.ReadFrom(wire); err != nil {
				b.Fatal(err)
			}
		}
	})
	fetch := &fetchwire.FetchResponse{Version: 12, Topics: []fetchwire.Topic{{Topic: "bench"}}}
	kfetch := kmsg.NewPtrFetchResponse()
	kfetch.Version = 12
	kt := kmsg.NewFetchResponseTopic()
	kt.Topic = "bench"
	for p := range codecPartitions {
		fetch.Topics[0].Partitions = append(fetch.Topics[0].Partitions, fetchwire.Partition{
			Partition: int32(p), HighWatermark: 1 << 40, PreferredReadReplica: -1,
			Records: []fetchwire.Slice{fetchwire.Bytes(batch)},
		})
		kp := kmsg.NewFetchResponseTopicPartition()
		kp.Partition, kp.HighWatermark, kp.PreferredReadReplica = int32(p), 1<<40, -1
		kp.RecordBatches = batch
		kt.Partitions = append(kt.Partitions, kp)
	}
	kfetch.Topics = append(kfetch.Topics, kt)

	// fetchwire against kmsg in the same loop, alternating order.
	b.Run("msg=fetch/op=encode", func(b *testing.B) {
		var fw, km time.Duration
		kbuf := make([]byte, 0, 2*recBytes)
		fwEncode := func() {
			if _, err := fetch.Encode(1); err != nil {
				b.Fatal(err)
			}
		}
		kmEncode := func() { kbuf = kfetch.AppendTo(kbuf[:0]) }
		b.SetBytes(recBytes)
		b.ReportAllocs()
		for i := range b.N {
			if i%2 == 0 {
				timed(&fw, fwEncode)
				timed(&km, kmEncode)
			} else {
				timed(&km, kmEncode)
				timed(&fw, fwEncode)
			}
		}
		b.ReportMetric(float64(recBytes)*float64(b.N)/fw.Seconds()/1e6, "fetchwire_MB/s")
		b.ReportMetric(float64(recBytes)*float64(b.N)/km.Seconds()/1e6, "kmsg_MB/s")
		b.ReportMetric(km.Seconds()/fw.Seconds(), "x_kmsg")
	})
	b.Run("msg=fetch/op=decode", func(b *testing.B) {
		enc, err := fetch.Encode(1)
		if err != nil {
			b.Fatal(err)
		}
		var w bytes.Buffer
		if _, err := enc.WriteTo(&w, nil); err != nil {
			b.Fatal(err)
		}
		body := w.Bytes()[8:] // size prefix, correlation id (header v1 has one tag byte)
		body = body[1:]
		b.SetBytes(recBytes)
		b.ReportAllocs()
		for b.Loop() {
			resp := kmsg.NewPtrFetchResponse()
			resp.Version = 12
			if err := resp.ReadFrom(body); err != nil {
				b.Fatal(err)
			}
			if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != codecPartitions {
				b.Fatal("decoded the wrong shape")
			}
		}
	})
}
