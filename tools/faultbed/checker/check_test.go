package checker

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// h builds a history by hand: each helper appends an invoke and its
// completion for one process.
type h struct{ ops []Op }

func (b *h) pair(inv, done Op) {
	inv.Type = Invoke
	for _, o := range []*Op{&inv, &done} {
		o.Index = len(b.ops)
		o.Time = int64(o.Index)
		b.ops = append(b.ops, *o)
	}
}

// send: an acknowledged send of v to k at offset off.
func (b *h) send(p int, k int32, v, off int64) {
	b.pair(Op{Process: p, F: FSend, Sends: []Send{{Key: k, Value: v}}},
		Op{Process: p, F: FSend, Type: OK, Sends: []Send{{Key: k, Value: v, Offset: Offset(off)}}})
}

// sendAs: a send of sends completing with type t (no offsets unless given).
func (b *h) sendAs(p int, t Type, sends ...Send) {
	inv := make([]Send, len(sends))
	for i, s := range sends {
		inv[i] = Send{Key: s.Key, Value: s.Value}
	}
	b.pair(Op{Process: p, F: FSend, Sends: inv}, Op{Process: p, F: FSend, Type: t, Sends: sends})
}

// poll: a poll by p completing with type t and reads (key, offset, value triples).
func (b *h) pollAs(p int, t Type, final bool, reads ...Read) {
	b.pair(Op{Process: p, F: FPoll, Final: final}, Op{Process: p, F: FPoll, Type: t, Final: final, Reads: reads})
}

func (b *h) poll(p int, reads ...Read) { b.pollAs(p, OK, false, reads...) }

func (b *h) assign(p int, f Func, keys ...int32) {
	b.pair(Op{Process: p, F: f, Keys: keys}, Op{Process: p, F: f, Type: OK, Keys: keys})
}

// r is a read of key 0.
func r(off, v int64) Read { return Read{Key: 0, Offset: off, Value: v} }

// clean: five values sent to key 0 (offsets 0-4), read by two polls of one
// process, and all read again by a final poll.
func clean() *h {
	b := &h{}
	b.assign(1, FAssign, 0)
	for v := int64(1); v <= 5; v++ {
		b.send(2, 0, v, v-1)
	}
	b.poll(1, r(0, 1), r(1, 2), r(2, 3))
	b.poll(1, r(3, 4), r(4, 5))
	b.pollAs(3, OK, true, r(0, 1), r(1, 2), r(2, 3), r(3, 4), r(4, 5))
	return b
}

// only asserts that exactly the given anomalies were found, with the given counts.
func only(t *testing.T, rep *Report, want map[Anomaly]int) {
	t.Helper()
	for _, a := range Anomalies {
		assert.Equal(t, want[a], rep.Counts[a], "count of %s\n%s", a, rep)
		assert.Equal(t, want[a] > 0, len(rep.Examples[a]) > 0, "examples of %s", a)
	}
	valid := true
	for a, n := range want {
		if n > 0 && !Allowed(a) {
			valid = false
		}
	}
	assert.Equal(t, valid, rep.Valid, "%s", rep)
}

func TestCleanHistoryIsValid(t *testing.T) {
	rep := Check(clean().ops)
	only(t, rep, nil)
	assert.True(t, rep.FinalReadsChecked)
	assert.Equal(t, 5, rep.Stats.ValuesAcked)
	assert.Equal(t, 3, rep.Stats.Polls)
	assert.Equal(t, 1, rep.Stats.FinalPolls)
	assert.Contains(t, rep.String(), "VALID")
	assert.Contains(t, rep.String(), "lost-write               0")
}

