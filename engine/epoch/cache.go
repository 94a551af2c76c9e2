// Package epoch keeps the leader-epoch cache of one partition: for every
// leader epoch under which records were appended, the offset of the first
// of them. Followers use it (through OffsetForLeaderEpoch) to find where
// their log diverges from the leader's, and the log uses it to stamp and
// truncate. The semantics follow Kafka's LeaderEpochFileCache.
//
// # Persistence
//
// The cache lives in "<partition dir>/leader-epoch-checkpoint" in Kafka's
// text format (see engine/checkpoint). Every call that changes the cache
// rewrites the file crash-safely (tmp file, fsync, rename, fsync dir) before
// returning; calls that change nothing write nothing. Kafka flushes
// truncations asynchronously; Strom writes them synchronously, which is
// simpler and never leaves a stale file behind a returned call. If the write
// fails the in-memory cache still reflects the call (it mirrors the log,
// which has already changed) and the error, wrapping the I/O error, should
// be treated as a failure of the log dir. After a crash the file may lag
// the log only by changes whose call did not return; the partition log's
// recovery re-assigns the epochs of recovered batches and truncates, which
// repairs it, as in Kafka.
//
// # Concurrency
//
// A Cache is safe for concurrent use: one mutex guards the entries and
// serialises file writes. No method calls out while holding it.
package epoch

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"

	"github.com/strom-broker/strom/engine/checkpoint"
)

// Entry is one cache entry: the first offset appended under Epoch.
type Entry = checkpoint.EpochEntry

// Undefined values of OffsetForLeaderEpoch (Kafka's UNDEFINED_EPOCH and
// UNDEFINED_EPOCH_OFFSET). They are part of the protocol.
const (
	UndefinedEpoch       int32 = -1
	UndefinedEpochOffset int64 = -1
)

// ErrInvalidEntry is returned by Assign for a negative epoch or offset.
var ErrInvalidEntry = errors.New("epoch: invalid leader epoch entry")

// Cache is the leader-epoch cache of one partition.
type Cache struct {
	path string // leader-epoch-checkpoint file; immutable

	mu struct {
		sync.Mutex
		// entries is sorted; Invariant: both Epoch and StartOffset are
		// strictly increasing from one entry to the next, and all are >= 0.
		entries []Entry
	}
}

// Open loads the cache of the partition whose directory is dir. A missing
// checkpoint gives an empty cache. As in Kafka, the file's entries are
// re-applied with Assign's rules, so a non-monotonic file is repaired in
// memory (and on disk at the next change). A malformed file is an error
// wrapping checkpoint.ErrMalformed; the caller may then Clear the cache
// and rebuild it from the log.
func Open(dir string) (*Cache, error) {
	c := &Cache{path: filepath.Join(dir, checkpoint.LeaderEpochFile)}
	loaded, err := checkpoint.ReadEpochs(c.path)
	if err != nil {
		return c, fmt.Errorf("epoch: %w", err)
	}
	for _, e := range loaded {
		c.mu.entries, _ = AssignEntry(c.mu.entries, e)
	}
	return c, nil
}

// Path returns the checkpoint file the cache persists to.
func (c *Cache) Path() string { return c.path }

// Assign records that records of epoch start at startOffset. Following
// Kafka, nothing changes when epoch is already the latest epoch and
// startOffset is not below its start offset. Otherwise every entry, from the
// latest backwards, whose epoch is >= epoch or whose start offset is >=
// startOffset is removed (they conflict with the new entry) and the new
// entry becomes the latest. The usual case, a new leader epoch at the log
// end, simply appends. A change is persisted before Assign returns.
func (c *Cache) Assign(epoch int32, startOffset int64) error {
	if epoch < 0 || startOffset < 0 {
		return fmt.Errorf("%w: epoch %d start offset %d", ErrInvalidEntry, epoch, startOffset)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var changed bool
	c.mu.entries, changed = AssignEntry(c.mu.entries, Entry{Epoch: epoch, StartOffset: startOffset})
	if !changed {
		return nil
	}
	return c.persistLocked()
}

// AssignEntry applies Assign's rule to entries (sorted, as a Cache keeps
// them) and reports whether it changed them; e must be non-negative. It is
// pure, for models of a partition that keep their entries in memory (the
// replication simulator); entries' backing array may be reused.
func AssignEntry(entries []Entry, e Entry) ([]Entry, bool) {
	if n := len(entries); n > 0 {
		last := entries[n-1]
		if e.Epoch == last.Epoch && e.StartOffset >= last.StartOffset {
			return entries, false
		}
	}
	keep := len(entries)
	for keep > 0 && (entries[keep-1].Epoch >= e.Epoch || entries[keep-1].StartOffset >= e.StartOffset) {
		keep--
	}
	return append(entries[:keep], e), true
}

// LatestEpoch returns the latest epoch in the cache, if any.
func (c *Cache) LatestEpoch() (int32, bool) {
	e, ok := c.LatestEntry()
	return e.Epoch, ok
}

// LatestEntry returns the latest entry, if any.
func (c *Cache) LatestEntry() (Entry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.mu.entries) == 0 {
		return Entry{}, false
	}
	return c.mu.entries[len(c.mu.entries)-1], true
}

