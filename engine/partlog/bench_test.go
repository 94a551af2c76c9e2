package partlog

// Benchmarks with a physical baseline measured in the same run: each
// iteration does the engine operation and the raw operation on the same
// bytes, timing each separately, and reports both throughputs and their
// ratio ("x_raw": engine / raw, 1.0 = as fast as the raw operation).

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/strom-broker/strom/engine/record"
)

// benchBatch builds an uncompressed batch of 100-byte records of about size
// bytes.
func benchBatch(size int) []byte {
	b := record.NewBuilder(0)
	val := bytes.Repeat([]byte{'v'}, 100)
	for b.Size()+120 <= size {
		b.Add(1_700_000_000_000, nil, val)
	}
	return b.Build()
}

// rawFiles appends to a sequence of files, rotating at rotate bytes and
// deleting the file before the previous one, as the log does with
// segments and retention, so both sides write fresh pages.
type rawFiles struct {
	dir           string
	rotate        int64
	n             int
	f, prev       *os.File
	written, sync int64
}

func (r *rawFiles) write(b []byte, fsync bool) error {
	if r.f == nil || r.written+int64(len(b)) > r.rotate {
		if r.prev != nil {
			r.prev.Close()
			os.Remove(r.prev.Name())
		}
		r.prev = r.f
		r.n++
		f, err := os.Create(filepath.Join(r.dir, fmt.Sprintf("raw-%d", r.n)))
		if err != nil {
			return err
		}
		r.f, r.written = f, 0
	}
	if _, err := r.f.Write(b); err != nil {
		return err
	}
	r.written += int64(len(b))
	if fsync {
		return r.f.Sync()
	}
	return nil
}

func (r *rawFiles) close() {
	for _, f := range []*os.File{r.f, r.prev} {
		if f != nil {
			f.Close()
		}
	}
}

func benchConfig() Config {
	c := DefaultConfig()
	c.SegmentBytes = 256 << 20
	c.RetentionMs = -1
	c.RetentionBytes = 512 << 20
	c.MaxMessageBytes = 2 << 20
	return c
}

func reportRatio(b *testing.B, bytesPerOp int64, engine, raw time.Duration) {
	total := float64(bytesPerOp) * float64(b.N)
	b.ReportMetric(total/engine.Seconds()/1e6, "engine_MB/s")
	b.ReportMetric(total/raw.Seconds()/1e6, "raw_MB/s")
	b.ReportMetric(raw.Seconds()/engine.Seconds(), "x_raw")
}

func BenchmarkAppend(b *testing.B) {
	for _, size := range []int{16 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("record=100B/batch=%dKiB/fsync=off", size>>10), func(b *testing.B) {
			dir := b.TempDir()
			l, err := Open(filepath.Join(dir, "t-0"), benchConfig(), WithLogger(quiet))
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			raw := &rawFiles{dir: dir, rotate: benchConfig().SegmentBytes}
			defer raw.close()
			batch := benchBatch(size)
			b.SetBytes(int64(len(batch)))
			b.ReportAllocs()
			var engineDur, rawDur time.Duration
			b.ResetTimer()
			engine := func() {
				t0 := time.Now()
				if _, err := l.Append(batch, 0); err != nil {
					b.Fatal(err)
				}
				engineDur += time.Since(t0)
			}
			rawWrite := func() {
				t0 := time.Now()
				if err := raw.write(batch, false); err != nil {
					b.Fatal(err)
				}
				rawDur += time.Since(t0)
			}
			for i := 0; i < b.N; i++ {
				// Alternate who goes first so neither side always finds
				// the batch hot in the CPU caches.
				if i%2 == 0 {
					engine()
					rawWrite()
				} else {
					rawWrite()
					engine()
				}
				if i%1024 == 1023 {
					b.StopTimer()
					if _, err := l.EnforceRetention(); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
			}
			reportRatio(b, int64(len(batch)), engineDur, rawDur)
		})
	}
}

// BenchmarkAppendGroupCommit: 8 appenders with flush.messages=1 (every
// append waits for an fsync) share fsyncs; the baseline is a write+fsync
// per batch from one writer.
func BenchmarkAppendGroupCommit(b *testing.B) {
	const appenders = 8
	size := 16 << 10
	dir := b.TempDir()
	cfg := benchConfig()
	cfg.FlushMessages = 1
	l, err := Open(filepath.Join(dir, "t-0"), cfg, WithLogger(quiet))
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	batch := benchBatch(size)
	b.SetBytes(int64(len(batch)))
	b.ResetTimer()
	t0 := time.Now()
	var wg sync.WaitGroup
	per := (b.N + appenders - 1) / appenders
	for g := 0; g < appenders; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			own := bytes.Clone(batch)
			for i := 0; i < per; i++ {
				if _, err := l.Append(own, 0); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	engineDur := time.Since(t0)
	b.StopTimer()
	raw := &rawFiles{dir: dir, rotate: cfg.SegmentBytes}
	defer raw.close()
	t1 := time.Now()
	for i := 0; i < per*appenders; i++ {
		if err := raw.write(batch, true); err != nil {
			b.Fatal(err)
		}
	}
	rawDur := time.Since(t1)
	b.N = per * appenders
	reportRatio(b, int64(len(batch)), engineDur, rawDur)
}

// sendfileAll sends n bytes of src from off over the socket.
func sendfileAll(rc syscall.RawConn, src *os.File, off, n int64) error {
	var serr error
	err := rc.Write(func(fd uintptr) bool {
		for n > 0 {
			m, err := unix.Sendfile(int(fd), int(src.Fd()), &off, int(min(n, 1<<30)))
			if m > 0 {
				n -= int64(m)
			}
			if errors.Is(err, unix.EAGAIN) {
				return false
			}
			if err != nil {
				serr = err
				return true
			}
			if m == 0 {
				serr = io.ErrUnexpectedEOF
				return true
			}
		}
		return true
	})
	if err != nil {
		return err
	}
	return serr
}

// loopback returns a connected TCP socket whose peer drains everything.
func loopback(b *testing.B) (*net.TCPConn, func()) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		io.Copy(io.Discard, c)
		c.Close()
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	return c.(*net.TCPConn), func() { c.Close(); <-done; ln.Close() }
}