// TestLostWrite: v3 (offset 2) was acknowledged; one process read v1 and
// v2, another read v4 (index 3): v3 lies below the highest index read, so
// it is lost (and unseen).
func TestLostWrite(t *testing.T) {
	b := &h{}
	for v := int64(1); v <= 4; v++ {
		b.send(1, 0, v, v-1)
	}
	b.poll(2, r(0, 1), r(1, 2))
	b.poll(3, r(3, 4))
	rep := Check(b.ops)
	only(t, rep, map[Anomaly]int{LostWrite: 1, Unseen: 1})
	c := rep.Examples[LostWrite][0]
	assert.Equal(t, []int64{3}, c.Values)
	assert.Equal(t, []int64{2}, c.Offsets)
	assert.Contains(t, c.Text, "never read")
}

// TestLostWriteAboveBoundIsNotLost: values past the highest index read
// may simply not have been polled yet: unseen, not lost.
func TestLostWriteAboveBoundIsNotLost(t *testing.T) {
	b := &h{}
	for v := int64(1); v <= 4; v++ {
		b.send(1, 0, v, v-1)
	}
	b.poll(2, r(0, 1), r(1, 2))
	only(t, Check(b.ops), map[Anomaly]int{Unseen: 2})
}

// TestLostWriteMustHaveCommitted: an info send is lost only if it must
// have committed, i.e. another value of the same op was read by an ok poll.
func TestLostWriteMustHaveCommitted(t *testing.T) {
	build := func(siblingRead bool) *Report {
		b := &h{}
		b.send(1, 0, 1, 0)
		b.send(1, 0, 2, 1)
		// An info send of v3 to key 0 and v9 to key 1; v3 shows up at
		// offset 2 only in a failed poll.
		b.sendAs(1, Info, Send{Key: 0, Value: 3}, Send{Key: 1, Value: 9})
		b.send(1, 0, 4, 3)
		b.pollAs(2, Fail, false, r(2, 3))
		b.poll(3, r(0, 1), r(1, 2))
		b.poll(4, r(3, 4))
		if siblingRead {
			b.poll(5, Read{Key: 1, Offset: 0, Value: 9})
		}
		return Check(b.ops)
	}
	only(t, build(false), nil)
	rep := build(true)
	only(t, rep, map[Anomaly]int{LostWrite: 1})
	assert.Equal(t, []int64{3}, rep.Examples[LostWrite][0].Values)
}

// TestLostWriteFirstLastIndexRule: v1 appears at offsets 0 and 2. A reader
// of v2 (index 1) must have read every value whose LAST index is <= 1;
// v1's last index is 2, so it is a duplicate but not lost.
func TestLostWriteFirstLastIndexRule(t *testing.T) {
	b := &h{}
	b.send(1, 0, 1, 0)
	b.send(4, 0, 2, 1) // another process: v1's index in by-value is 2 (Jepsen's: the last)
	b.poll(2, r(2, 1))
	b.poll(3, r(1, 2))
	rep := Check(b.ops)
	only(t, rep, map[Anomaly]int{Duplicate: 1})
	assert.Equal(t, []int64{0, 2}, rep.Examples[Duplicate][0].Offsets)
}

// TestDuplicate: v1 stored at offsets 0 and 2 (a retried send stored
// twice). Jepsen's by-value map gives v1 its last index (2), so a process
// that sent v1 then v2, or read them in that order, also shows as
// nonmonotonic: a duplicate is never reported alone.
func TestDuplicate(t *testing.T) {
	b := &h{}
	b.send(1, 0, 1, 0)
	b.send(1, 0, 2, 1)
	b.poll(2, r(0, 1), r(1, 2), r(2, 1))
	rep := Check(b.ops)
	only(t, rep, map[Anomaly]int{Duplicate: 1, NonmonotonicSend: 1, IntNonmonotonicPoll: 1})
	assert.Equal(t, []int64{0, 2}, rep.Examples[Duplicate][0].Offsets)
}

func TestInconsistentOffsets(t *testing.T) {
	b := &h{}
	b.send(1, 0, 1, 0)
	b.send(2, 0, 2, 0)
	b.poll(3, r(0, 1))
	b.poll(4, r(0, 2))
	rep := Check(b.ops)
	only(t, rep, map[Anomaly]int{InconsistentOffsets: 1})
	assert.Equal(t, []int64{1, 2}, rep.Examples[InconsistentOffsets][0].Values)
}

