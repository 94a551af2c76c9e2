package benchmarks

// Physical baselines shared by the benchmarks: sequential file writes with
// rotation, sendfile to a loopback socket, and a loopback TCP copy.

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
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
// discards everything; stop closes both ends.
func drainedConn(tb testing.TB) (conn *net.TCPConn, stop func()) {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		buf := make([]byte, 1<<20)
		for {
			if _, err := c.Read(buf); err != nil {
				break
			}
		}
		c.Close()
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		tb.Fatal(err)
	}
	return c.(*net.TCPConn), func() { c.Close(); <-done; ln.Close() }
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
