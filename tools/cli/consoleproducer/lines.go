package consoleproducer

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"
)

// A lineReader reads lines of input on its own goroutine and hands them
// over on C, so the producer can stop reading at a signal without losing a
// line it has already read.
//
// Invariant: every complete line read from the input is sent on C before C
// is closed, and C is closed exactly once, after the last line. A final
// line without a newline is a line at end of input, but is dropped (and
// counted in Dropped) when reading was cut short by Stop.
type lineReader struct {
	// C carries the lines, without their "\n" (or "\r\n").
	C <-chan string
	// Err is the reading error (nil at end of input or after Stop); read
	// it after C is closed.
	Err error
	// Dropped is the size of an unfinished last line dropped by Stop;
	// read it after C is closed.
	Dropped int

	in      io.Reader
	c       chan string
	stopped chan struct{}
}

// deadliner is an input whose blocked read a deadline can cut short (an
// *os.File served by the poller).
type deadliner interface {
	SetReadDeadline(time.Time) error
}

// newLineReader starts reading in.
func newLineReader(in io.Reader) *lineReader {
	c := make(chan string)
	lr := &lineReader{C: c, in: in, c: c, stopped: make(chan struct{})}
	go lr.run()
	return lr
}

func (lr *lineReader) run() {
	defer close(lr.c)
	br := bufio.NewReaderSize(lr.in, 64<<10)
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > maxLine {
			lr.Err = fmt.Errorf("reading input: a line is longer than %d bytes", maxLine)
			return
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err == nil || (errors.Is(err, io.EOF) && len(line) > 0) {
			lr.c <- string(bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r")))
			line = line[:0]
		}
		switch {
		case err == nil:
			continue
		case errors.Is(err, io.EOF):
		case lr.isStopped():
			lr.Dropped = len(line)
		default:
			lr.Err = fmt.Errorf("reading input: %w", err)
		}
		return
	}
}

func (lr *lineReader) isStopped() bool {
	select {
	case <-lr.stopped:
		return true
	default:
		return false
	}
}

// Stop ends reading. It reports whether the input took a read deadline:
// then the blocked read returns at once, every line read so far is still
// sent on C, and C is closed. Otherwise nothing can interrupt the read and
// the caller should drain C only for a short grace time, then abandon the
// goroutine (the process is exiting).
func (lr *lineReader) Stop() (interrupted bool) {
	close(lr.stopped)
	d, ok := lr.in.(deadliner)
	return ok && d.SetReadDeadline(time.Now()) == nil
}
