package fetchwire

import (
	"fmt"
	"io"
	"syscall"
	"testing"
	"time"
)

// onlyWriter hides the TCP connection's type so WriteTo takes the
// pread+write copy path: the user-space baseline.
type onlyWriter struct{ io.Writer }

// cpuTime is the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchResponse is a Fetch v12 response of parts partitions, each with
// size bytes from one file.
func benchResponse(b *testing.B, parts, size int) *Encoded {
	f, _ := tempFile(b, parts*size)
	r := &FetchResponse{Version: 12, Topics: []Topic{{Topic: "bench"}}}
	for p := range parts {
		r.Topics[0].Partitions = append(r.Topics[0].Partitions, Partition{
			Partition: int32(p), HighWatermark: 1 << 40, PreferredReadReplica: -1,
			Records: []Slice{FileSlice(f, int64(p*size), int64(size))},
		})
	}
	enc, err := r.Encode(1)
	if err != nil {
		b.Fatal(err)
	}
	return enc
}

// runWrites writes enc b.N times to w while a goroutine drains r; it
// returns the wall and CPU time per byte.
func runWrites(b *testing.B, enc *Encoded, w io.Writer, r io.Reader) (wall, cpu float64) {
	drained := make(chan error, 1)
	want := int64(b.N) * enc.Size()
	go func() {
		_, err := io.CopyN(io.Discard, r, want)
		drained <- err
	}()
	var c Counters
	b.SetBytes(enc.Size())
	b.ResetTimer()
	b.StartTimer() // a previous runWrites in this benchmark stopped it
	start, cpu0 := time.Now(), cpuTime()
	for range b.N {
		if _, err := enc.WriteTo(w, &c); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-drained; err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	total := float64(want)
	return float64(time.Since(start).Nanoseconds()) / total, float64((cpuTime() - cpu0).Nanoseconds()) / total
}

// BenchmarkFetchWrite encodes and writes a file-backed Fetch response over
// loopback TCP with sendfile.
func BenchmarkFetchWrite(b *testing.B) {
	for _, size := range []int{64 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("partitions=4/bytes=%d", size), func(b *testing.B) {
			enc := benchResponse(b, 4, size)
			w, r := loopback(b)
			runWrites(b, enc, w, r)
		})
	}
}

// BenchmarkFetchSendfileVsCopy writes the same response with sendfile and
// with pread+write in one run and reports the ratios (copy / sendfile) of
// wall time and CPU time per byte; a ratio above 1 means sendfile is
// cheaper.
func BenchmarkFetchSendfileVsCopy(b *testing.B) {
	for _, size := range []int{64 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("bytes=%d", size), func(b *testing.B) {
			enc := benchResponse(b, 4, size)
			w1, r1 := loopback(b)
			sfWall, sfCPU := runWrites(b, enc, w1, r1)
			w2, r2 := loopback(b)
			cpWall, cpCPU := runWrites(b, enc, onlyWriter{w2}, r2)
			b.ReportMetric(sfCPU, "sendfile-cpu-ns/B")
			b.ReportMetric(cpCPU, "copy-cpu-ns/B")
			b.ReportMetric(cpWall/sfWall, "copy/sendfile-wall")
			b.ReportMetric(cpCPU/sfCPU, "copy/sendfile-cpu")
		})
	}
}

// BenchmarkFetchEncode measures laying out a response of many partitions
// (no I/O), against copying the same header bytes as a baseline.
func BenchmarkFetchEncode(b *testing.B) {
	r := &FetchResponse{Version: 13, Topics: []Topic{{TopicID: [16]byte{1}}}}
	for p := range 100 {
		r.Topics[0].Partitions = append(r.Topics[0].Partitions, Partition{
			Partition: int32(p), Records: []Slice{Bytes(make([]byte, 10))}, PreferredReadReplica: -1,
		})
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Encode(1); err != nil {
			b.Fatal(err)
		}
	}
}
