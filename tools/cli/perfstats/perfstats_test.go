package perfstats

import (
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRecorderTotalsAndPercentiles(t *testing.T) {
	start := time.Unix(1000, 0)
	r := NewRecorder(100, start)
	for i := 1; i <= 100; i++ {
		r.Record(10, time.Duration(i)*time.Millisecond)
	}
	w := r.Total()
	assert.Equal(t, int64(100), w.Count)
	assert.Equal(t, int64(1000), w.Bytes)
	assert.Equal(t, 100*time.Millisecond, w.MaxLatency)
	p := r.Percentiles(0, 0.5, 0.99, 1)
	assert.Equal(t, []time.Duration{1 * time.Millisecond, 51 * time.Millisecond, 100 * time.Millisecond, 100 * time.Millisecond}, p)

	line := r.TotalLine(start.Add(2 * time.Second))
	assert.Equal(t, "100 records sent, 50.000000 records/sec (0.00 MB/sec), 50.50 ms avg latency, 100.00 ms max latency, 51 ms 50th, 96 ms 95th, 100 ms 99th, 100 ms 99.9th.", line)

	win := r.Rotate(start.Add(time.Second))
	assert.Equal(t, int64(100), win.Count)
	assert.Equal(t, int64(0), r.Rotate(start.Add(2*time.Second)).Count)
	assert.Regexp(t, regexp.MustCompile(`^100 records sent, 100\.0 records/sec \(0\.00 MB/sec\), 50\.5 ms avg latency, 100\.0 ms max latency\.$`),
		WindowLine(win, start.Add(time.Second)))
}

func TestRecorderSamplingBounded(t *testing.T) {
	r := NewRecorder(2*maxSamples, time.Unix(0, 0))
	for i := 0; i < 2*maxSamples; i++ {
		r.Record(1, time.Microsecond)
	}
	r.mu.Lock()
	n := len(r.mu.samples)
	r.mu.Unlock()
	require.LessOrEqual(t, n, maxSamples)
	assert.Greater(t, n, maxSamples/2)
}

func TestThrottler(t *testing.T) {
	start := time.Unix(0, 0)
	th := NewThrottler(10, start)
	assert.Equal(t, time.Duration(0), th.Wait(0, start))
	assert.Equal(t, 500*time.Millisecond, th.Wait(5, start))
	assert.Equal(t, time.Duration(0), th.Wait(5, start.Add(time.Second)))
	assert.Equal(t, time.Duration(0), NewThrottler(-1, start).Wait(1e9, start))
}
