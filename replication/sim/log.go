package sim

import (
	"fmt"
	"strings"

	"github.com/strom-broker/strom/engine/epoch"
)

// Record is one record of a simulated partition log: the leader epoch it
// was written in and the value a client produced (unique per run).
type Record struct {
	Epoch int32
	Value string
}

// memLog is a replica's partition log in memory: records from offset 0
// (no retention: the log start is always 0), the leader-epoch cache kept
// with the engine's own rules (epoch.AssignEntry, EndOffsetIn,
// TruncatedFromEnd), and how much of it is on disk.
//
// Invariants: synced <= len(records); the epoch cache's entries are
// sorted with strictly increasing epochs and start offsets, each start
// offset <= len(records) (truncation trims them, as partlog does).
type memLog struct {
	records []Record
	epochs  []epoch.Entry
	// synced is how many records survive a machine crash (fsynced); the
	// epoch cache is written through (fsynced at every change, as the
	// engine's cache file is), so it survives and is trimmed to the log on
	// recovery.
	synced int
}

// leo is the log end offset.
func (l *memLog) leo() int64 { return int64(len(l.records)) }

// append adds records of epoch e, recording e in the epoch cache.
func (l *memLog) append(rs ...Record) {
	for _, r := range rs {
		l.epochs, _ = epoch.AssignEntry(l.epochs, epoch.Entry{Epoch: r.Epoch, StartOffset: l.leo()})
		l.records = append(l.records, r)
	}
}

// assignEpoch records that epoch e starts at the log end (a new leader's
// MakeLeader does this before any record of e is written).
func (l *memLog) assignEpoch(e int32) {
	if n := len(l.epochs); n == 0 || l.epochs[n-1].Epoch < e {
		l.epochs, _ = epoch.AssignEntry(l.epochs, epoch.Entry{Epoch: e, StartOffset: l.leo()})
	}
}

// truncateTo removes the records at offset and above and the epochs that
// start there. At or beyond the log end it still drops epochs that start at
// the log end (Kafka's UnifiedLog.truncateTo: an epoch this replica began as
// leader without appending to it must not answer for the log).
func (l *memLog) truncateTo(offset int64) {
	if offset >= l.leo() {
		l.epochs = epoch.TruncatedFromEnd(l.epochs, l.leo())
		return
	}
	l.records = l.records[:offset]
	l.synced = min(l.synced, len(l.records))
	l.epochs = epoch.TruncatedFromEnd(l.epochs, offset)
}

// latestEpoch returns the latest epoch in the cache.
func (l *memLog) latestEpoch() (int32, bool) {
	if len(l.epochs) == 0 {
		return epoch.UndefinedEpoch, false
	}
	return l.epochs[len(l.epochs)-1].Epoch, true
}

// endOffsetFor answers OffsetForLeaderEpoch from this log.
func (l *memLog) endOffsetFor(e int32) (int32, int64) {
	return epoch.EndOffsetIn(l.epochs, e, l.leo())
}

// crash keeps what a machine crash keeps: the synced records, and the
// epoch cache trimmed to them (partlog's recovery).
func (l *memLog) crash() {
	l.records = l.records[:l.synced]
	l.epochs = epoch.TruncatedFromEnd(l.epochs, l.leo())
}

// clone returns an independent copy.
func (l *memLog) clone() *memLog {
	return &memLog{records: append([]Record(nil), l.records...), epochs: append([]epoch.Entry(nil), l.epochs...), synced: l.synced}
}

// String shows the records as offset:value@epoch (the last 8 of a long
// log) and the epoch cache.
func (l *memLog) String() string {
	var b strings.Builder
	from := 0
	if len(l.records) > 12 {
		from = len(l.records) - 8
		fmt.Fprintf(&b, "... (%d records)", from)
	}
	for i := from; i < len(l.records); i++ {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%d:%s@%d", i, l.records[i].Value, l.records[i].Epoch)
	}
	if len(l.records) == 0 {
		b.WriteString("(empty)")
	}
	b.WriteString(" epochs")
	for _, e := range l.epochs {
		fmt.Fprintf(&b, " %d@%d", e.Epoch, e.StartOffset)
	}
	return b.String()
}
