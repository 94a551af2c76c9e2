package checker

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Anomaly names a kind of error the checker looks for; the names are
// Jepsen's (:lost-write is "lost-write"), plus Kafka's acked-not-consumed.
type Anomaly string

// The anomalies, in report order.
const (
	// LostWrite: a value that must have committed, at or below the highest
	// index some ok poll read, was read by no ok poll.
	LostWrite Anomaly = "lost-write"
	// Duplicate: a value at more than one offset of its key.
	Duplicate Anomaly = "duplicate"
	// InconsistentOffsets: one offset of a key holding two or more values.
	InconsistentOffsets Anomaly = "inconsistent-offsets"
	// PollSkip: a process (assign mode) polled a key and its next poll of
	// that key started past the next value in the log.
	PollSkip Anomaly = "poll-skip"
	// NonmonotonicPoll: a process's next poll of a key started at or before
	// where its previous poll ended.
	NonmonotonicPoll Anomaly = "nonmonotonic-poll"
	// IntPollSkip: inside one poll, consecutive values of a key skip part of
	// the log.
	IntPollSkip Anomaly = "int-poll-skip"
	// IntNonmonotonicPoll: inside one poll, consecutive values of a key go
	// back or repeat.
	IntNonmonotonicPoll Anomaly = "int-nonmonotonic-poll"
	// IntSendSkip: inside one send op, consecutive sends to a key are not
	// adjacent in the log. Always allowed: Kafka writes are not isolated.
	IntSendSkip Anomaly = "int-send-skip"
	// IntNonmonotonicSend: inside one send op, consecutive sends to a key go
	// back in the log.
	IntNonmonotonicSend Anomaly = "int-nonmonotonic-send"
	// NonmonotonicSend: a process's first send to a key in an op is at or
	// before its last send to that key in its previous op.
	NonmonotonicSend Anomaly = "nonmonotonic-send"
	// AbortedRead (Jepsen's G1a): an ok poll read a value whose send
	// definitely failed.
	AbortedRead Anomaly = "G1a"
	// UnwrittenRead: a poll returned a value no operation ever sent.
	UnwrittenRead Anomaly = "unwritten-read"
	// Unseen: values acknowledged (ok sends) that no ok poll ever read.
	Unseen Anomaly = "unseen"
	// AckedNotConsumed is Kafka's system-test check (validate_delivery):
	// an acknowledged value missing from the final reads.
	AckedNotConsumed Anomaly = "acked-not-consumed"
	// GroupPollSkip and GroupNonmonotonicPoll are PollSkip and
	// NonmonotonicPoll found in a process that subscribed in a group:
	// rebalances move partitions between consumers, so they are allowed
	// (Jepsen allows both whenever subscribe is used).
	GroupPollSkip         Anomaly = "group-poll-skip"
	GroupNonmonotonicPoll Anomaly = "group-nonmonotonic-poll"
)

// Anomalies lists every anomaly in report order.
var Anomalies = []Anomaly{LostWrite, Duplicate, InconsistentOffsets, PollSkip, NonmonotonicPoll,
	IntPollSkip, IntNonmonotonicPoll, IntSendSkip, IntNonmonotonicSend, NonmonotonicSend,
	AbortedRead, UnwrittenRead, Unseen, AckedNotConsumed, GroupPollSkip, GroupNonmonotonicPoll}

// Allowed reports whether an anomaly does not make a history invalid.
func Allowed(a Anomaly) bool {
	return a == IntSendSkip || a == GroupPollSkip || a == GroupNonmonotonicPoll
}

// MaxExamples bounds the cases kept per anomaly (the count is exact).
const MaxExamples = 8

// Case is one instance of an anomaly.
type Case struct {
	Key int32 `json:"key"`
	// Values are the values involved (the lost value, the two values of a
	// skip, the values at an inconsistent offset, ...).
	Values []int64 `json:"values,omitempty"`
	// Offsets are the offsets involved (of a duplicate value, ...).
	Offsets []int64 `json:"offsets,omitempty"`
	// Skipped are the values a skip passed over.
	Skipped []int64 `json:"skipped,omitempty"`
	// Delta is the index distance of a skip or nonmonotonic case.
	Delta int `json:"delta,omitempty"`
	// Ops are the history indices of the operations involved.
	Ops []int `json:"ops,omitempty"`
	// Text describes the case in one line.
	Text string `json:"text"`
}

