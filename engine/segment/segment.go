// Package segment is one segment of a Kafka partition log: the files
// <20-digit base offset>.log, .index and .timeindex in the partition's
// directory.
//
// # Files
//
// The .log is a plain concatenation of v2 record batches (see package
// record). The .index holds 8-byte entries (int32 last offset of a batch
// relative to the base, int32 position of that batch in the .log); the
// .timeindex holds 12-byte entries (int64 max timestamp so far, int32
// relative last offset of the batch that carried it). Both indexes are
// sparse: an entry is added before a batch once more than
// index.interval.bytes of log were written since the previous entry. An
// active segment's indexes are preallocated to segment.index.bytes (sparse
// files); entries are written with pwrite and looked up through a
// read-only mapping (see mmapIndex for why not through the mapping). They
// are trimmed to their entries when the segment is sealed (rolled or
// closed), so a closed segment's files have exact sizes.
//
// # Recovery
//
// Open either trusts the indexes after a cheap sanity check (entries
// monotonic, inside the log, size a multiple of the entry size, the last
// indexed batch really ends at the indexed offset), or recovers: it scans
// the .log from the start, validating every batch (size, magic, CRC,
// offsets increasing), rebuilds both indexes (growing them if they fill:
// index capacity never ends recovery), and truncates the .log at the first
// invalid byte. An index that fails the sanity check is rebuilt,
// never trusted.
//
// # Concurrency
//
// One writer (the partition log, under its own lock) calls the mutating
// methods: Append, TruncateTo, Seal, Activate, Flush. Readers may call
// Translate, ReadBoundary, FindOffsetByTimestamp, Size and NextOffset at
// any time: Append writes the bytes, then the index entries, and only then
// publishes the new size and next offset, together in one atomic word, so
// a reader never sees a partial batch nor a size that holds offsets past
// the next offset it read. A failed Append puts the segment back to its
// published state (file cut, index entries dropped) before returning. Readers that hand file positions to someone else pin the segment
// with Acquire/Release; Retire closes (and optionally deletes) the files
// only once the last reader released, and TruncateTo's caller waits for
// readers with WaitForReaders before cutting bytes a reader might hold.
package segment

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/strom-broker/strom/engine/internal/fsio"
	"github.com/strom-broker/strom/engine/record"
)

// File suffixes (part of the on-disk format).
const (
	LogSuffix       = ".log"
	IndexSuffix     = ".index"
	TimeIndexSuffix = ".timeindex"
	DeletedSuffix   = ".deleted"
)

// NoTimestamp is Kafka's "no timestamp" value.
const NoTimestamp = -1

// ErrCorruptLog is returned (wrapped) when a trusted segment's tail does not
// parse; the caller recovers the segment.
var ErrCorruptLog = errors.New("segment: corrupt log")

// FileName returns the path of a segment file: base offset zero-padded to
// 20 digits, then suffix.
func FileName(dir string, base int64, suffix string) string {
	return filepath.Join(dir, fmt.Sprintf("%020d%s", base, suffix))
}

// Config is the per-segment part of a topic's configuration.
type Config struct {
	// IndexIntervalBytes is index.interval.bytes (Kafka default 4096).
	IndexIntervalBytes int
	// MaxIndexBytes is segment.index.bytes (Kafka default 10 MiB).
	MaxIndexBytes int
}

// Segment is one open segment. See the package comment for concurrency.
type Segment struct {
	dir  string
	base int64
	cfg  Config
	log  *os.File
	idx  OffsetIndex
	tidx TimeIndex

	// Writer-owned (REQUIRES: the owning log's write lock).
	writer writerState

	// extent is what readers see, published as one word so that a reader
	// never pairs a size with the next offset of another moment: the .log
	// size in the low 32 bits, next offset - base in the high 32 (both fit:
	// segment.bytes <= 2^31-1 and relative offsets <= 2^31). It moves only
	// forward except under TruncateTo. Invariant: bytes [0, size) are whole
	// valid batches whose offsets end at next-1 (next == base when empty).
	extent atomic.Uint64

	life lifecycle
}

// writerState is the writer's bookkeeping of a segment, restored as a
// whole when an append rolls back.
type writerState struct {
	bytesSinceIndex int64
	maxTS           int64 // NoTimestamp when no batch
	maxTSRel        int32 // relative last offset of the batch with maxTS
	firstTS         int64 // maxTimestamp of the first batch, NoTimestamp if none
}

