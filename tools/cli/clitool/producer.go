package clitool

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// producerIgnored are Java-client producer properties that have no franz-go
// meaning; they are accepted silently so existing property files work.
var producerIgnored = map[string]bool{
	"max.request.size": true, "partitioner.class": true, "interceptor.classes": true,
}

// DefaultDeliveryTimeout is Kafka's delivery.timeout.ms: how long a record
// may wait in the client, including retries, before it fails.
const DefaultDeliveryTimeout = 120 * time.Second

// ProducerOpts maps Kafka producer properties (acks, compression.type,
// linger.ms, batch.size, enable.idempotence, client.id, retries,
// request.timeout.ms, delivery.timeout.ms, buffer.memory,
// max.in.flight.requests.per.connection) to kgo options. A malformed value
// is an error naming the property; an unknown property gets one warning
// line on warn.
func ProducerOpts(props map[string]string, warn io.Writer) ([]kgo.Opt, error) {
	var opts []kgo.Opt
	keys := sortedKeys(props)
	acksAll, idempotence := true, ""
	for _, k := range keys {
		v := strings.TrimSpace(props[k])
		bad := func(reason string) error {
			return Usagef("producer property %s=%q: %s", k, v, reason)
		}
		switch k {
		case "acks":
			switch strings.ToLower(v) {
			case "0":
				opts, acksAll = append(opts, kgo.RequiredAcks(kgo.NoAck())), false
			case "1":
				opts, acksAll = append(opts, kgo.RequiredAcks(kgo.LeaderAck())), false
			case "-1", "all":
				opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
			default:
				return nil, bad("want 0, 1, -1 or all")
			}
		case "compression.type":
			c, err := Compression(v)
			if err != nil {
				return nil, bad(err.Error())
			}
			opts = append(opts, kgo.ProducerBatchCompression(c))
		case "linger.ms":
			n, ok := intAtLeast(v, 64, 0)
			if !ok {
				return nil, bad("want milliseconds >= 0")
			}
			opts = append(opts, kgo.ProducerLinger(time.Duration(n)*time.Millisecond))
		case "batch.size":
			n, ok := intAtLeast(v, 32, 1)
			if !ok {
				return nil, bad("want bytes >= 1")
			}
			opts = append(opts, kgo.ProducerBatchMaxBytes(int32(n)))
		case "buffer.memory":
			n, ok := intAtLeast(v, 64, 1)
			if !ok {
				return nil, bad("want bytes >= 1")
			}
			opts = append(opts, kgo.MaxBufferedBytes(int(n)))
		case "enable.idempotence":
			if v != "true" && v != "false" {
				return nil, bad("want true or false")
			}
			idempotence = v
		case "retries":
			n, ok := intAtLeast(v, 32, 0)
			if !ok {
				return nil, bad("want a count >= 0")
			}
			opts = append(opts, kgo.RecordRetries(int(n)))
		case "request.timeout.ms", "delivery.timeout.ms":
			n, ok := intAtLeast(v, 64, 1)
			if !ok {
				return nil, bad("want milliseconds >= 1")
			}
			d := time.Duration(n) * time.Millisecond
			if k == "request.timeout.ms" {
				opts = append(opts, kgo.ProduceRequestTimeout(d))
			} else {
				opts = append(opts, kgo.RecordDeliveryTimeout(d))
			}
		case "max.in.flight.requests.per.connection":
			n, ok := intAtLeast(v, 32, 1)
			if !ok {
				return nil, bad("want a count >= 1")
			}
			opts = append(opts, kgo.MaxProduceRequestsInflightPerBroker(int(n)))
		default:
			opt, ok := commonOpt(k, v, warn)
			switch {
			case opt != nil:
				opts = append(opts, opt)
			case !ok && !producerIgnored[k]:
				fmt.Fprintf(warn, "WARN: ignoring unknown producer property %s\n", k)
			}
		}
	}
	if _, ok := props["delivery.timeout.ms"]; !ok {
		opts = append(opts, kgo.RecordDeliveryTimeout(DefaultDeliveryTimeout))
	}
	switch {
	case idempotence == "true" && !acksAll:
		return nil, Usagef("producer property enable.idempotence=true needs acks=all")
	case idempotence == "false" || !acksAll:
		// franz-go is idempotent by default, which requires acks=all.
		opts = append(opts, kgo.DisableIdempotentWrite())
	}
	return opts, nil
}

// Compression maps a Kafka codec name (none, gzip, snappy, lz4, zstd) to a
// kgo codec.
func Compression(name string) (kgo.CompressionCodec, error) {
	switch strings.ToLower(name) {
	case "none", "":
		return kgo.NoCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "zstd":
		return kgo.ZstdCompression(), nil
	}
	return kgo.CompressionCodec{}, fmt.Errorf("unknown codec %q (want none, gzip, snappy, lz4 or zstd)", name)
}

// intAtLeast parses v as a bits-wide integer no smaller than lo.
func intAtLeast(v string, bits int, lo int64) (int64, bool) {
	n, err := strconv.ParseInt(v, 10, bits)
	return n, err == nil && n >= lo
}