func TestPollSkip(t *testing.T) {
	b := &h{}
	for v := int64(1); v <= 3; v++ {
		b.send(1, 0, v, v-1)
	}
	b.assign(2, FAssign, 0)
	b.poll(2, r(0, 1))
	b.poll(2, r(2, 3))
	b.poll(3, r(0, 1), r(1, 2), r(2, 3))
	rep := Check(b.ops)
	only(t, rep, map[Anomaly]int{PollSkip: 1})
	assert.Equal(t, []int64{2}, rep.Examples[PollSkip][0].Skipped)
}

func TestNonmonotonicPoll(t *testing.T) {
	b := &h{}
	for v := int64(1); v <= 3; v++ {
		b.send(1, 0, v, v-1)
	}
	b.poll(2, r(0, 1), r(1, 2))
	b.poll(2, r(1, 2), r(2, 3))
	only(t, Check(b.ops), map[Anomaly]int{NonmonotonicPoll: 1})
}

// TestAssignResetsPosition: a process that drops a key and assigns it
// again may start over: no nonmonotonic poll.
func TestAssignResetsPosition(t *testing.T) {
	b := &h{}
	for v := int64(1); v <= 2; v++ {
		b.send(1, 0, v, v-1)
	}
	b.poll(2, r(0, 1), r(1, 2))
	b.assign(2, FAssign, 1)
	b.assign(2, FAssign, 0, 1)
	b.poll(2, r(0, 1), r(1, 2))
	only(t, Check(b.ops), nil)
}

// TestGroupSkipsAllowed: the same skip in a subscribed process is reported
// but allowed.
func TestGroupSkipsAllowed(t *testing.T) {
	b := &h{}
	for v := int64(1); v <= 3; v++ {
		b.send(1, 0, v, v-1)
	}
	b.assign(2, FSubscribe, 0)
	b.poll(2, r(0, 1))
	b.poll(2, r(2, 3))
	b.poll(3, r(0, 1), r(1, 2), r(2, 3))
	rep := Check(b.ops)
	only(t, rep, map[Anomaly]int{GroupPollSkip: 1})
	assert.True(t, rep.Valid)
}

func TestIntPollSkipAndRebalance(t *testing.T) {
	build := func(rebalanced bool) *Report {
		b := &h{}
		for v := int64(1); v <= 3; v++ {
			b.send(1, 0, v, v-1)
		}
		b.poll(2, r(0, 1), r(1, 2), r(2, 3))
		done := Op{Process: 3, F: FPoll, Type: OK, Reads: []Read{r(0, 1), r(2, 3)}}
		if rebalanced {
			done.Rebalanced = []int32{0}
		}
		b.pair(Op{Process: 3, F: FPoll}, done)
		return Check(b.ops)
	}
	only(t, build(false), map[Anomaly]int{IntPollSkip: 1})
	only(t, build(true), nil)
}

func TestIntNonmonotonicPoll(t *testing.T) {
	b := &h{}
	b.send(1, 0, 1, 0)
	b.send(1, 0, 2, 1)
	b.poll(2, r(1, 2), r(0, 1))
	only(t, Check(b.ops), map[Anomaly]int{IntNonmonotonicPoll: 1})
}

func TestIntSendCases(t *testing.T) {
	b := &h{}
	b.sendAs(1, OK, Send{Key: 0, Value: 1, Offset: Offset(0)}, Send{Key: 0, Value: 3, Offset: Offset(2)})
	b.sendAs(2, OK, Send{Key: 0, Value: 2, Offset: Offset(1)})
	b.sendAs(3, OK, Send{Key: 0, Value: 5, Offset: Offset(4)}, Send{Key: 0, Value: 4, Offset: Offset(3)})
	b.poll(4, r(0, 1), r(1, 2), r(2, 3), r(3, 4), r(4, 5))
	rep := Check(b.ops)
	only(t, rep, map[Anomaly]int{IntSendSkip: 1, IntNonmonotonicSend: 1})
}

