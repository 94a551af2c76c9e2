package workload

import (
	"bufio"
	"encoding/json"
	"io"
	"sync"
	"time"

	"github.com/strom-broker/strom/tools/faultbed/checker"
)

// Recorder keeps a history: it numbers and timestamps every operation,
// keeps it in memory for the checker and writes it as a JSON line to w (if
// any) as it happens, so a run that is stopped leaves its history behind.
type Recorder struct {
	start time.Time

	mu  sync.Mutex
	ops []checker.Op
	w   *bufio.Writer
	enc *json.Encoder
	err error // first write error
}

// NewRecorder starts a history; w may be nil.
func NewRecorder(w io.Writer) *Recorder {
	r := &Recorder{start: time.Now()}
	if w != nil {
		r.w = bufio.NewWriter(w)
		r.enc = json.NewEncoder(r.w)
	}
	return r
}

// Since is the history time of t (nanoseconds since the start).
func (r *Recorder) Since(t time.Time) int64 { return t.Sub(r.start).Nanoseconds() }

// Add appends op (its Index and Time are set here) and returns its index.
func (r *Recorder) Add(op checker.Op) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	op.Index = len(r.ops)
	op.Time = time.Since(r.start).Nanoseconds()
	r.ops = append(r.ops, op)
	if r.enc != nil && r.err == nil {
		r.err = r.enc.Encode(&op)
	}
	return op.Index
}

// Ops returns a copy of the history so far.
func (r *Recorder) Ops() []checker.Op {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]checker.Op(nil), r.ops...)
}

// Flush writes out buffered lines and returns the first write error.
func (r *Recorder) Flush() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.w != nil && r.err == nil {
		r.err = r.w.Flush()
	}
	return r.err
}
