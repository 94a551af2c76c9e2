package partlog

// The error-injection test of issue #11: a seeded random workload (append,
// multi-batch append, follower append, roll, truncate, retention,
// DeleteRecords, flush, close + clean reopen, crash + unclean reopen) runs
// once to count the file-system calls it makes, then once per call site:
// run k fails the k-th call of one kind (create, write, torn write, fsync,
// truncate, rename, remove) and the checks run:
//
//   - every failed call surfaces as an error matching ErrStorage (the log
//     went offline), or as an error of Open, and the log takes no more
//     writes;
//   - no read passes its bound, and no offset is ever served with two
//     different batches (except after a successful truncation);
//   - after the failure the log is closed (or crashed), the fault disarmed
//     and the log reopened without the clean-shutdown marker: it holds
//     every acknowledged batch, byte for byte, in place; anything after
//     them is a batch whose append failed; the reopened log takes appends
//     again at the right offset, and reopens clean with the same content.
//
// `make test` runs one seed and about four call sites of each kind;
// `make engine-faults` (FAULT_SEEDS=n FAULT_STRIDE=1) fails every call
// site of n seeds in turn. Replay one run with SEED=s and -run
// 'TestFaultInjection/seed=s/kind/n=k'; FAULT_TRACE=1 logs the steps.

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strom-broker/strom/engine/internal/fsio"
	"github.com/strom-broker/strom/engine/record"
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// faultRun is one run of the workload with at most one injected fault.
type faultRun struct {
	t      *testing.T
	dir    string
	cfg    Config
	rng    *rand.Rand
	l      *Log
	inj    *fsio.Nth
	failed bool // the injected fault fired and surfaced

	acked  map[int64][]byte // base offset -> batch, acknowledged and not removed
	maybe  map[int64][]byte // batches whose append failed (may survive)
	served map[int64][]byte // what reads returned per base offset
	start  int64            // log start the model is sure of
	// lossFloor: acked batches ending below it may be gone (a retention
	// or DeleteRecords that failed midway had decided to remove them).
	lossFloor int64
}

func (r *faultRun) fatalf(format string, args ...any) {
	r.t.Helper()
	r.t.Fatalf("seed/fault %s: "+format, append([]any{r.t.Name()}, args...)...)
}

// opErr classifies an error of a workload step: nil, or an injected
// failure (must match ErrStorage or be a failed Open).
func (r *faultRun) opErr(what string, err error) bool {
	r.t.Helper()
	if err == nil {
		return false
	}
	if len(r.inj.Hits()) == 0 {
		r.fatalf("%s failed with no fault injected: %v", what, err)
	}
	if !errors.Is(err, ErrStorage) {
		r.fatalf("%s: injected failure does not match ErrStorage: %v", what, err)
	}
	r.failed = true
	return true
}

func (r *faultRun) open(clean bool) error {
	l, err := Open(r.dir, r.cfg, WithLogger(quiet), WithCleanShutdown(clean), WithLogStartOffset(r.start))
	if err != nil {
		return err
	}
	r.l = l
	return nil
}

func (r *faultRun) batch(n int) []byte {
	b := record.NewBuilder(0)
	for i := 0; i < n; i++ {
		v := make([]byte, 10+r.rng.IntN(120))
		for j := range v {
			v[j] = byte(r.rng.Uint32())
		}
		b.Add(int64(1000+r.rng.IntN(1000)), []byte(fmt.Sprint("k", r.rng.IntN(20))), v)
	}
	return b.Build()
}

// recordAppend notes the stamped batches of an append as acked or maybe.
func (r *faultRun) recordAppend(payload []byte, ok bool) {
	for len(payload) > 0 {
		h, _ := record.ParseHeader(payload)
		b := bytes.Clone(payload[:h.Size()])
		if ok {
			r.acked[h.BaseOffset] = b
		} else {
			r.maybe[h.BaseOffset] = b
		}
		payload = payload[h.Size():]
	}
}