// BaseOffset returns the segment's base offset.
func (s *Segment) BaseOffset() int64 { return s.base }

// Size returns the published size of the .log in bytes.
func (s *Segment) Size() int64 { size, _ := s.published(); return size }

// NextOffset returns the offset after the segment's last batch (the base
// offset when empty).
func (s *Segment) NextOffset() int64 { _, next := s.published(); return next }

// published returns the published size and next offset, loaded together.
func (s *Segment) published() (size, next int64) {
	e := s.extent.Load()
	return int64(uint32(e)), s.base + int64(e>>32)
}

// publish makes [0, size) and offsets below next visible to readers at
// once. REQUIRES: the writer lock; size < 2^32, next-base <= 2^31.
func (s *Segment) publish(size, next int64) {
	s.extent.Store(uint64(next-s.base)<<32 | uint64(uint32(size)))
}

// MaxTimestamp returns the largest batch maxTimestamp in the segment, or
// NoTimestamp. REQUIRES: the writer lock.
func (s *Segment) MaxTimestamp() int64 { return s.writer.maxTS }

// RetentionTimestamp returns the time (ms) time-based retention measures
// the segment's age from: its largest batch timestamp, or, when no batch
// carries one, the .log file's modification time (Kafka's
// LogSegment.largestTimestamp). REQUIRES: the writer lock.
func (s *Segment) RetentionTimestamp() (int64, error) {
	if s.writer.maxTS != NoTimestamp {
		return s.writer.maxTS, nil
	}
	st, err := s.log.Stat()
	if err != nil {
		return 0, fmt.Errorf("segment %d: %w", s.base, err)
	}
	return st.ModTime().UnixMilli(), nil
}

// FirstBatchTimestamp returns the first batch's maxTimestamp (Kafka's
// rolling-based timestamp for segment.ms), or NoTimestamp.
// REQUIRES: the writer lock.
func (s *Segment) FirstBatchTimestamp() int64 { return s.writer.firstTS }

// File returns the .log file; positions below Size are valid batches.
func (s *Segment) File() *os.File { return s.log }

// OffsetIndex returns the segment's offset index.
func (s *Segment) OffsetIndex() OffsetIndex { return s.idx }

// TimeIndex returns the segment's time index.
func (s *Segment) TimeIndex() TimeIndex { return s.tidx }

// IndexFull reports whether the next append might not find an index slot,
// so the log must roll first.
func (s *Segment) IndexFull() bool {
	s.idx.ix.mu.RLock()
	full := s.idx.ix.fullLocked(0)
	s.idx.ix.mu.RUnlock()
	return full || s.tidx.full()
}

// CanHold reports whether offsets up to last fit the 32-bit relative
// offsets of the indexes.
func (s *Segment) CanHold(last int64) bool { return last-s.base <= math.MaxInt32 && last >= s.base }