func TestNonmonotonicSend(t *testing.T) {
	b := &h{}
	b.send(1, 0, 1, 1)
	b.send(1, 0, 2, 0)
	b.poll(2, r(0, 2), r(1, 1))
	rep := Check(b.ops)
	only(t, rep, map[Anomaly]int{NonmonotonicSend: 1})
}

func TestAbortedRead(t *testing.T) {
	b := &h{}
	b.sendAs(1, Fail, Send{Key: 0, Value: 1})
	b.poll(2, r(0, 1))
	only(t, Check(b.ops), map[Anomaly]int{AbortedRead: 1})
}

func TestUnwrittenRead(t *testing.T) {
	b := &h{}
	b.send(1, 0, 1, 0)
	b.poll(2, r(0, 1), r(1, 999))
	only(t, Check(b.ops), map[Anomaly]int{UnwrittenRead: 1})
}

func TestUnseen(t *testing.T) {
	b := &h{}
	b.send(1, 0, 1, 0)
	rep := Check(b.ops)
	only(t, rep, map[Anomaly]int{Unseen: 1})
	assert.False(t, rep.FinalReadsChecked)
	assert.Contains(t, rep.String(), "not checked")
}

// TestAckedNotConsumed is Kafka's check: v2 was polled during the run but
// the final reads from offset 0 did not return it.
func TestAckedNotConsumed(t *testing.T) {
	b := &h{}
	b.send(1, 0, 1, 0)
	b.send(1, 0, 2, 1)
	b.poll(2, r(0, 1), r(1, 2))
	b.pollAs(3, OK, true, r(0, 1))
	rep := Check(b.ops)
	only(t, rep, map[Anomaly]int{AckedNotConsumed: 1})
	assert.Equal(t, []int64{2}, rep.Examples[AckedNotConsumed][0].Values)
}

func TestExamplesAreBoundedCountsAreNot(t *testing.T) {
	b := &h{}
	for v := int64(1); v <= 20; v++ {
		b.send(1, 0, v, v-1)
		b.send(1, 1, 100+v, v-1)
	}
	// Both keys: every other value read by one process, one value per poll.
	for v := int64(1); v <= 20; v += 2 {
		b.poll(2, r(v-1, v))
	}
	rep := Check(b.ops)
	assert.Equal(t, 9, rep.Counts[PollSkip])
	assert.Len(t, rep.Examples[PollSkip], MaxExamples)
	assert.Equal(t, 9, rep.Counts[LostWrite])
	assert.Equal(t, 30, rep.Counts[Unseen], "10 of key 0, 20 of key 1")
	assert.False(t, rep.Valid)
}

func TestJSONLinesRoundTrip(t *testing.T) {
	ops := clean().ops
	var buf bytes.Buffer
	require.NoError(t, WriteJSONLines(&buf, ops))
	assert.Equal(t, len(ops), strings.Count(buf.String(), "\n"))
	assert.Contains(t, buf.String(), `"offset":0`, "offset 0 is written, not omitted")
	back, err := ReadJSONLines(&buf)
	require.NoError(t, err)
	assert.Equal(t, ops, back)
	assert.Equal(t, Check(ops), Check(back))
}

func TestJSONLinesErrors(t *testing.T) {
	_, err := ReadJSONLines(strings.NewReader(`{"index":0,"type":"ok","f":"send"}` + "\n" + `{"index":1,`))
	assert.ErrorContains(t, err, "line 2")
	_, err = ReadJSONLines(strings.NewReader(`{"index":0,"type":"done","f":"send"}`))
	assert.ErrorContains(t, err, `unknown type "done"`)
	_, err = ReadJSONLines(strings.NewReader(`{"index":0,"type":"ok","f":"txn"}`))
	assert.ErrorContains(t, err, `unknown f "txn"`)
}
