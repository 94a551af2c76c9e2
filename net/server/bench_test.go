package server

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/net/wire"
)

// produceFrame is a Produce v9 frame with parts partitions of batch bytes.
func produceFrame(parts, batch int) []byte {
	req := kmsg.NewPtrProduceRequest()
	req.Version, req.Acks, req.TimeoutMillis = 9, -1, 30000
	t := kmsg.NewProduceRequestTopic()
	t.Topic = "bench"
	for p := range parts {
		tp := kmsg.NewProduceRequestTopicPartition()
		tp.Partition, tp.Records = int32(p), bytes.Repeat([]byte{byte(p)}, batch)
		t.Partitions = append(t.Partitions, tp)
	}
	req.Topics = []kmsg.ProduceRequestTopic{t}
	return frame(req, 1)
}

// BenchmarkProduceDecode reads a Produce frame (framing, header, kmsg
// decode) and reports its cost relative to copying the frame's bytes once
// (the baseline, measured in the same run).
func BenchmarkProduceDecode(b *testing.B) {
	for _, tc := range []struct{ parts, batch int }{{1, 16 << 10}, {16, 16 << 10}, {100, 1 << 10}} {
		b.Run(fmt.Sprintf("partitions=%d/batch=%d", tc.parts, tc.batch), func(b *testing.B) {
			f := produceFrame(tc.parts, tc.batch)
			b.SetBytes(int64(len(f)))
			b.ReportAllocs()
			start := time.Now()
			for range b.N {
				frame, err := wire.ReadFrame(bytes.NewReader(f), wire.DefaultMaxFrameBytes)
				if err != nil {
					b.Fatal(err)
				}
				hdr, body, err := wire.ParseRequestHeader(frame)
				if err != nil {
					b.Fatal(err)
				}
				req := kmsg.RequestForKey(hdr.Key)
				req.SetVersion(hdr.Version)
				if err := req.ReadFrom(body); err != nil {
					b.Fatal(err)
				}
			}
			decode := time.Since(start)
			b.StopTimer()
			dst := make([]byte, len(f))
			start = time.Now()
			for range b.N {
				copy(dst, f)
			}
			b.ReportMetric(float64(decode)/float64(max(time.Since(start), 1)), "x-memcpy")
		})
	}
}