// checkRead reads from a random offset below a random bound and checks
// the bound and what was served before.
func (r *faultRun) checkRead() {
	start, leo := r.l.LogStartOffset(), r.l.LogEndOffset()
	if leo <= start {
		return
	}
	off := start + r.rng.Int64N(leo-start)
	bound := off + 1 + r.rng.Int64N(leo-off)
	b, err := r.l.ReadBytes(off, 1+r.rng.IntN(4000), bound)
	if errors.Is(err, ErrOffsetOutOfRange) && r.failed {
		return
	}
	if r.opErr("read", err) {
		return
	}
	for len(b) > 0 {
		h, _ := record.ParseHeader(b)
		if h.LastOffset() >= bound {
			r.fatalf("read [%d, %d) returned a batch ending at %d", off, bound, h.LastOffset())
		}
		r.served1(h.BaseOffset, b[:h.Size()])
		b = b[h.Size():]
	}
}

func (r *faultRun) served1(base int64, b []byte) {
	if os.Getenv("FAULT_TRACE") == strconv.FormatInt(base, 10) {
		h, _ := record.ParseHeader(b)
		r.t.Logf("served %d..%d crc %x", base, h.LastOffset(), h.CRC)
	}
	if old, ok := r.served[base]; ok && !bytes.Equal(old, b) {
		ho, _ := record.ParseHeader(old)
		hn, _ := record.ParseHeader(b)
		r.fatalf("offset %d served with two different batches (last %d then %d); faults %v", base, ho.LastOffset(), hn.LastOffset(), r.inj.Hits())
	}
	r.served[base] = bytes.Clone(b)
}

// forget drops model state at and above offset (a successful truncation).
func (r *faultRun) forget(offset int64) {
	for _, m := range []map[int64][]byte{r.acked, r.maybe, r.served} {
		for base, b := range m {
			h, _ := record.ParseHeader(b)
			if h.LastOffset() >= offset {
				delete(m, base)
			}
		}
	}
}

// dropBelow drops acked batches wholly below start (removed by retention).
func (r *faultRun) dropBelow(start int64) {
	for base, b := range r.acked {
		h, _ := record.ParseHeader(b)
		if h.LastOffset() < start {
			delete(r.acked, base)
		}
	}
	r.start = max(r.start, start)
}

// verify checks the log's content against the model: every acked batch
// in place (unless below the loss floor), anything else a maybe batch.
func (r *faultRun) verify(when string) {
	r.t.Helper()
	got, err := r.l.ReadBytes(r.l.LogStartOffset(), 1<<30, r.l.LogEndOffset())
	if err != nil {
		r.fatalf("%s: read all: %v", when, err)
	}
	seen := map[int64]bool{}
	for b := got; len(b) > 0; {
		h, _ := record.ParseHeader(b)
		one := b[:h.Size()]
		seen[h.BaseOffset] = true
		if a, ok := r.acked[h.BaseOffset]; ok {
			if !bytes.Equal(a, one) {
				r.fatalf("%s: acked batch at %d differs", when, h.BaseOffset)
			}
		} else if m, ok := r.maybe[h.BaseOffset]; !ok || !bytes.Equal(m, one) {
			r.fatalf("%s: batch at %d was never appended", when, h.BaseOffset)
		} else {
			r.acked[h.BaseOffset] = m // it survived: from now on it is data
			delete(r.maybe, h.BaseOffset)
		}
		r.served1(h.BaseOffset, one)
		b = b[h.Size():]
	}
	for base, a := range r.acked {
		h, _ := record.ParseHeader(a)
		if !seen[base] && h.LastOffset() >= max(r.lossFloor, r.l.LogStartOffset()) {
			r.fatalf("%s: acknowledged batch at %d lost (log [%d, %d))", when, base, r.l.LogStartOffset(), r.l.LogEndOffset())
		}
		if !seen[base] {
			delete(r.acked, base)
		}
	}
	r.maybe = map[int64][]byte{}
}