// EarliestEntry returns the earliest entry, if any.
func (c *Cache) EarliestEntry() (Entry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.mu.entries) == 0 {
		return Entry{}, false
	}
	return c.mu.entries[0], true
}

// EpochForOffset returns the epoch under which offset was written: the
// epoch of the last entry whose start offset is <= offset. It reports false
// when offset precedes every entry or the cache is empty.
func (c *Cache) EpochForOffset(offset int64) (int32, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	i, _ := slices.BinarySearchFunc(c.mu.entries, offset, func(e Entry, o int64) int {
		if e.StartOffset <= o {
			return -1
		}
		return 1
	})
	if i == 0 {
		return UndefinedEpoch, false
	}
	return c.mu.entries[i-1].Epoch, true
}

// EndOffsetFor answers OffsetForLeaderEpoch for requestedEpoch, given the
// log end offset, with Kafka's rules:
//
//   - requestedEpoch is UndefinedEpoch, the cache is empty, or
//     requestedEpoch is above every cached epoch: (UndefinedEpoch,
//     UndefinedEpochOffset);
//   - requestedEpoch is the latest epoch: (requestedEpoch, logEndOffset);
//   - requestedEpoch is below the first cached epoch: (requestedEpoch, start
//     offset of the first entry) — Kafka since 2.0 (KIP-279) answers this
//     way rather than with UNDEFINED, so a follower truncates to the
//     leader's earliest known epoch start;
//   - otherwise: (the largest cached epoch <= requestedEpoch, start offset
//     of the first cached epoch > requestedEpoch).
func (c *Cache) EndOffsetFor(requestedEpoch int32, logEndOffset int64) (int32, int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return EndOffsetIn(c.mu.entries, requestedEpoch, logEndOffset)
}

// EndOffsetIn is EndOffsetFor on sorted entries: pure, for in-memory
// models of a partition (the replication simulator).
func EndOffsetIn(es []Entry, requestedEpoch int32, logEndOffset int64) (int32, int64) {
	if requestedEpoch == UndefinedEpoch || len(es) == 0 {
		return UndefinedEpoch, UndefinedEpochOffset
	}
	if es[len(es)-1].Epoch == requestedEpoch {
		return requestedEpoch, logEndOffset
	}
	// higher is the index of the first entry with Epoch > requestedEpoch.
	higher, _ := slices.BinarySearchFunc(es, requestedEpoch, func(e Entry, r int32) int {
		if e.Epoch <= r {
			return -1
		}
		return 1
	})
	switch {
	case higher == len(es):
		return UndefinedEpoch, UndefinedEpochOffset
	case higher == 0:
		return requestedEpoch, es[0].StartOffset
	default:
		return es[higher-1].Epoch, es[higher].StartOffset
	}
}

// TruncateFromEnd removes every entry whose start offset is >= endOffset
// (the log was truncated to end at endOffset). A negative endOffset is
// ignored, as in Kafka.
func (c *Cache) TruncateFromEnd(endOffset int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	kept := TruncatedFromEnd(c.mu.entries, endOffset)
	if len(kept) == len(c.mu.entries) {
		return nil
	}
	c.mu.entries = kept
	return c.persistLocked()
}

// TruncatedFromEnd is TruncateFromEnd's rule on sorted entries: the
// prefix of es whose start offsets are below endOffset (all of es for a
// negative endOffset). Pure, for in-memory models of a partition.
func TruncatedFromEnd(es []Entry, endOffset int64) []Entry {
	if endOffset < 0 {
		return es
	}
	keep := len(es)
	for keep > 0 && es[keep-1].StartOffset >= endOffset {
		keep--
	}
	return es[:keep]
}

// TruncateFromStart drops entries that lie wholly before startOffset (the
// log start moved to startOffset) and moves the start of the entry covering
// startOffset to startOffset. An entry starting exactly at startOffset is
// kept unchanged, so TruncateFromStart(6) keeps an entry at offset 6.
func (c *Cache) TruncateFromStart(startOffset int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	es := c.mu.entries
	// covering is the index of the last entry with StartOffset <= startOffset.
	covering := -1
	for i, e := range es {
		if e.StartOffset > startOffset {
			break
		}
		covering = i
	}
	if covering < 0 || (covering == 0 && es[0].StartOffset == startOffset) {
		return nil
	}
	kept := append([]Entry{{Epoch: es[covering].Epoch, StartOffset: startOffset}}, es[covering+1:]...)
	c.mu.entries = kept
	return c.persistLocked()
}

// Entries returns a copy of the cache's entries, oldest first.
func (c *Cache) Entries() []Entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.mu.entries)
}

// Clear removes every entry and persists the empty cache.
func (c *Cache) Clear() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mu.entries = nil
	return c.persistLocked()
}

// persistLocked writes the entries to the checkpoint file.
// REQUIRES: c.mu is held.
func (c *Cache) persistLocked() error {
	if err := checkpoint.WriteEpochs(c.path, c.mu.entries); err != nil {
		return fmt.Errorf("epoch: persist cache: %w", err)
	}
	return nil
}