// Create makes a new empty segment at base, replacing any files there, with
// preallocated indexes.
func Create(dir string, base int64, cfg Config) (*Segment, error) {
	for _, suf := range []string{IndexSuffix, TimeIndexSuffix} {
		if err := fsio.Remove(FileName(dir, base, suf)); err != nil && !os.IsNotExist(err) {
			return nil, err
		}
	}
	f, err := fsio.OpenFile(FileName(dir, base, LogSuffix), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	s, err := newSegment(dir, base, cfg, f)
	if err != nil {
		return nil, err
	}
	if err := s.Activate(); err != nil {
		s.closeFiles(false)
		return nil, err
	}
	return s, nil
}

func newSegment(dir string, base int64, cfg Config, f *os.File) (*Segment, error) {
	s := &Segment{dir: dir, base: base, cfg: cfg, log: f, writer: writerState{maxTS: NoTimestamp, firstTS: NoTimestamp}}
	s.life.init()
	ix, err := openIndex(FileName(dir, base, IndexSuffix), OffsetIndexEntrySize)
	if err != nil {
		f.Close()
		return nil, err
	}
	tix, err := openIndex(FileName(dir, base, TimeIndexSuffix), TimeIndexEntrySize)
	if err != nil {
		ix.close(false)
		f.Close()
		return nil, err
	}
	s.idx, s.tidx = OffsetIndex{ix}, TimeIndex{tix}
	return s, nil
}

// OpenOptions says how Open treats an existing segment.
type OpenOptions struct {
	// Recover rescans and revalidates the whole .log and rebuilds the
	// indexes instead of trusting them.
	Recover bool
	// Scratch is a reusable read buffer for recovery (grown as needed).
	Scratch *[]byte
	// OnBatch, if set, sees the header of every batch a recovery scan keeps
	// (to rebuild the leader-epoch cache and producer state).
	OnBatch func(h record.Header)
}

// OpenResult tells the caller what Open had to do.
type OpenResult struct {
	// Recovered is true when the .log was rescanned (asked for, or the
	// indexes or tail failed the sanity check).
	Recovered bool
	// TruncatedBytes is how many invalid bytes were cut from the .log end.
	TruncatedBytes int64
}

// Open opens the existing segment at base. Its indexes are left trimmed;
// call Activate to append to it.
func Open(dir string, base int64, cfg Config, opts OpenOptions) (*Segment, OpenResult, error) {
	var res OpenResult
	f, err := fsio.OpenFile(FileName(dir, base, LogSuffix), os.O_RDWR, 0o644)
	if err != nil {
		return nil, res, err
	}
	s, err := newSegment(dir, base, cfg, f)
	if errors.Is(err, errIndexInvalid) {
		// A torn index size: drop both and rebuild.
		for _, suf := range []string{IndexSuffix, TimeIndexSuffix} {
			fsio.Remove(FileName(dir, base, suf))
		}
		if f, err = fsio.OpenFile(FileName(dir, base, LogSuffix), os.O_RDWR, 0o644); err != nil {
			return nil, res, err
		}
		s, err = newSegment(dir, base, cfg, f)
		opts.Recover = true
	}
	if err != nil {
		return nil, res, err
	}
	st, err := f.Stat()
	if err == nil && st.Size() > math.MaxUint32 {
		err = fmt.Errorf("segment %d: .log of %d bytes is larger than a segment can be", base, st.Size())
	}
	if err != nil {
		s.closeFiles(false)
		return nil, res, err
	}
	if !opts.Recover {
		if err := s.loadTrusted(st.Size()); err != nil {
			opts.Recover = true
		}
	}
	if opts.Recover {
		res.Recovered = true
		var scratch []byte
		if opts.Scratch == nil {
			opts.Scratch = &scratch
		}
		if res.TruncatedBytes, err = s.recover(st.Size(), opts.Scratch, opts.OnBatch); err != nil {
			s.closeFiles(false)
			return nil, res, err
		}
	}
	if err := errors.Join(s.idx.ix.trim(), s.tidx.ix.trim()); err != nil {
		s.closeFiles(false)
		return nil, res, err
	}
	return s, res, nil
}

// loadTrusted sanity-checks the indexes and reads the tail after the last
// index entry to find the next offset and max timestamp.
func (s *Segment) loadTrusted(logSize int64) error {
	if err := s.idx.check(logSize); err != nil {
		return err
	}
	start := int64(0)
	if rel, pos, ok := s.idx.last(); ok {
		h, err := s.headerAt(int64(pos), logSize)
		if err != nil {
			return err
		}
		if h.LastOffset() != s.base+int64(rel) {
			return fmt.Errorf("%w: index says offset %d at %d, batch ends at %d", errIndexInvalid, s.base+int64(rel), pos, h.LastOffset())
		}
		start = int64(pos)
	}
	if ts, rel, ok := s.tidx.last(); ok {
		s.writer.maxTS, s.writer.maxTSRel = ts, rel
	}
	if s.idx.ix.entries() > 0 && s.tidx.ix.entries() == 0 {
		return fmt.Errorf("%w: offset index has entries, time index none", errIndexInvalid)
	}
	next := s.base
	pos := start
	var since int64 // replays Append's indexing rule over the tail
	for pos < logSize {
		h, err := s.headerAt(pos, logSize)
		if err != nil {
			return err
		}
		if h.BaseOffset < next || !s.CanHold(h.LastOffset()) {
			return fmt.Errorf("%w: batch at %d has offset %d, expected >= %d", ErrCorruptLog, pos, h.BaseOffset, next)
		}
		if since > int64(s.cfg.IndexIntervalBytes) {
			return fmt.Errorf("%w: no index entry for the batch at %d", errIndexInvalid, pos)
		}
		since += int64(h.Size())
		s.observe(h)
		next = h.NextOffset()
		pos += int64(h.Size())
	}
	if err := s.tidx.check(next - s.base); err != nil {
		return err
	}
	if logSize > 0 {
		first, err := s.headerAt(0, logSize)
		if err != nil {
			return err
		}
		s.writer.firstTS = first.MaxTimestamp
	}
	s.writer.bytesSinceIndex = since
	s.publish(logSize, next)
	return nil
}

// observe folds a batch header into the max-timestamp bookkeeping.
func (s *Segment) observe(h record.Header) {
	if h.MaxTimestamp > s.writer.maxTS {
		s.writer.maxTS, s.writer.maxTSRel = h.MaxTimestamp, int32(h.LastOffset()-s.base)
	}
}

// headerAt reads the batch header at pos and checks that the batch lies
// within limit bytes.
func (s *Segment) headerAt(pos, limit int64) (record.Header, error) {
	var buf [record.HeaderSize]byte
	if pos+record.HeaderSize > limit {
		return record.Header{}, fmt.Errorf("%w: header at %d past end %d", ErrCorruptLog, pos, limit)
	}
	if _, err := s.log.ReadAt(buf[:], pos); err != nil {
		return record.Header{}, fmt.Errorf("segment %d: read at %d: %w", s.base, pos, err)
	}
	h, _ := record.ParseHeader(buf[:])
	if h.BatchLength < record.MinBatchLength || pos+int64(h.Size()) > limit || h.Magic != record.Magic || h.LastOffsetDelta < 0 {
		return h, fmt.Errorf("%w: bad batch header at %d", ErrCorruptLog, pos)
	}
	return h, nil
}

// Append writes batches (whole, already validated and stamped, described
// by hs in order) at the end of the .log with one write, adds index
// entries (growing the indexes if this one append needs more slots than
// are left: see IndexRoomFor), and then publishes the new size and next
// offset. On any error the segment is first put back to its published
// state (the .log cut back to the published size, the append's index
// entries dropped), so a failed append leaves nothing behind; if that
// rollback fails too, the error says so and the caller must stop writing.
// REQUIRES: the writer lock; hs non-empty; offsets above NextOffset and
// within CanHold.
func (s *Segment) Append(batches []byte, hs []record.Header) error {
	pos, _ := s.published()
	if k := s.indexEntriesFor(hs); !s.hasIndexRoom(k) {
		if err := s.ensureIndexRoom(k); err != nil {
			return fmt.Errorf("segment %d: %w", s.base, err)
		}
	}
	saved := s.writer
	nIdx, nTidx := s.idx.ix.entries(), s.tidx.ix.entries()
	if _, err := fsio.WriteAt(s.log, batches, pos); err != nil {
		return s.rollback(pos, saved, nIdx, nTidx, fmt.Errorf("segment %d: write at %d: %w", s.base, pos, err))
	}
	if s.writer.firstTS == NoTimestamp && pos == 0 {
		s.writer.firstTS = hs[0].MaxTimestamp
	}
	end := pos
	for i := range hs {
		if err := s.index(&hs[i], end); err != nil {
			return s.rollback(pos, saved, nIdx, nTidx, err)
		}
		end += int64(hs[i].Size())
	}
	s.publish(end, hs[len(hs)-1].NextOffset())
	return nil
}

// rollback puts the segment back to its published state after a failed
// append: .log cut to size, index entries past nIdx/nTidx dropped, writer
// bookkeeping restored. It returns cause, noting a failed rollback.
func (s *Segment) rollback(size int64, saved writerState, nIdx, nTidx int, cause error) error {
	s.writer = saved
	err := errors.Join(fsio.Truncate(s.log, size), s.idx.ix.truncate(nIdx), s.tidx.ix.truncate(nTidx))
	if err != nil {
		return fmt.Errorf("%w (rolling the segment back failed too: %v)", cause, err)
	}
	return cause
}

// indexEntriesFor returns how many offset index entries appending hs adds
// (Append's indexing rule, replayed).
func (s *Segment) indexEntriesFor(hs []record.Header) int {
	n, since := 0, s.writer.bytesSinceIndex
	for i := range hs {
		if since > int64(s.cfg.IndexIntervalBytes) {
			n, since = n+1, 0
		}
		since += int64(hs[i].Size())
	}
	return n
}

// IndexRoomFor reports whether the indexes have the slots that appending
// hs needs (the log rolls first when not; Append grows the indexes of a
// segment that cannot hold even one append).
func (s *Segment) IndexRoomFor(hs []record.Header) bool {
	return s.hasIndexRoom(s.indexEntriesFor(hs))
}

// hasIndexRoom reports whether k more entries fit both indexes.
func (s *Segment) hasIndexRoom(k int) bool {
	return s.idx.ix.free() >= k && s.tidx.ix.free() >= k+1 // +1: the seal's entry
}

// ensureIndexRoom grows the indexes so that k more entries fit (and the
// time index keeps its slot for the seal).
func (s *Segment) ensureIndexRoom(k int) error {
	return errors.Join(s.idx.ix.ensureFree(k), s.tidx.ix.ensureFree(k+1))
}

// index maintains the sparse indexes for a batch at pos.
func (s *Segment) index(h *record.Header, pos int64) error {
	s.observe(*h)
	if s.writer.bytesSinceIndex > int64(s.cfg.IndexIntervalBytes) {
		rel := int32(h.LastOffset() - s.base)
		if err := s.idx.append(rel, int32(pos)); err != nil {
			return fmt.Errorf("segment %d: %w", s.base, err)
		}
		if err := s.tidx.maybeAppend(s.writer.maxTS, s.writer.maxTSRel, 1); err != nil {
			return fmt.Errorf("segment %d: %w", s.base, err)
		}
		s.writer.bytesSinceIndex = 0
	}
	s.writer.bytesSinceIndex += int64(h.Size())
	return nil
}

// Activate preallocates the indexes so the segment can take appends.
func (s *Segment) Activate() error {
	return errors.Join(s.idx.ix.preallocate(s.cfg.MaxIndexBytes), s.tidx.ix.preallocate(s.cfg.MaxIndexBytes))
}

// Seal records the segment's max timestamp in the time index and trims
// both indexes to their entries (Kafka's "inactive segment" state).
func (s *Segment) Seal() error {
	if s.writer.maxTS != NoTimestamp {
		if err := s.tidx.maybeAppend(s.writer.maxTS, s.writer.maxTSRel, 0); err != nil && !errors.Is(err, ErrIndexFull) {
			return err
		}
	}
	return errors.Join(s.idx.ix.trim(), s.tidx.ix.trim())
}

// Flush fsyncs the .log and msyncs the indexes.
func (s *Segment) Flush() error {
	if err := fsio.Sync(s.log); err != nil {
		return fmt.Errorf("segment %d: fsync: %w", s.base, err)
	}
	return errors.Join(s.idx.ix.flush(), s.tidx.ix.flush())
}

// ScanHeaders calls fn for every batch header from position from to the
// published end, reading headers only.
func (s *Segment) ScanHeaders(from int64, fn func(h record.Header, pos int64) error) error {
	size := s.Size()
	for pos := from; pos < size; {
		h, err := s.headerAt(pos, size)
		if err != nil {
			return err
		}
		if err := fn(h, pos); err != nil {
			return err
		}
		pos += int64(h.Size())
	}
	return nil
}

// ReadBatch reads the whole batch at pos (of size bytes) into buf[:0].
func (s *Segment) ReadBatch(buf []byte, pos int64, size int) ([]byte, error) {
	if cap(buf) < size {
		buf = make([]byte, size)
	}
	buf = buf[:size]
	if _, err := s.log.ReadAt(buf, pos); err != nil && !(errors.Is(err, io.EOF) && len(buf) == size) {
		return nil, fmt.Errorf("segment %d: read at %d: %w", s.base, pos, err)
	}
	return buf, nil
}

// closeFiles closes all three files, trimming the indexes if asked.
func (s *Segment) closeFiles(trim bool) error {
	return errors.Join(s.idx.ix.close(trim), s.tidx.ix.close(trim), s.log.Close())
}

func (s *Segment) rename(from, to string) error {
	for _, suf := range []string{LogSuffix, IndexSuffix, TimeIndexSuffix} {
		if err := fsio.Rename(FileName(s.dir, s.base, suf)+from, FileName(s.dir, s.base, suf)+to); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	return nil
}
