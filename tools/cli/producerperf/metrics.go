package producerperf

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/tools/cli/perfstats"
)

// metrics counts produce requests and batches through kgo hooks, for
// --print-metrics. Hooks run on client goroutines, hence the mutex.
type metrics struct {
	mu                           sync.Mutex
	requests, requestErrors      int64
	requestBytes                 int64
	batches, batchRecords        int64
	uncompressedBytes, wireBytes int64
	writeWait, timeToWrite       time.Duration
}

var (
	_ kgo.HookBrokerWrite         = (*metrics)(nil)
	_ kgo.HookProduceBatchWritten = (*metrics)(nil)
)

// OnBrokerWrite counts Produce requests.
func (m *metrics) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, bytes int, writeWait, timeToWrite time.Duration, err error) {
	if key != int16(kmsg.Produce) {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests++
	m.requestBytes += int64(bytes)
	m.writeWait += writeWait
	m.timeToWrite += timeToWrite
	if err != nil {
		m.requestErrors++
	}
}

// OnProduceBatchWritten counts acknowledged batches.
func (m *metrics) OnProduceBatchWritten(_ kgo.BrokerMetadata, _ string, _ int32, b kgo.ProduceBatchMetrics) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.batches++
	m.batchRecords += int64(b.NumRecords)
	m.uncompressedBytes += int64(b.UncompressedBytes)
	m.wireBytes += int64(b.CompressedBytes)
}

// print writes the metrics table, Kafka-style ("group:name : value").
func (m *metrics) print(w io.Writer, total perfstats.Window) {
	m.mu.Lock()
	defer m.mu.Unlock()
	div := func(a, b float64) float64 {
		if b == 0 {
			return 0
		}
		return a / b
	}
	rows := []struct {
		name  string
		value float64
	}{
		{"batch-size-avg", div(float64(m.wireBytes), float64(m.batches))},
		{"batch-total", float64(m.batches)},
		{"compression-rate-avg", div(float64(m.wireBytes), float64(m.uncompressedBytes))},
		{"outgoing-byte-total", float64(m.requestBytes)},
		{"record-send-total", float64(total.Count)},
		{"records-per-batch-avg", div(float64(m.batchRecords), float64(m.batches))},
		{"request-write-time-avg", div(perfstats.Ms(m.timeToWrite), float64(m.requests))},
		{"request-total", float64(m.requests)},
		{"request-error-total", float64(m.requestErrors)},
		{"request-write-wait-avg", div(perfstats.Ms(m.writeWait), float64(m.requests))},
	}
	fmt.Fprintf(w, "\n%-45s %s\n", "Metric Name", "Value")
	for _, r := range rows {
		fmt.Fprintf(w, "%-45s : %.3f\n", "producer-metrics:"+r.name, r.value)
	}
}
