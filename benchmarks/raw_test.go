package benchmarks

// Physical baselines shared by the benchmarks: sequential file writes with
// rotation, sendfile to a loopback socket, a loopback TCP copy, and the
// store-and-forward path of a broker without a protocol.

import (
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
)

// rawFiles appends to a sequence of files, rotating at rotate bytes and
// deleting the one before the previous, as a log does with segments and
// retention, so the raw side writes fresh pages like the engine does.
type rawFiles struct {
	dir     string
	rotate  int64
	n       int
	f, prev *os.File
	written int64
}

func (r *rawFiles) write(b []byte) error {
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
	return nil
}

func (r *rawFiles) close() {
	for _, f := range []*os.File{r.f, r.prev} {
		if f != nil {
			f.Close()
		}
	}
}

// sendfileAll sends n bytes of src from off over the socket behind rc.
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

// drainedConn returns a loopback TCP connection whose peer reads and
// discards everything; stop closes it and waits for the peer's reader to
// end (both ends are closed when tb ends anyway).
func drainedConn(tb testing.TB) (conn *net.TCPConn, stop func()) {
	tb.Helper()
	c, peer := loopbackPair(tb)
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1<<20)
		for {
			if _, err := peer.Read(buf); err != nil {
				return
			}
		}
	}()
	return c, func() { c.Close(); <-done }
}

// tcpCopy measures a raw loopback TCP copy of total bytes in writes of
// chunk bytes (the peer reads into a 1 MiB buffer) and returns its time.
func tcpCopy(tb testing.TB, conn *net.TCPConn, total, chunk int) time.Duration {
	tb.Helper()
	buf := make([]byte, chunk)
	t0 := time.Now()
	for sent := 0; sent < total; sent += chunk {
		if _, err := conn.Write(buf); err != nil {
			tb.Fatal(err)
		}
	}
	return time.Since(t0)
}

// BenchmarkRaw reports the physical baselines alone, for the figures
// table; every ratio elsewhere re-measures its baseline in the same
// benchmark.
func BenchmarkRaw(b *testing.B) {
	b.Run("op=tcp-copy/chunk=1MiB", func(b *testing.B) {
		conn, stop := drainedConn(b)
		defer stop()
		b.SetBytes(1 << 20)
		b.ResetTimer()
		tcpCopy(b, conn, b.N<<20, 1<<20)
	})
	b.Run("op=store-and-forward/chunk=512KiB", func(b *testing.B) {
		dir := b.TempDir()
		const total = 100 << 20
		var d time.Duration // connection set-up excluded, hence no SetBytes
		for range b.N {
			d += storeAndForward(b, dir, total, 512<<10)
		}
		b.ReportMetric(float64(total)*float64(b.N)/d.Seconds()/1e6, "MB/s")
	})
	b.Run("op=file-write/chunk=1MiB", func(b *testing.B) {
		raw := &rawFiles{dir: b.TempDir(), rotate: 256 << 20}
		defer raw.close()
		buf := make([]byte, 1<<20)
		b.SetBytes(1 << 20)
		b.ResetTimer()
		for range b.N {
			if err := raw.write(buf); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("op=sendfile/chunk=1MiB", func(b *testing.B) {
		f, err := os.Create(filepath.Join(b.TempDir(), "src"))
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		const size = 64 << 20
		if _, err := f.Write(make([]byte, size)); err != nil {
			b.Fatal(err)
		}
		conn, stop := drainedConn(b)
		defer stop()
		rc, err := conn.SyscallConn()
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(1 << 20)
		b.ResetTimer()
		for i := range b.N {
			if err := sendfileAll(rc, f, int64(i%64)<<20, 1<<20); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// loopbackPair returns both ends of a new loopback TCP connection, closed
// when tb ends.
func loopbackPair(tb testing.TB) (client, server *net.TCPConn) {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept() // nil on error: Dial then fails too
		accepted <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		tb.Fatal(err)
	}
	s := <-accepted
	if s == nil {
		tb.Fatal("accept failed")
	}
	tb.Cleanup(func() { c.Close(); s.Close() })
	return c.(*net.TCPConn), s.(*net.TCPConn)
}

// storeAndForward measures the physical path of a broker that stores
// before it serves, with nothing else: a producer writes total bytes in
// chunk-sized writes to a loopback socket; a relay reads each chunk and
// appends it to a fresh file with pwrite; a sender sendfiles each stored
// range to a second loopback socket as soon as it is written; a consumer
// reads it. That is 5 copies of every byte (2 for a raw TCP copy) and no
// protocol, framing or checksum: a ceiling for any such broker on this
// machine. It returns the time from the first write to the last byte read.
func storeAndForward(tb testing.TB, dir string, total, chunk int) time.Duration {
	tb.Helper()
	prodOut, relayIn := loopbackPair(tb)
	relayOut, consIn := loopbackPair(tb)
	f, err := os.Create(filepath.Join(dir, "store-and-forward"))
	if err != nil {
		tb.Fatal(err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	rc, err := relayOut.SyscallConn()
	if err != nil {
		tb.Fatal(err)
	}
	var (
		mu     sync.Mutex
		stored = sync.NewCond(&mu)
		end    int // bytes stored so far, under mu
		failed error
	)
	fail := func(err error) { // ends the relay's loops and the consumer
		mu.Lock()
		if failed == nil {
			failed = err
		}
		stored.Broadcast()
		mu.Unlock()
		prodOut.Close()
		consIn.Close()
	}
	var g sync.WaitGroup
	t0 := time.Now()
	g.Go(func() { // producer
		buf := make([]byte, chunk)
		for sent := 0; sent < total; sent += chunk {
			if _, err := prodOut.Write(buf); err != nil {
				fail(err)
				return
			}
		}
	})
	g.Go(func() { // relay: socket in, file out
		buf := make([]byte, chunk)
		for off := 0; off < total; off += chunk {
			if _, err := io.ReadFull(relayIn, buf); err != nil {
				fail(err)
				return
			}
			if _, err := f.WriteAt(buf, int64(off)); err != nil {
				fail(err)
				return
			}
			mu.Lock()
			end = off + chunk
			stored.Broadcast()
			mu.Unlock()
		}
	})
	g.Go(func() { // sender: file to socket
		for sent := 0; sent < total; {
			mu.Lock()
			for end == sent && failed == nil {
				stored.Wait()
			}
			upTo, stop := end, failed != nil
			mu.Unlock()
			if stop {
				return
			}
			if err := sendfileAll(rc, f, int64(sent), int64(upTo-sent)); err != nil {
				fail(err)
				return
			}
			sent = upTo
		}
	})
	buf := make([]byte, 1<<20)
	for got := 0; got < total; {
		n, err := consIn.Read(buf)
		if err != nil {
			fail(err)
			break
		}
		got += n
	}
	d := time.Since(t0)
	g.Wait()
	if failed != nil {
		tb.Fatalf("store and forward: %v", failed)
	}
	return d
}