// Stats summarises a history.
type Stats struct {
	Ops          int `json:"ops"`
	SendsOK      int `json:"sends_ok"`
	SendsInfo    int `json:"sends_info"`
	SendsFail    int `json:"sends_fail"`
	ValuesAcked  int `json:"values_acked"`
	Polls        int `json:"polls"`
	RecordsRead  int `json:"records_read"`
	FinalPolls   int `json:"final_polls"`
	Keys         int `json:"keys"`
	MaxLogLength int `json:"max_log_length"`
}

// Report is the checker's verdict.
type Report struct {
	Valid    bool               `json:"valid"`
	Counts   map[Anomaly]int    `json:"counts"`
	Examples map[Anomaly][]Case `json:"examples,omitempty"`
	// FinalReadsChecked is false when the history has no final reads, so
	// AckedNotConsumed was not checked.
	FinalReadsChecked bool  `json:"final_reads_checked"`
	Stats             Stats `json:"stats"`
}

func (r *Report) add(a Anomaly, n int, c Case) {
	r.Counts[a] += n
	if len(r.Examples[a]) < MaxExamples {
		r.Examples[a] = append(r.Examples[a], c)
	}
}

// String prints every anomaly's count (zeros too) and the examples.
func (r *Report) String() string {
	var b strings.Builder
	verdict := "VALID"
	if !r.Valid {
		verdict = "INVALID"
	}
	s := r.Stats
	fmt.Fprintf(&b, "%s: %d ops, %d keys; sends ok %d / info %d / fail %d (%d values acknowledged); %d polls read %d records (%d final polls)\n",
		verdict, s.Ops, s.Keys, s.SendsOK, s.SendsInfo, s.SendsFail, s.ValuesAcked, s.Polls, s.RecordsRead, s.FinalPolls)
	for _, a := range Anomalies {
		note := ""
		if Allowed(a) {
			note = " (allowed)"
		}
		if a == AckedNotConsumed && !r.FinalReadsChecked {
			note = " (not checked: no final reads)"
		}
		fmt.Fprintf(&b, "  %-24s %d%s\n", a, r.Counts[a], note)
		for _, c := range r.Examples[a] {
			fmt.Fprintf(&b, "    - %s\n", c.Text)
		}
	}
	return b.String()
}

// Check applies every rule to a history (ops in history order).
func Check(ops []Op) *Report {
	a := analyse(ops)
	r := &Report{Counts: map[Anomaly]int{}, Examples: map[Anomaly][]Case{}}
	for _, an := range Anomalies {
		r.Counts[an] = 0
	}
	a.stats(r)
	a.inconsistentOffsets(r)
	a.duplicates(r)
	a.lostWrites(r)
	a.abortedAndUnwrittenReads(r)
	a.intCases(r)
	a.pollSkips(r)
	a.nonmonotonicSends(r)
	a.unseen(r)
	a.ackedNotConsumed(r)
	r.Valid = true
	for an, n := range r.Counts {
		if n > 0 && !Allowed(an) {
			r.Valid = false
		}
	}
	return r
}

type valueSet map[int64]struct{}

func (s valueSet) has(v int64) bool { _, ok := s[v]; return ok }

// keyValues is key -> set of values.
type keyValues map[int32]valueSet

func (kv keyValues) add(k int32, v int64) {
	if kv[k] == nil {
		kv[k] = valueSet{}
	}
	kv[k][v] = struct{}{}
}

func (kv keyValues) has(k int32, v int64) bool { return kv[k].has(v) }

// order is one key's version order, built from offsets (Jepsen's
// version-orders): the log maps each offset to the set of values seen
// there; indices are dense offsets (the offsets holding a value, ranked).
type order struct {
	log     map[int64]valueSet
	offsets []int64 // sorted offsets of log
	// byIndex maps an index to one value at it (the smallest); byValue maps
	// those values to their index (the last, if a value represents two).
	byIndex []int64
	byValue map[int64]int
	// first and last index at which each value appears.
	first, last map[int64]int
}

func (o *order) index(v int64) (int, bool) { i, ok := o.byValue[v]; return i, ok }