// step runs one random operation; it returns false once the injected
// fault surfaced.
func (r *faultRun) step() bool {
	l := r.l
	p := r.rng.IntN(100)
	if os.Getenv("FAULT_TRACE") != "" {
		r.t.Logf("step p=%d start=%d leo=%d segs=%v", p, l.LogStartOffset(), l.LogEndOffset(), l.SegmentBaseOffsets())
	}
	switch {
	case p < 40: // append of 1..4 batches
		var payload []byte
		for range 1 + r.rng.IntN(4) {
			payload = append(payload, r.batch(1+r.rng.IntN(5))...)
		}
		_, err := l.Append(payload, int32(r.rng.IntN(3)))
		if r.opErr("append", err) {
			r.recordAppend(payload, false)
			return false
		}
		r.recordAppend(payload, true)
	case p < 48: // follower append, sometimes over a gap
		base := l.LogEndOffset()
		if r.rng.IntN(4) == 0 {
			base += int64(r.rng.IntN(50))
		}
		b := r.batch(1 + r.rng.IntN(3))
		record.SetBaseOffset(b, base)
		_, err := l.AppendAsFollower(b)
		if r.opErr("follower append", err) {
			r.recordAppend(b, false)
			return false
		}
		r.recordAppend(b, true)
	case p < 63:
		r.checkRead()
	case p < 68:
		if r.opErr("roll", l.Roll()) {
			return false
		}
	case p < 73: // truncate
		start, leo := l.LogStartOffset(), l.LogEndOffset()
		if leo <= start {
			return true
		}
		off := start + r.rng.Int64N(leo-start)
		if os.Getenv("FAULT_TRACE") != "" {
			r.t.Logf("truncate to %d", off)
		}
		if r.opErr("truncate", l.TruncateTo(off)) {
			// Cut or not: the tail may come back with its old data, or
			// be gone and its offsets taken by new appends.
			for base, b := range r.acked {
				h, _ := record.ParseHeader(b)
				if h.LastOffset() >= off {
					r.maybe[base] = b
					delete(r.acked, base)
				}
			}
			for base, b := range r.served {
				if h, _ := record.ParseHeader(b); h.LastOffset() >= off {
					delete(r.served, base)
				}
			}
			return false
		}
		r.forget(off)
		if leo := l.LogEndOffset(); leo < l.LogStartOffset() || leo < r.start {
			r.start = leo
		}
		r.start = min(r.start, l.LogStartOffset())
	case p < 77:
		_, err := l.EnforceRetention()
		if r.opErr("retention", err) {
			r.lossFloor = l.LogStartOffset()
			return false
		}
		r.dropBelow(l.LogStartOffset())
	case p < 80:
		start, leo := l.LogStartOffset(), l.LogEndOffset()
		target := start + r.rng.Int64N(leo-start+1)
		_, err := l.DeleteRecordsBefore(target)
		if r.opErr("delete records", err) {
			r.lossFloor = target
			return false
		}
		r.dropBelow(target)
	case p < 88:
		if r.opErr("flush", l.Flush()) {
			return false
		}
	case p < 94: // clean close and reopen
		if r.opErr("close", l.Close()) {
			return false
		}
		r.reopen(true)
		if r.failed {
			return false
		}
	default: // crash and unclean reopen
		l.crash()
		r.reopen(false)
		if r.failed {
			return false
		}
	}
	return true
}

// reopen opens the log again; a failed Open is an injected failure too.
func (r *faultRun) reopen(clean bool) {
	if err := r.open(clean); err != nil {
		if len(r.inj.Hits()) == 0 {
			r.fatalf("reopen failed with no fault injected: %v", err)
		}
		r.failed, r.l = true, nil
		return
	}
	r.verify(fmt.Sprintf("reopen clean=%v", clean))
}

