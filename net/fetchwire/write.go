package fetchwire

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// Counters count how record bytes from files left the process. They are
// safe for concurrent use; the zero value is ready.
type Counters struct {
	// Sendfile counts file bytes sent with sendfile(2) (never in user space).
	Sendfile atomic.Int64
	// Copied counts file bytes read into user space and written (fallback
	// for connections that cannot sendfile, e.g. TLS or in-memory pipes).
	Copied atomic.Int64
}

// copyChunk is the buffer size of the pread+write fallback.
const copyChunk = 256 << 10

// maxSendfile caps one sendfile call (Linux moves at most 0x7ffff000 bytes).
const maxSendfile = 1 << 30

// WriteTo writes the whole frame to w: in-memory chunks with one write (a
// writev on sockets), file slices with sendfile when w is a *net.TCPConn or
// *net.UnixConn, else with pread+write. c may be nil. It returns the bytes
// written; on error the frame is incomplete and w must be closed.
func (e *Encoded) WriteTo(w io.Writer, c *Counters) (int64, error) {
	if c == nil {
		c = new(Counters)
	}
	var raw syscall.RawConn
	switch conn := w.(type) {
	case *net.TCPConn:
		raw, _ = conn.SyscallConn()
	case *net.UnixConn:
		raw, _ = conn.SyscallConn()
	}
	var (
		total int64
		bufs  net.Buffers
		buf   []byte // fallback copy buffer, allocated on first use
	)
	flush := func() error {
		if len(bufs) == 0 {
			return nil
		}
		n, err := bufs.WriteTo(w)
		total += n
		bufs = bufs[:0]
		return err
	}
	for _, p := range e.parts {
		switch {
		case p.isMem:
			bufs = append(bufs, e.buf[p.lo:p.hi])
			continue
		case p.slice.File == nil:
			bufs = append(bufs, p.slice.Data)
			continue
		}
		if err := flush(); err != nil {
			return total, err
		}
		s := p.slice
		var (
			n   int64
			err error
		)
		if raw != nil {
			n, err = sendfile(raw, s.File, s.Pos, s.Len)
			c.Sendfile.Add(n)
		} else {
			if buf == nil {
				buf = make([]byte, min(copyChunk, e.FileBytes()))
			}
			n, err = copySlice(w, s.File, s.Pos, s.Len, buf)
			c.Copied.Add(n)
		}
		total += n
		if err != nil {
			return total, fmt.Errorf("fetchwire: %s at %d+%d: %w", s.File.Name(), s.Pos, s.Len, err)
		}
	}
	return total, flush()
}

// sendfile sends n bytes of f at pos to the socket behind raw. The file's
// seek position is neither used nor moved. Partial writes continue; EAGAIN
// parks on the poller until the socket is writable (honouring the
// connection's write deadline).
func sendfile(raw syscall.RawConn, f *os.File, pos, n int64) (int64, error) {
	fraw, err := f.SyscallConn()
	if err != nil {
		return 0, err
	}
	var sent int64
	var serr error
	cerr := fraw.Control(func(ffd uintptr) {
		werr := raw.Write(func(sfd uintptr) bool {
			for sent < n {
				off := pos + sent
				m, err := unix.Sendfile(int(sfd), int(ffd), &off, int(min(n-sent, maxSendfile)))
				if m > 0 {
					sent += int64(m)
				}
				switch {
				case errors.Is(err, unix.EAGAIN):
					return false // wait for writability
				case errors.Is(err, unix.EINTR):
					continue
				case err != nil:
					serr = os.NewSyscallError("sendfile", err)
					return true
				case m == 0:
					serr = ErrShortFile
					return true
				}
			}
			return true
		})
		if serr == nil {
			serr = werr
		}
	})
	if serr == nil {
		serr = cerr
	}
	return sent, serr
}

// copySlice is the user-space fallback: pread (ReadAt) then write.
func copySlice(w io.Writer, f *os.File, pos, n int64, buf []byte) (int64, error) {
	var done int64
	for done < n {
		chunk := buf[:min(int64(len(buf)), n-done)]
		m, err := f.ReadAt(chunk, pos+done)
		if m > 0 {
			wn, werr := w.Write(chunk[:m])
			done += int64(wn)
			if werr != nil {
				return done, werr
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				if int64(m) < int64(len(chunk)) {
					return done, ErrShortFile
				}
				continue
			}
			return done, err
		}
	}
	return done, nil
}
