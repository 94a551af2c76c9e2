// Package checker holds the history of a fault-bed run and checks it with
// the rules of Jepsen's Kafka queue workload (jepsen.tests.kafka, as
// /work/shared/research/RELIABILITY.md section 1.3 states them), plus
// Kafka's own system-test check (every acknowledged record is consumed).
//
// The model: integer keys, each one partition of one topic, each an
// append-only log. Every value sent is unique (per key, and in practice
// across keys). A history is a sequence of operations; each client action
// appears twice, as an invoke and as its completion (ok: it happened; fail:
// it certainly did not; info: unknown). A completed send carries the offset
// the broker returned for each value (nil when unknown); a completed poll
// carries every (key, offset, value) it returned, in the order returned.
//
// The package is pure: no files, no clocks, no network. Histories are read
// and written as JSON lines from any io.Reader / io.Writer.
package checker

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
)

// Type is an operation's type: an invocation or one of the three outcomes.
type Type string

// The operation types (Jepsen's).
const (
	Invoke Type = "invoke" // the client starts the operation
	OK     Type = "ok"     // it happened
	Fail   Type = "fail"   // it certainly did not happen
	Info   Type = "info"   // unknown: it may or may not have happened
)

// Func is what an operation does.
type Func string

// The operation functions.
const (
	// FSend sends one or more values (Op.Sends).
	FSend Func = "send"
	// FPoll polls; its completion lists what it read (Op.Reads).
	FPoll Func = "poll"
	// FAssign replaces the process's assigned keys by Op.Keys (assign mode).
	FAssign Func = "assign"
	// FSubscribe replaces the process's subscription by Op.Keys (a consumer
	// group picks which of them the process gets).
	FSubscribe Func = "subscribe"
	// FCrash tears the client down; the process never runs again (its
	// successor has a new process id).
	FCrash Func = "crash"
)

// Op is one line of a history.
type Op struct {
	// Index is the position in the history (0-based, dense).
	Index int `json:"index"`
	// Time is nanoseconds since the run started (monotonic).
	Time int64 `json:"time"`
	// Process is the logical client that ran the operation; one process
	// runs one operation at a time.
	Process int    `json:"process"`
	Type    Type   `json:"type"`
	F       Func   `json:"f"`
	Sends   []Send `json:"sends,omitempty"`
	Reads   []Read `json:"reads,omitempty"`
	// Keys are the keys of an assign or subscribe.
	Keys []int32 `json:"keys,omitempty"`
	// Rebalanced are the keys whose assignment changed during this
	// operation (Jepsen's :rebalance-log); a poll's internal order is not
	// checked for them.
	Rebalanced []int32 `json:"rebalanced,omitempty"`
	// Final marks the operations of the final-read phase (after healing).
	Final bool `json:"final,omitempty"`
	// Error is the client's error for fail and info completions.
	Error string `json:"error,omitempty"`
	// Producer is the idempotent producer id and epoch an ok send was
	// made with (diagnostics; the checker does not use it).
	Producer *ProducerID `json:"producer,omitempty"`
}

// ProducerID is an idempotent producer's id and epoch.
type ProducerID struct {
	ID    int64 `json:"id"`
	Epoch int16 `json:"epoch"`
}

// Send is one value sent to one key; Offset is what the broker returned
// (nil while unknown: an invoke, or an info/fail completion).
type Send struct {
	Key    int32  `json:"key"`
	Value  int64  `json:"value"`
	Offset *int64 `json:"offset,omitempty"`
}

// Read is one record a poll returned.
type Read struct {
	Key    int32 `json:"key"`
	Offset int64 `json:"offset"`
	Value  int64 `json:"value"`
}

// Offset returns a pointer to o, for Send.Offset.
func Offset(o int64) *int64 { return &o }

// WriteJSONLines writes ops, one JSON object per line.
func WriteJSONLines(w io.Writer, ops []Op) error {
	enc := json.NewEncoder(w)
	for i := range ops {
		if err := enc.Encode(&ops[i]); err != nil {
			return fmt.Errorf("checker: write op %d: %w", ops[i].Index, err)
		}
	}
	return nil
}

// ReadJSONLines reads a history written by WriteJSONLines (or by a
// Recorder). A malformed line is an error naming its line number.
func ReadJSONLines(r io.Reader) ([]Op, error) {
	var ops []Op
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 64*1024*1024)
	for line := 1; sc.Scan(); line++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var op Op
		if err := json.Unmarshal(sc.Bytes(), &op); err != nil {
			return nil, fmt.Errorf("checker: history line %d: %w", line, err)
		}
		if err := op.validate(); err != nil {
			return nil, fmt.Errorf("checker: history line %d: %w", line, err)
		}
		ops = append(ops, op)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("checker: read history: %w", err)
	}
	return ops, nil
}

func (op *Op) validate() error {
	switch op.Type {
	case Invoke, OK, Fail, Info:
	default:
		return fmt.Errorf("op %d: unknown type %q", op.Index, op.Type)
	}
	switch op.F {
	case FSend, FPoll, FAssign, FSubscribe, FCrash:
	default:
		return fmt.Errorf("op %d: unknown f %q", op.Index, op.F)
	}
	return nil
}