type analysis struct {
	ops     []Op
	reads   map[Type]keyValues // completions' reads by type
	writes  map[Type]keyValues // completions' sends by type
	sentAny keyValues          // every value any op (invoke too) sent
	// writerOf: key -> value -> the completion that sent it.
	writerOf map[int32]map[int64]int
	orders   map[int32]*order
}

// opReads returns the keys op read in first-read order and the values per key in read order.
func opReads(op *Op) ([]int32, map[int32][]int64) {
	var keys []int32
	m := map[int32][]int64{}
	for _, r := range op.Reads {
		if _, ok := m[r.Key]; !ok {
			keys = append(keys, r.Key)
		}
		m[r.Key] = append(m[r.Key], r.Value)
	}
	return keys, m
}

// opSends is opReads for sends.
func opSends(op *Op) ([]int32, map[int32][]int64) {
	var keys []int32
	m := map[int32][]int64{}
	for _, s := range op.Sends {
		if _, ok := m[s.Key]; !ok {
			keys = append(keys, s.Key)
		}
		m[s.Key] = append(m[s.Key], s.Value)
	}
	return keys, m
}

func analyse(ops []Op) *analysis {
	a := &analysis{ops: ops, reads: map[Type]keyValues{}, writes: map[Type]keyValues{},
		sentAny: keyValues{}, writerOf: map[int32]map[int64]int{}, orders: map[int32]*order{}}
	for _, t := range []Type{OK, Info, Fail} {
		a.reads[t], a.writes[t] = keyValues{}, keyValues{}
	}
	for i := range ops {
		op := &ops[i]
		for _, s := range op.Sends {
			a.sentAny.add(s.Key, s.Value)
		}
		if op.Type == Invoke {
			continue
		}
		switch op.F {
		case FSend:
			for _, s := range op.Sends {
				a.writes[op.Type].add(s.Key, s.Value)
				if a.writerOf[s.Key] == nil {
					a.writerOf[s.Key] = map[int64]int{}
				}
				a.writerOf[s.Key][s.Value] = i
			}
		case FPoll:
			for _, r := range op.Reads {
				a.reads[op.Type].add(r.Key, r.Value)
			}
		}
	}
	// The logs: offsets from sends that must have committed, and from every
	// completed poll whatever its outcome (a poll only returns stored data).
	logs := map[int32]map[int64]valueSet{}
	put := func(k int32, off, v int64) {
		if logs[k] == nil {
			logs[k] = map[int64]valueSet{}
		}
		if logs[k][off] == nil {
			logs[k][off] = valueSet{}
		}
		logs[k][off][v] = struct{}{}
	}
	for i := range ops {
		op := &ops[i]
		if op.Type == Invoke {
			continue
		}
		if op.F == FSend && a.mustHaveCommitted(op) {
			for _, s := range op.Sends {
				if s.Offset != nil {
					put(s.Key, *s.Offset, s.Value)
				}
			}
		}
		if op.F == FPoll {
			for _, r := range op.Reads {
				put(r.Key, r.Offset, r.Value)
			}
		}
	}
	for k, log := range logs {
		o := &order{log: log, byValue: map[int64]int{}, first: map[int64]int{}, last: map[int64]int{}}
		o.offsets = slices.Sorted(maps.Keys(log))
		for i, off := range o.offsets {
			vs := slices.Sorted(maps.Keys(log[off]))
			o.byIndex = append(o.byIndex, vs[0])
			o.byValue[vs[0]] = i
			for _, v := range vs {
				if _, ok := o.first[v]; !ok {
					o.first[v] = i
				}
				o.last[v] = i
			}
		}
		a.orders[k] = o
	}
	return a
}