// afterFailure closes the offline log, disarms, reopens uncleanly and
// checks everything, then appends and reopens clean.
func (r *faultRun) afterFailure(disarm func()) {
	if r.l != nil {
		_, err := r.l.Append(r.batch(1), 0)
		if err == nil {
			r.fatalf("an offline log acknowledged an append")
		}
		r.checkRead()
		if err := r.l.Close(); err == nil && r.l.Failure() != nil {
			r.fatalf("Close of an offline log returned nil")
		}
	}
	disarm()
	if err := r.open(false); err != nil {
		r.fatalf("reopen after the failure: %v", err)
	}
	r.verify("unclean reopen after the failure")
	for range 5 {
		b := r.batch(2)
		_, err := r.l.Append(b, 1)
		require.NoError(r.t, err)
		r.recordAppend(b, true)
	}
	r.verify("appends after the failure")
	require.NoError(r.t, r.l.Close())
	require.NoError(r.t, r.open(true))
	r.verify("clean reopen after the failure")
	require.NoError(r.t, r.l.Close())
}

const faultSteps = 120

// runFaults runs the workload of seed with inj armed; it returns the run.
func runFaults(t *testing.T, seed uint64, inj *fsio.Nth) *faultRun {
	cfg := smallConfig()
	cfg.RetentionBytes = 6000
	cfg.SegmentIndexBytes = 64 // indexes fill: rolls on index room
	r := &faultRun{
		t: t, dir: t.TempDir(), cfg: cfg, rng: rand.New(rand.NewPCG(seed, 11)), inj: inj,
		acked: map[int64][]byte{}, maybe: map[int64][]byte{}, served: map[int64][]byte{},
	}
	disarm := fsio.Inject(r.dir, inj)
	defer disarm()
	if err := r.open(false); err != nil {
		require.NotEmpty(t, inj.Hits(), "open failed with no fault: %v", err)
		r.failed = true
	}
	for i := 0; i < faultSteps && !r.failed; i++ {
		if !r.step() {
			break
		}
	}
	if r.failed {
		r.afterFailure(disarm)
		return r
	}
	if r.opErr("final close", r.l.Close()) {
		r.afterFailure(disarm)
	}
	return r
}

// TestFaultInjection fails every file-system call site of the workload in
// turn (see the file comment) and checks that nothing acknowledged is lost
// and nothing unacknowledged or out of bounds is served.
func TestFaultInjection(t *testing.T) {
	seeds := envInt("FAULT_SEEDS", 1)
	stride := envInt("FAULT_STRIDE", 0) // 0: about 4 call sites per kind
	first := uint64(envInt("SEED", 1))
	type kind struct {
		name    string
		ops     []fsio.Op
		partial int
	}
	kinds := []kind{
		{"create", []fsio.Op{fsio.OpCreate}, 0},
		{"write", []fsio.Op{fsio.OpWrite}, 0},
		{"tornwrite", []fsio.Op{fsio.OpWrite}, 37},
		{"sync", []fsio.Op{fsio.OpSync}, 0},
		{"truncate", []fsio.Op{fsio.OpTruncate}, 0},
		{"rename", []fsio.Op{fsio.OpRename}, 0},
		{"remove", []fsio.Op{fsio.OpRemove}, 0},
		{"mkdir", []fsio.Op{fsio.OpMkdir}, 0},
	}
	points, runs, fired := 0, 0, 0
	for s := first; s < first+uint64(seeds); s++ {
		for _, k := range kinds {
			count := runFaults(t, s, &fsio.Nth{Ops: k.ops}).inj.Count()
			points += count
			st := stride
			if st == 0 {
				st = max(1, count/4)
			}
			for n := 1 + int(s)%st; n <= count; n += st {
				t.Run(fmt.Sprintf("seed=%d/%s/n=%d", s, k.name, n), func(t *testing.T) {
					inj := &fsio.Nth{Ops: k.ops, N: n, Partial: k.partial}
					r := runFaults(t, s, inj)
					runs++
					if r.failed {
						fired++
					} else if h := inj.Hits(); len(h) > 0 {
						t.Logf("fault did not surface (the call's failure is harmless): %v", h)
					}
				})
			}
		}
	}
	t.Logf("%d seeds: %d call sites counted, %d runs with a fault armed, %d faults surfaced", seeds, points, runs, fired)
}
