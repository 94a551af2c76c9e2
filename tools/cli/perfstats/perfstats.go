// Package perfstats collects the latency and throughput figures the perf
// tools print: totals, a sampled latency set for percentiles (at most
// maxSamples kept, like Kafka's tools), and reporting windows.
//
// A Recorder is safe for concurrent use (producer callbacks run on client
// goroutines); every method takes its mutex.
package perfstats

import (
	"fmt"
	"math"
	"sort"
	"sync"
	"time"
)

// maxSamples bounds the latencies kept for percentiles.
const maxSamples = 500_000

// Recorder accumulates per-record results.
type Recorder struct {
	mu struct {
		sync.Mutex
		// Invariant: len(samples) <= maxSamples.
		samples  []time.Duration
		sampling int64 // keep every sampling-th record
		iter     int64 // records recorded, including errors' neighbours
		total    Window
		window   Window
	}
}

// Window is the totals of one reporting period (or of the whole run).
type Window struct {
	// Start is when the period began.
	Start time.Time
	// Count and Bytes are the records and payload bytes completed.
	Count, Bytes int64
	// TotalLatency and MaxLatency are over Count records.
	TotalLatency, MaxLatency time.Duration
}

// NewRecorder expects about expected records (for the sampling rate);
// start is the start of the run and of the first window.
func NewRecorder(expected int64, start time.Time) *Recorder {
	r := &Recorder{}
	r.mu.sampling = max(1, expected/min(max(expected, 1), maxSamples))
	r.mu.total.Start, r.mu.window.Start = start, start
	return r
}

// Record adds one completed record of size bytes and its latency.
func (r *Recorder) Record(bytes int, latency time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.mu.iter%r.mu.sampling == 0 && len(r.mu.samples) < maxSamples {
		r.mu.samples = append(r.mu.samples, latency)
	}
	r.mu.iter++
	for _, w := range []*Window{&r.mu.total, &r.mu.window} {
		w.Count++
		w.Bytes += int64(bytes)
		w.TotalLatency += latency
		w.MaxLatency = max(w.MaxLatency, latency)
	}
}

// Rotate returns the current window and starts a new one at now.
func (r *Recorder) Rotate(now time.Time) Window {
	r.mu.Lock()
	defer r.mu.Unlock()
	w := r.mu.window
	r.mu.window = Window{Start: now}
	return w
}

// Total returns the totals of the whole run.
func (r *Recorder) Total() Window {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mu.total
}

// Percentiles returns the latency at each fraction (0.5, 0.99, ...) of the
// sampled set, picked like Kafka does: sorted[int(p*len)].
func (r *Recorder) Percentiles(ps ...float64) []time.Duration {
	r.mu.Lock()
	s := append([]time.Duration(nil), r.mu.samples...)
	r.mu.Unlock()
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	out := make([]time.Duration, len(ps))
	if len(s) == 0 {
		return out
	}
	for i, p := range ps {
		out[i] = s[min(len(s)-1, int(p*float64(len(s))))]
	}
	return out
}

// Rate returns count per second over elapsed (0 when elapsed is 0).
func Rate(count float64, elapsed time.Duration) float64 {
	if elapsed <= 0 {
		return 0
	}
	return count / elapsed.Seconds()
}

// MB converts bytes to MiB, the unit Kafka's tools call MB.
func MB(bytes int64) float64 { return float64(bytes) / (1024 * 1024) }

// Ms is d in fractional milliseconds.
func Ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// WindowLine is Kafka ProducerPerformance's periodic line for w, ending at
// now.
func WindowLine(w Window, now time.Time) string {
	elapsed := now.Sub(w.Start)
	avg := 0.0
	if w.Count > 0 {
		avg = Ms(w.TotalLatency) / float64(w.Count)
	}
	return fmt.Sprintf("%d records sent, %.1f records/sec (%.2f MB/sec), %.1f ms avg latency, %.1f ms max latency.",
		w.Count, Rate(float64(w.Count), elapsed), Rate(MB(w.Bytes), elapsed), avg, Ms(w.MaxLatency))
}

// TotalLine is Kafka ProducerPerformance's final line.
func (r *Recorder) TotalLine(now time.Time) string {
	w := r.Total()
	elapsed := now.Sub(w.Start)
	avg := 0.0
	if w.Count > 0 {
		avg = Ms(w.TotalLatency) / float64(w.Count)
	}
	p := r.Percentiles(0.5, 0.95, 0.99, 0.999)
	return fmt.Sprintf("%d records sent, %f records/sec (%.2f MB/sec), %.2f ms avg latency, %.2f ms max latency, %d ms 50th, %d ms 95th, %d ms 99th, %d ms 99.9th.",
		w.Count, Rate(float64(w.Count), elapsed), Rate(MB(w.Bytes), elapsed), avg, Ms(w.MaxLatency),
		p[0].Milliseconds(), p[1].Milliseconds(), p[2].Milliseconds(), p[3].Milliseconds())
}

// Throttler paces a loop to at most perSec iterations a second; perSec < 0
// means unlimited.
type Throttler struct {
	perSec float64
	start  time.Time
}

// NewThrottler starts pacing at start.
func NewThrottler(perSec float64, start time.Time) *Throttler {
	return &Throttler{perSec: perSec, start: start}
}

// Wait returns how long to wait before iteration i (0-based) at now.
func (t *Throttler) Wait(i int64, now time.Time) time.Duration {
	if t.perSec < 0 || math.IsInf(t.perSec, 1) {
		return 0
	}
	if t.perSec == 0 {
		return time.Hour // Kafka: throughput 0 sends nothing
	}
	due := t.start.Add(time.Duration(float64(i) / t.perSec * float64(time.Second)))
	if d := due.Sub(now); d > 0 {
		return d
	}
	return 0
}