// mustHaveCommitted: the op is ok, or info and some value it sent was read
// by an ok poll.
func (a *analysis) mustHaveCommitted(op *Op) bool {
	if op.Type == OK {
		return true
	}
	if op.Type != Info {
		return false
	}
	for _, s := range op.Sends {
		if a.reads[OK].has(s.Key, s.Value) {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[int32]V) []int32 { return slices.Sorted(maps.Keys(m)) }

func (a *analysis) stats(r *Report) {
	s := &r.Stats
	s.Ops = len(a.ops)
	for i := range a.ops {
		op := &a.ops[i]
		switch {
		case op.F == FSend && op.Type == OK:
			s.SendsOK++
			s.ValuesAcked += len(op.Sends)
		case op.F == FSend && op.Type == Info:
			s.SendsInfo++
		case op.F == FSend && op.Type == Fail:
			s.SendsFail++
		case op.F == FPoll && op.Type != Invoke:
			s.Polls++
			s.RecordsRead += len(op.Reads)
			if op.Final {
				s.FinalPolls++
			}
		}
	}
	s.Keys = len(a.orders)
	for _, o := range a.orders {
		s.MaxLogLength = max(s.MaxLogLength, len(o.offsets))
	}
}

func (a *analysis) inconsistentOffsets(r *Report) {
	for _, k := range sortedKeys(a.orders) {
		o := a.orders[k]
		for i, off := range o.offsets {
			if len(o.log[off]) < 2 {
				continue
			}
			vs := slices.Sorted(maps.Keys(o.log[off]))
			r.add(InconsistentOffsets, 1, Case{Key: k, Values: vs, Offsets: []int64{off},
				Text: fmt.Sprintf("key %d offset %d (index %d) holds values %v", k, off, i, vs)})
		}
	}
}

func (a *analysis) duplicates(r *Report) {
	for _, k := range sortedKeys(a.orders) {
		o := a.orders[k]
		at := map[int64][]int64{}
		for _, off := range o.offsets {
			for v := range o.log[off] {
				at[v] = append(at[v], off)
			}
		}
		for _, v := range slices.Sorted(maps.Keys(at)) {
			if offs := at[v]; len(offs) > 1 {
				r.add(Duplicate, 1, Case{Key: k, Values: []int64{v}, Offsets: offs,
					Text: fmt.Sprintf("key %d value %d at %d offsets %v", k, v, len(offs), offs)})
			}
		}
	}
}

// lostWrites: per key, bound = the highest first index of any value an ok
// poll read; every value whose last index is <= bound must have been read
// by an ok poll; those that were not, and whose send must have committed,
// are lost.
func (a *analysis) lostWrites(r *Report) {
	okReads := a.reads[OK]
	for _, k := range sortedKeys(okReads) {
		o := a.orders[k]
		if o == nil {
			continue
		}
		bound, boundValue := -1, int64(0)
		for v := range okReads[k] {
			if i, ok := o.first[v]; ok && i > bound {
				bound, boundValue = i, v
			}
		}
		byLast := make([][]int64, bound+1)
		for v, i := range o.last {
			if i <= bound {
				byLast[i] = append(byLast[i], v)
			}
		}
		maxRead := a.readerOf(k, boundValue)
		for i, vs := range byLast {
			slices.Sort(vs)
			for _, v := range vs {
				if okReads[k].has(v) {
					continue
				}
				w, ok := a.writerOf[k][v]
				if !ok || !a.mustHaveCommitted(&a.ops[w]) {
					continue
				}
				r.add(LostWrite, 1, Case{Key: k, Values: []int64{v}, Offsets: []int64{o.offsets[o.first[v]]}, Ops: []int{w, maxRead},
					Text: fmt.Sprintf("key %d value %d (offset %d, index %d) acknowledged by op %d (%s) but never read, although op %d read up to index %d",
						k, v, o.offsets[o.first[v]], i, w, a.ops[w].Type, maxRead, bound)})
			}
		}
	}
}

// readerOf returns the index of the first ok poll that read v of k (-1 if none).
func (a *analysis) readerOf(k int32, v int64) int {
	for i := range a.ops {
		op := &a.ops[i]
		if op.F != FPoll || op.Type != OK {
			continue
		}
		for _, rd := range op.Reads {
			if rd.Key == k && rd.Value == v {
				return i
			}
		}
	}
	return -1
}

func (a *analysis) abortedAndUnwrittenReads(r *Report) {
	for i := range a.ops {
		op := &a.ops[i]
		if op.F != FPoll || op.Type == Invoke {
			continue
		}
		for _, rd := range op.Reads {
			if !a.sentAny.has(rd.Key, rd.Value) {
				r.add(UnwrittenRead, 1, Case{Key: rd.Key, Values: []int64{rd.Value}, Offsets: []int64{rd.Offset}, Ops: []int{i},
					Text: fmt.Sprintf("op %d read key %d offset %d value %d, which nobody sent", i, rd.Key, rd.Offset, rd.Value)})
				continue
			}
			if op.Type == OK && a.writes[Fail].has(rd.Key, rd.Value) {
				w := a.writerOf[rd.Key][rd.Value]
				r.add(AbortedRead, 1, Case{Key: rd.Key, Values: []int64{rd.Value}, Ops: []int{w, i},
					Text: fmt.Sprintf("op %d read key %d value %d whose send (op %d) failed", i, rd.Key, rd.Value, w)})
			}
		}
	}
}

// delta is the index distance from v1 to v2 in k's order (1, "adjacent",
// when either index is unknown, as Jepsen does).
func (a *analysis) delta(k int32, v1, v2 int64) (d, i1, i2 int) {
	o := a.orders[k]
	if o == nil {
		return 1, 0, 0
	}
	i1, ok1 := o.index(v1)
	i2, ok2 := o.index(v2)
	if !ok1 || !ok2 {
		return 1, 0, 0
	}
	return i2 - i1, i1, i2
}

func (a *analysis) skipped(k int32, i1, i2 int) []int64 {
	return slices.Clone(a.orders[k].byIndex[i1+1 : i2])
}

// intCases checks consecutive values of a key inside one op.
func (a *analysis) intCases(r *Report) {
	for i := range a.ops {
		op := &a.ops[i]
		if op.Type == Invoke {
			continue
		}
		if op.F == FPoll {
			keys, vals := opReads(op)
			for _, k := range keys {
				if slices.Contains(op.Rebalanced, k) {
					continue
				}
				a.pairs(r, i, k, vals[k], IntPollSkip, IntNonmonotonicPoll, "read")
			}
		}
		if op.F == FSend {
			keys, vals := opSends(op)
			for _, k := range keys {
				a.pairs(r, i, k, vals[k], IntSendSkip, IntNonmonotonicSend, "sent")
			}
		}
	}
}

func (a *analysis) pairs(r *Report, i int, k int32, vs []int64, skip, nonmono Anomaly, verb string) {
	for j := 1; j < len(vs); j++ {
		d, i1, i2 := a.delta(k, vs[j-1], vs[j])
		switch {
		case d > 1:
			r.add(skip, 1, Case{Key: k, Values: []int64{vs[j-1], vs[j]}, Delta: d, Skipped: a.skipped(k, i1, i2), Ops: []int{i},
				Text: fmt.Sprintf("op %d %s key %d values %d then %d, skipping %d index(es): %v", i, verb, k, vs[j-1], vs[j], d-1, a.skipped(k, i1, i2))})
		case d < 1:
			r.add(nonmono, 1, Case{Key: k, Values: []int64{vs[j-1], vs[j]}, Delta: d, Ops: []int{i},
				Text: fmt.Sprintf("op %d %s key %d values %d then %d (index delta %d)", i, verb, k, vs[j-1], vs[j], d)})
		}
	}
}

// byProcess returns the history indices of each process's ops, in order.
func (a *analysis) byProcess() map[int][]int {
	m := map[int][]int{}
	for i := range a.ops {
		m[a.ops[i].Process] = append(m[a.ops[i].Process], i)
	}
	return m
}

// keep drops from last every key not in keys (an assign or subscribe).
func keep(last map[int32]int, keys []int32) {
	for k := range last {
		if !slices.Contains(keys, k) {
			delete(last, k)
		}
	}
}

// pollSkips walks each process's ops: the first value a poll read of a key
// must be the value right after the last value the process's previous ok
// poll of that key read.
func (a *analysis) pollSkips(r *Report) {
	procs := a.byProcess()
	for _, p := range slices.Sorted(maps.Keys(procs)) {
		subscribed := false
		for _, i := range procs[p] {
			if a.ops[i].F == FSubscribe {
				subscribed = true
			}
		}
		skip, nonmono := PollSkip, NonmonotonicPoll
		if subscribed {
			skip, nonmono = GroupPollSkip, GroupNonmonotonicPoll
		}
		last := map[int32]int{} // key -> the last ok op that read it
		for _, i := range procs[p] {
			op := &a.ops[i]
			switch op.F {
			case FAssign, FSubscribe:
				if op.Type == OK || op.Type == Info {
					keep(last, op.Keys)
				}
			case FPoll:
				keys, vals := opReads(op)
				for _, k := range keys {
					j, ok := last[k]
					if !ok {
						continue
					}
					_, prev := opReads(&a.ops[j])
					v := prev[k][len(prev[k])-1]
					v2 := vals[k][0]
					d, i1, i2 := a.delta(k, v, v2)
					switch {
					case d > 1:
						r.add(skip, 1, Case{Key: k, Values: []int64{v, v2}, Delta: d, Skipped: a.skipped(k, i1, i2), Ops: []int{j, i},
							Text: fmt.Sprintf("process %d: op %d read key %d up to value %d, then op %d started at %d, skipping %v", p, j, k, v, i, v2, a.skipped(k, i1, i2))})
					case d < 1:
						r.add(nonmono, 1, Case{Key: k, Values: []int64{v, v2}, Delta: d, Ops: []int{j, i},
							Text: fmt.Sprintf("process %d: op %d read key %d up to value %d, then op %d started at %d (index delta %d)", p, j, k, v, i, v2, d)})
					}
				}
				if op.Type == OK {
					for _, k := range keys {
						last[k] = i
					}
				}
			}
		}
	}
}

// nonmonotonicSends walks each process's ok and info ops: the first send
// to a key in an op must come after the last send to it in the process's
// previous op that sent to it.
func (a *analysis) nonmonotonicSends(r *Report) {
	procs := a.byProcess()
	for _, p := range slices.Sorted(maps.Keys(procs)) {
		last := map[int32]int{}
		for _, i := range procs[p] {
			op := &a.ops[i]
			if op.Type != OK && op.Type != Info {
				continue
			}
			switch op.F {
			case FAssign, FSubscribe:
				keep(last, op.Keys)
			case FSend:
				keys, vals := opSends(op)
				for _, k := range keys {
					if j, ok := last[k]; ok {
						_, prev := opSends(&a.ops[j])
						v, v2 := prev[k][len(prev[k])-1], vals[k][0]
						if d, _, _ := a.delta(k, v, v2); d < 1 {
							r.add(NonmonotonicSend, 1, Case{Key: k, Values: []int64{v, v2}, Delta: d, Ops: []int{j, i},
								Text: fmt.Sprintf("process %d: op %d sent key %d value %d, then op %d sent %d at or before it (index delta %d)", p, j, k, v, i, v2, d)})
						}
					}
					last[k] = i
				}
			}
		}
	}
}

// unseen: values acknowledged by ok sends that no ok poll read.
func (a *analysis) unseen(r *Report) {
	a.ackedMissingFrom(r, Unseen, a.reads[OK], "never polled")
}

// ackedNotConsumed is Kafka's validate_delivery: acked − consumed, where
// consumed is what the final reads returned.
func (a *analysis) ackedNotConsumed(r *Report) {
	final := keyValues{}
	for i := range a.ops {
		op := &a.ops[i]
		if op.Final && op.F == FPoll && op.Type != Invoke {
			r.FinalReadsChecked = true
			for _, rd := range op.Reads {
				final.add(rd.Key, rd.Value)
			}
		}
	}
	if r.FinalReadsChecked {
		a.ackedMissingFrom(r, AckedNotConsumed, final, "missing from the final reads")
	}
}

// ackedMissingFrom reports, per key, the values of ok sends not in have.
func (a *analysis) ackedMissingFrom(r *Report, an Anomaly, have keyValues, what string) {
	for _, k := range sortedKeys(a.writes[OK]) {
		var missing []int64
		for v := range a.writes[OK][k] {
			if !have.has(k, v) {
				missing = append(missing, v)
			}
		}
		if len(missing) == 0 {
			continue
		}
		slices.Sort(missing)
		r.add(an, len(missing), Case{Key: k, Values: missing,
			Text: fmt.Sprintf("key %d: %d acknowledged values %s: %v", k, len(missing), what, head(missing))})
	}
}

// head shortens a long list for a one-line report.
func head(vs []int64) string {
	if len(vs) <= 10 {
		return fmt.Sprint(vs)
	}
	return strings.TrimSuffix(fmt.Sprint(vs[:10]), "]") + " ...]"
}
