package segment

import (
	"encoding/binary"
	"fmt"
	"sort"
)

// OffsetIndexEntrySize is the size of one .index entry: int32 offset
// relative to the segment's base, int32 file position (big-endian). Part of
// the format.
const OffsetIndexEntrySize = 8

// OffsetIndex is a segment's .index: sparse entries mapping the last offset
// of a batch to the file position where that batch starts, as Kafka writes
// them.
//
// Invariant: relative offsets and positions strictly increase with the
// entry number; every position is the start of a batch in the .log.
type OffsetIndex struct{ ix *mmapIndex }

func (o OffsetIndex) read(i int) (rel, pos int32) {
	e := o.ix.entry(i)
	return int32(binary.BigEndian.Uint32(e)), int32(binary.BigEndian.Uint32(e[4:]))
}

// append adds an entry. REQUIRES: rel and pos above the last entry's.
func (o OffsetIndex) append(rel, pos int32) error {
	o.ix.mu.Lock()
	defer o.ix.mu.Unlock()
	if o.ix.fullLocked(0) {
		return ErrIndexFull
	}
	if o.ix.n > 0 {
		if lr, lp := o.read(o.ix.n - 1); rel <= lr || pos <= lp {
			return fmt.Errorf("segment: index entry (%d,%d) not above last (%d,%d)", rel, pos, lr, lp)
		}
	}
	var e [OffsetIndexEntrySize]byte
	binary.BigEndian.PutUint32(e[:], uint32(rel))
	binary.BigEndian.PutUint32(e[4:], uint32(pos))
	return o.ix.appendLocked(e[:])
}

// lookup returns the position of the last entry whose offset <= rel, or 0.
func (o OffsetIndex) lookup(rel int32) int64 {
	o.ix.mu.RLock()
	defer o.ix.mu.RUnlock()
	i := sort.Search(o.ix.n, func(i int) bool { r, _ := o.read(i); return r > rel })
	if i == 0 {
		return 0
	}
	_, p := o.read(i - 1)
	return int64(p)
}

// lookupPosition returns the largest indexed position <= pos, or 0.
func (o OffsetIndex) lookupPosition(pos int64) int64 {
	o.ix.mu.RLock()
	defer o.ix.mu.RUnlock()
	i := sort.Search(o.ix.n, func(i int) bool { _, p := o.read(i); return int64(p) > pos })
	if i == 0 {
		return 0
	}
	_, p := o.read(i - 1)
	return int64(p)
}

// last returns the last entry; ok is false when empty.
func (o OffsetIndex) last() (rel, pos int32, ok bool) {
	o.ix.mu.RLock()
	defer o.ix.mu.RUnlock()
	if o.ix.n == 0 {
		return 0, 0, false
	}
	rel, pos = o.read(o.ix.n - 1)
	return rel, pos, true
}

// truncateFromPos drops entries whose position >= pos.
func (o OffsetIndex) truncateFromPos(pos int64) error {
	o.ix.mu.Lock()
	defer o.ix.mu.Unlock()
	return o.ix.truncateLocked(sort.Search(o.ix.n, func(i int) bool { _, p := o.read(i); return int64(p) >= pos }))
}

// check verifies the invariants against a log of logSize bytes.
func (o OffsetIndex) check(logSize int64) error {
	o.ix.mu.RLock()
	defer o.ix.mu.RUnlock()
	var lr, lp int32 = -1, -1
	for i := 0; i < o.ix.n; i++ {
		r, p := o.read(i)
		if r <= lr || p <= lp || int64(p) >= logSize {
			return fmt.Errorf("%s: entry %d (%d,%d) after (%d,%d), log %d bytes: %w", o.ix.path, i, r, p, lr, lp, logSize, errIndexInvalid)
		}
		lr, lp = r, p
	}
	return nil
}

// Entries returns a copy of the entries as (relative offset, position)
// pairs, for tools and tests.
func (o OffsetIndex) Entries() [][2]int32 {
	o.ix.mu.RLock()
	defer o.ix.mu.RUnlock()
	out := make([][2]int32, o.ix.n)
	for i := range out {
		out[i][0], out[i][1] = o.read(i)
	}
	return out
}
