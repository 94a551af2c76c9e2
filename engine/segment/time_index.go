package segment

import (
	"encoding/binary"
	"fmt"
	"sort"
)

// TimeIndexEntrySize is the size of one .timeindex entry: int64 timestamp,
// int32 offset relative to the segment's base (big-endian). Part of the
// format.
const TimeIndexEntrySize = 12

// TimeIndex is a segment's .timeindex: sparse entries (max timestamp so far,
// relative last offset of the batch that carried it).
//
// Invariant: timestamps strictly increase and offsets never decrease with
// the entry number. An entry (T, o) says no batch up to offset o has a
// timestamp above T.
type TimeIndex struct{ ix *mmapIndex }

func (t TimeIndex) read(i int) (ts int64, rel int32) {
	e := t.ix.entry(i)
	return int64(binary.BigEndian.Uint64(e)), int32(binary.BigEndian.Uint32(e[8:]))
}

// maybeAppend adds (ts, rel) if ts is above the last entry's timestamp.
// One slot is kept in reserve for the entry written when the segment is
// sealed (reserve=1 for normal appends, 0 for the seal).
func (t TimeIndex) maybeAppend(ts int64, rel int32, reserve int) error {
	t.ix.mu.Lock()
	defer t.ix.mu.Unlock()
	if t.ix.n > 0 {
		lts, lrel := t.read(t.ix.n - 1)
		if ts <= lts {
			return nil
		}
		if rel < lrel {
			return fmt.Errorf("segment: time index offset %d below last %d", rel, lrel)
		}
	}
	if t.ix.fullLocked(reserve) {
		return ErrIndexFull
	}
	var e [TimeIndexEntrySize]byte
	binary.BigEndian.PutUint64(e[:], uint64(ts))
	binary.BigEndian.PutUint32(e[8:], uint32(rel))
	return t.ix.appendLocked(e[:])
}

// full reports whether only the reserved slot is left.
func (t TimeIndex) full() bool {
	t.ix.mu.RLock()
	defer t.ix.mu.RUnlock()
	return t.ix.fullLocked(1)
}

// lookupBefore returns the relative offset of the last entry whose
// timestamp is strictly below ts; ok is false when there is none. Every
// batch up to that offset has timestamps below ts.
func (t TimeIndex) lookupBefore(ts int64) (rel int32, ok bool) {
	t.ix.mu.RLock()
	defer t.ix.mu.RUnlock()
	i := sort.Search(t.ix.n, func(i int) bool { x, _ := t.read(i); return x >= ts })
	if i == 0 {
		return 0, false
	}
	_, rel = t.read(i - 1)
	return rel, true
}

// last returns the last entry.
func (t TimeIndex) last() (ts int64, rel int32, ok bool) {
	t.ix.mu.RLock()
	defer t.ix.mu.RUnlock()
	if t.ix.n == 0 {
		return 0, 0, false
	}
	ts, rel = t.read(t.ix.n - 1)
	return ts, rel, true
}

// truncateFromOffset drops entries whose offset >= rel.
func (t TimeIndex) truncateFromOffset(rel int32) error {
	t.ix.mu.Lock()
	defer t.ix.mu.Unlock()
	return t.ix.truncateLocked(sort.Search(t.ix.n, func(i int) bool { _, r := t.read(i); return r >= rel }))
}

// check verifies the invariants; every offset must be below maxRel.
func (t TimeIndex) check(maxRel int64) error {
	t.ix.mu.RLock()
	defer t.ix.mu.RUnlock()
	var lts int64
	var lrel int32 = -1
	for i := 0; i < t.ix.n; i++ {
		ts, r := t.read(i)
		if (i > 0 && ts <= lts) || r < lrel || int64(r) >= maxRel {
			return fmt.Errorf("%s: entry %d (%d,%d) after (%d,%d): %w", t.ix.path, i, ts, r, lts, lrel, errIndexInvalid)
		}
		lts, lrel = ts, r
	}
	return nil
}

// Entries returns a copy of the entries as (timestamp, relative offset).
func (t TimeIndex) Entries() []TimeEntry {
	t.ix.mu.RLock()
	defer t.ix.mu.RUnlock()
	out := make([]TimeEntry, t.ix.n)
	for i := range out {
		out[i].Timestamp, out[i].RelOffset = t.read(i)
	}
	return out
}

// TimeEntry is one .timeindex entry.
type TimeEntry struct {
	Timestamp int64
	RelOffset int32
}
