//go:build unix

package clitool

import (
	"os"
	"syscall"
)

// InterruptibleStdin returns standard input so that a read deadline can
// cut a blocked read short (see LineReader.Stop), and a function undoing
// the change. Only a pipe is switched to non-blocking mode (Go's poller
// then serves it); a terminal or file is returned as it is, since another
// process sharing it would see the mode change.
func InterruptibleStdin() (*os.File, func()) {
	fi, err := os.Stdin.Stat()
	if err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		return os.Stdin, func() {}
	}
	fd := syscall.Stdin
	if err := syscall.SetNonblock(fd, true); err != nil {
		return os.Stdin, func() {}
	}
	return os.NewFile(uintptr(fd), "/dev/stdin"), func() { _ = syscall.SetNonblock(fd, false) }
}
