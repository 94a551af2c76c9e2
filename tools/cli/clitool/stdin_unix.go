//go:build unix

package clitool

import (
	"io"
	"os"
	"syscall"
)

// Interruptible returns r so that a read deadline can cut a blocked read
// short (see the console producer's line reader), and a function undoing
// the change. Only a pipe (*os.File of a FIFO, such as a piped stdin) is
// changed: switched to non-blocking mode, which Go's poller then serves.
// A terminal, a regular file or any other reader is returned as it is,
// since another process sharing a terminal would see the mode change.
func Interruptible(r io.Reader) (io.Reader, func()) {
	f, ok := r.(*os.File)
	if !ok {
		return r, func() {}
	}
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		return r, func() {}
	}
	fd := int(f.Fd()) // f is in blocking mode from here on; it is not read again
	if err := syscall.SetNonblock(fd, true); err != nil {
		return r, func() {}
	}
	return os.NewFile(uintptr(fd), f.Name()), func() { _ = syscall.SetNonblock(fd, false) }
}
