package benchmarks

// Engine benchmarks: partlog append against a raw sequential write of the
// same bytes, and partlog read + sendfile against a raw sendfile of the same
// file range. Each iteration runs both sides, alternating which goes first,
// and times each separately (the engine's own engine/partlog benchmarks do
// the same; these are the tracked, gated copies through the public API).

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/strom-broker/strom/engine/partlog"
	"github.com/strom-broker/strom/engine/record"
)

// batchOf builds an uncompressed batch of recSize-byte records of at most
// size bytes.
func batchOf(size, recSize int) []byte {
	b := record.NewBuilder(0)
	val := bytes.Repeat([]byte{'v'}, recSize)
	for b.Size()+recSize+20 <= size {
		b.Add(1_700_000_000_000, nil, val)
	}
	return b.Build()
}

func engineConfig() partlog.Config {
	c := partlog.DefaultConfig()
	c.SegmentBytes = 256 << 20
	c.RetentionMs = -1
	c.RetentionBytes = 512 << 20
	c.MaxMessageBytes = 2 << 20
	return c
}

func openLog(b *testing.B, dir string) *partlog.Log {
	b.Helper()
	l, err := partlog.Open(filepath.Join(dir, "t-0"), engineConfig(),
		partlog.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	return l
}

// reportVsRaw reports both throughputs in MB/s and their ratio x_raw
// (subject / raw; 1.0 = as fast as the raw operation).
func reportVsRaw(b *testing.B, totalBytes float64, subject, raw time.Duration) {
	b.ReportMetric(totalBytes/subject.Seconds()/1e6, "strom_MB/s")
	b.ReportMetric(totalBytes/raw.Seconds()/1e6, "raw_MB/s")
	b.ReportMetric(raw.Seconds()/subject.Seconds(), "x_raw")
}

// timed runs f and adds its duration to *d.
func timed(d *time.Duration, f func()) {
	t0 := time.Now()
	f()
	*d += time.Since(t0)
}

// BenchmarkEngineAppend: Log.Append of one batch (validate, stamp, write,
// index) against write(2) of the same bytes to a rotating raw file.
func BenchmarkEngineAppend(b *testing.B) {
	for _, size := range []int{16 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("record=100B/batch=%s", sizeName(size)), func(b *testing.B) {
			dir := b.TempDir()
			l := openLog(b, dir)
			raw := &rawFiles{dir: dir, rotate: engineConfig().SegmentBytes}
			defer raw.close()
			batch := batchOf(size, 100)
			// Start with the file system's own work done: the benchmarks
			// before this one leave dirty pages and deleted files (and on
			// a disk mounted with discard, discards) that would otherwise
			// stall whichever side happens to run into them.
			syscall.Sync()
			b.SetBytes(int64(len(batch)))
			b.ReportAllocs()
			var eng, rw time.Duration
			engine := func() {
				if _, err := l.Append(batch, 0); err != nil {
					b.Fatal(err)
				}
			}
			rawWrite := func() {
				if err := raw.write(batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			for i := range b.N {
				if i%2 == 0 {
					timed(&eng, engine)
					timed(&rw, rawWrite)
				} else {
					timed(&rw, rawWrite)
					timed(&eng, engine)
				}
				if i%512 == 511 {
					b.StopTimer()
					if _, err := l.EnforceRetention(); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
			}
			reportVsRaw(b, float64(len(batch))*float64(b.N), eng, rw)
		})
	}
}

// BenchmarkEngineReadSendfile: Log.Read of up to 1 MiB as file slices, each
// sendfile'd to a loopback socket, against sendfile of the same range of the
// same file. The log (64 MiB) is in the page cache.
func BenchmarkEngineReadSendfile(b *testing.B) {
	const maxBytes = 1 << 20
	l := openLog(b, b.TempDir())
	batch := batchOf(16<<10, 100)
	for l.Size() < 64<<20 {
		if _, err := l.Append(batch, 0); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := l.ReadBytes(0, 1<<30, l.LogEndOffset()); err != nil { // warm the cache
		b.Fatal(err)
	}
	conn, stop := drainedConn(b)
	defer stop()
	rc, err := conn.SyscallConn()
	if err != nil {
		b.Fatal(err)
	}
	perBatch := int64(batchOf(16<<10, 100)[record.LastOffsetDeltaOffset+3]) + 1
	var eng, rw time.Duration
	var sent, rawSent, off int64
	var last partlog.FileSlice // the previous read's range, as one slice
	b.ResetTimer()
	for i := range b.N {
		// The raw side sends the range the engine read, of the same file:
		// after the engine on even iterations, before the next read on odd
		// ones, so neither side always finds the pages hot in CPU caches.
		rawSend := func() {
			if err := sendfileAll(rc, last.File, last.Pos, last.Len); err != nil {
				b.Fatal(err)
			}
			rawSent += last.Len
		}
		if i%2 == 1 {
			timed(&rw, rawSend)
		}
		var res *partlog.ReadResult
		timed(&eng, func() {
			var err error
			if res, err = l.Read(off, maxBytes, l.LogEndOffset()); err != nil {
				b.Fatal(err)
			}
			for _, s := range res.Slices {
				if err := sendfileAll(rc, s.File, s.Pos, s.Len); err != nil {
					b.Fatal(err)
				}
			}
		})
		n := res.Size()
		last = partlog.FileSlice{File: res.Slices[0].File, Pos: res.Slices[0].Pos, Len: n}
		res.Release()
		if i%2 == 0 {
			timed(&rw, rawSend)
		}
		sent += n
		off += n / int64(len(batch)) * perBatch
		if off >= l.LogEndOffset()-1000 {
			off = 0
		}
	}
	b.SetBytes(sent / int64(b.N))
	// Both sides sent about the same bytes; compare rates, not times.
	reportVsRaw(b, float64(sent), eng, time.Duration(float64(rw)*float64(sent)/float64(rawSent)))
}

// sizeName renders a byte count as 100B, 16KiB, 1MiB.
func sizeName(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}