// BenchmarkReadSendfile reads 1 MiB per iteration as file slices and
// sendfiles them to a loopback socket; the baseline sendfiles the same
// file range directly.
func BenchmarkReadSendfile(b *testing.B) {
	const maxBytes = 1 << 20
	dir := b.TempDir()
	cfg := benchConfig()
	l, err := Open(filepath.Join(dir, "t-0"), cfg, WithLogger(quiet))
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	batch := benchBatch(16 << 10)
	for l.Size() < 64<<20 {
		if _, err := l.Append(batch, 0); err != nil {
			b.Fatal(err)
		}
	}
	conn, stop := loopback(b)
	defer stop()
	rc, err := conn.SyscallConn()
	if err != nil {
		b.Fatal(err)
	}
	// Warm the page cache and the connection.
	if _, err := l.ReadBytes(0, 1<<30, l.LogEndOffset()); err != nil {
		b.Fatal(err)
	}
	var engineDur, rawDur time.Duration
	var sent, rawPos int64
	lastN := int64(maxBytes)
	off := int64(0)
	b.ResetTimer()
	seg0 := l.segments()[0].File()
	for i := 0; i < b.N; i++ {
		// The raw side sends the same range; who goes first alternates so
		// neither always finds the pages hot in the CPU caches.
		var n int64
		rawFirst := i%2 == 1
		if rawFirst {
			t0 := time.Now()
			if err := sendfileAll(rc, seg0, rawPos, lastN); err != nil {
				b.Fatal(err)
			}
			rawDur += time.Since(t0)
		}
		t0 := time.Now()
		res, err := l.Read(off, maxBytes, l.LogEndOffset())
		if err != nil {
			b.Fatal(err)
		}
		for j, s := range res.Slices {
			if j == 0 {
				rawPos = s.Pos
			}
			if err := sendfileAll(rc, s.File, s.Pos, s.Len); err != nil {
				b.Fatal(err)
			}
			n += s.Len
		}
		res.Release()
		engineDur += time.Since(t0)
		if !rawFirst {
			t1 := time.Now()
			if err := sendfileAll(rc, seg0, rawPos, n); err != nil {
				b.Fatal(err)
			}
			rawDur += time.Since(t1)
		}
		lastN = n
		sent += n
		off += n / int64(len(batch)) * int64(batch[record.LastOffsetDeltaOffset+3]+1)
		if off >= l.LogEndOffset()-1000 {
			off = 0
		}
	}
	b.SetBytes(sent / int64(b.N))
	reportRatio(b, sent/int64(b.N), engineDur, rawDur)
}

// BenchmarkRecovery measures an unclean Open (full rescan: CRC of every
// batch, index rebuild) of a page-cached 256 MiB log; the baseline reads
// the same files with 4 MiB preads.
func BenchmarkRecovery(b *testing.B) {
	dir := filepath.Join(b.TempDir(), "t-0")
	cfg := benchConfig()
	cfg.SegmentBytes = 64 << 20
	cfg.RetentionBytes = -1
	l, err := Open(dir, cfg, WithLogger(quiet))
	if err != nil {
		b.Fatal(err)
	}
	batch := benchBatch(16 << 10)
	for l.Size() < 256<<20 {
		if _, err := l.Append(batch, 0); err != nil {
			b.Fatal(err)
		}
	}
	size, leo := l.Size(), l.LogEndOffset()
	if err := l.Close(); err != nil {
		b.Fatal(err)
	}
	logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	buf := make([]byte, 4<<20)
	var engineDur, rawDur time.Duration
	b.SetBytes(size)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		l, err := Open(dir, cfg, WithLogger(quiet))
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if l.LogEndOffset() != leo {
			b.Fatalf("recovered to %d, want %d", l.LogEndOffset(), leo)
		}
		l.crash()
		t2 := time.Now()
		for _, p := range logs {
			f, err := os.Open(p)
			if err != nil {
				b.Fatal(err)
			}
			for off := int64(0); ; off += int64(len(buf)) {
				n, err := f.ReadAt(buf, off)
				if n == 0 || err != nil {
					break
				}
			}
			f.Close()
		}
		engineDur += t1.Sub(t0)
		rawDur += time.Since(t2)
	}
	reportRatio(b, size, engineDur, rawDur)
}
