package cleaner

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/strom-broker/strom/engine/checkpoint"
	"github.com/strom-broker/strom/engine/logmgr"
	"github.com/strom-broker/strom/engine/partlog"
	"github.com/strom-broker/strom/engine/record"
	"github.com/strom-broker/strom/engine/segment"
)

// CheckpointFile is the per-log-dir file holding each partition's first
// dirty offset (Kafka's name and offset-checkpoint format).
const CheckpointFile = "cleaner-offset-checkpoint"

// Defaults of the options.
const (
	// DefaultMaxMapEntries bounds the distinct keys mapped per pass.
	DefaultMaxMapEntries = 1 << 22
	// DefaultIOBufferBytes is the read chunk and the write batch size.
	DefaultIOBufferBytes = 1 << 20
)

// Option configures New.
type Option func(*Cleaner)

// WithClock injects the clock used for delete horizons. Default time.Now.
func WithClock(now func() time.Time) Option { return func(c *Cleaner) { c.now = now } }

// WithLogger sets the logger (one line per cleaned log). Default
// slog.Default().
func WithLogger(l *slog.Logger) Option { return func(c *Cleaner) { c.logger = l } }

// WithMaxMapEntries bounds the offset map: a pass maps whole dirty
// segments until the map holds at least n keys (a soft limit, checked
// between segments; the first dirty segment is always mapped). Default
// DefaultMaxMapEntries.
func WithMaxMapEntries(n int) Option { return func(c *Cleaner) { c.maxMapEntries = max(n, 1) } }

// WithIOBufferBytes sets the read chunk and write batch size. Default
// DefaultIOBufferBytes.
func WithIOBufferBytes(n int) Option {
	return func(c *Cleaner) { c.ioBuffer = max(n, record.HeaderSize) }
}

// Cleaner compacts partition logs; see the package comment. It is safe for
// concurrent use: passes run one at a time.
type Cleaner struct {
	now           func() time.Time
	logger        *slog.Logger
	maxMapEntries int
	ioBuffer      int

	// mu serialises passes; it guards the checkpoint files' read-modify-write.
	mu sync.Mutex

	// beforeSwap, if set (tests only), runs once a group's *.cleaned
	// files are in place and before ReplaceSegments; an error stops the
	// pass there, as a crash would.
	beforeSwap func(base int64) error
}

var _ logmgr.Cleaner = (*Cleaner)(nil)

// New returns a Cleaner.
func New(opts ...Option) *Cleaner {
	c := &Cleaner{now: time.Now, logger: slog.Default(), maxMapEntries: DefaultMaxMapEntries, ioBuffer: DefaultIOBufferBytes}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Stats describes one pass.
type Stats struct {
	// Cleaned is true when the pass rewrote (or examined for rewriting)
	// the log; false when it was not compacted or not dirty enough.
	Cleaned bool
	// DirtyRatio is dirty bytes / (clean + dirty bytes) before the pass.
	DirtyRatio float64
	// FirstDirtyOffset is where the dirty section began; EndOffset is
	// where the mapped section ended (the new checkpoint).
	FirstDirtyOffset, EndOffset int64
	// SegmentsIn and SegmentsOut count replaced and replacing segments.
	SegmentsIn, SegmentsOut int
	// BytesIn and BytesOut are the sizes of the replaced and the new
	// segments.
	BytesIn, BytesOut int64
	// MappedKeys is the number of distinct keys in the offset map.
	MappedKeys int
	// RecordsKept and RecordsDropped count records of rewritten batches;
	// TombstonesDropped is the part of RecordsDropped that were expired
	// tombstones.
	RecordsKept, RecordsDropped, TombstonesDropped int64
	// Conflict is true when the log changed under the pass and a swap was
	// abandoned (the next pass retries).
	Conflict bool
}

// Clean implements logmgr.Cleaner: one pass if the log is compacted and
// dirty enough.
func (c *Cleaner) Clean(tp logmgr.TopicPartition, l *partlog.Log) error {
	_, err := c.CleanLog(tp, l, false)
	return err
}

// CleanLog runs one pass over l; with force it ignores
// min.cleanable.dirty.ratio (and rewrites even with nothing dirty, which
// drops expired tombstones).
func (c *Cleaner) CleanLog(tp logmgr.TopicPartition, l *partlog.Log, force bool) (Stats, error) {
	var st Stats
	cfg := l.Config()
	if !strings.Contains(cfg.CleanupPolicy, partlog.CleanupCompact) {
		return st, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	cpPath := filepath.Join(filepath.Dir(l.Dir()), CheckpointFile)
	cps, err := checkpoint.Read(cpPath)
	if err != nil {
		return st, err
	}
	v, err := l.Cleanable()
	if err != nil {
		return st, err
	}
	firstDirty, ok := cps[tp]
	if !ok || firstDirty < v.LogStartOffset || firstDirty > v.LogEndOffset {
		firstDirty = v.LogStartOffset
	}
	st.FirstDirtyOffset = firstDirty
	p := &pass{c: c, l: l, cfg: cfg, v: v, st: &st, sc: newScanner(c.ioBuffer)}
	if len(v.Segments) == 0 {
		return st, nil
	}
	if err := p.scanHeaders(); err != nil {
		return st, p.wrap(err)
	}
	dirtyIdx, clean, dirty := p.split(firstDirty)
	if clean+dirty > 0 {
		st.DirtyRatio = float64(dirty) / float64(clean+dirty)
	}
	if !force && (dirty == 0 || st.DirtyRatio < cfg.MinCleanableDirtyRatio) {
		return st, nil
	}
	st.Cleaned = true
	mapEnd, err := p.buildMap(dirtyIdx)
	if err != nil {
		return st, p.wrap(err)
	}
	st.EndOffset = v.ActiveBase
	if mapEnd < len(p.segs) {
		st.EndOffset = p.segs[mapEnd].seg.BaseOffset()
	}
	if err := p.rewrite(p.segs[:mapEnd]); err != nil {
		if errors.Is(err, partlog.ErrCleanConflict) {
			st.Conflict = true
			c.logger.Info("log cleaner: log changed during the pass; retrying later", "dir", l.Dir(), "err", err)
			return st, nil
		}
		return st, p.wrap(err)
	}
	if cur, err := checkpoint.Read(cpPath); err == nil {
		cps = cur // another manager's dir file may have gained entries meanwhile
	}
	cps[tp] = st.EndOffset
	if err := checkpoint.Write(cpPath, cps); err != nil {
		return st, err
	}
	c.logger.Info("log cleaner cleaned a log", "dir", l.Dir(), "firstDirty", firstDirty, "end", st.EndOffset,
		"segmentsIn", st.SegmentsIn, "segmentsOut", st.SegmentsOut, "bytesIn", st.BytesIn, "bytesOut", st.BytesOut,
		"recordsDropped", st.RecordsDropped, "tombstonesDropped", st.TombstonesDropped)
	return st, nil
}

// segInfo is what the header scan learned about one inactive segment.
type segInfo struct {
	seg       *segment.Segment
	batches   int
	minOpaque int64 // base offset of its first unreadable batch, MaxInt64 if none
}

// pass is one cleaning pass over one log.
type pass struct {
	c    *Cleaner
	l    *partlog.Log
	cfg  partlog.Config
	v    *partlog.CleanableView
	st   *Stats
	sc   *scanner
	segs []segInfo
	rw   rewriter
}

// wrap reports ErrClosed when the log was closed under the pass (the log
// manager ignores it), else the error with the log's dir.
func (p *pass) wrap(err error) error {
	if p.l.Closed() {
		return fmt.Errorf("cleaner %s: %w (%w)", p.l.Dir(), partlog.ErrClosed, err)
	}
	return fmt.Errorf("cleaner %s: %w", p.l.Dir(), err)
}

// scanHeaders fills p.segs and the last batch offset of every producer id.
func (p *pass) scanHeaders() error {
	p.rw.lastOfPID = map[int64]int64{}
	for _, s := range p.v.Segments {
		info := segInfo{seg: s, minOpaque: math.MaxInt64}
		err := pinned(s, func() error {
			return s.ScanHeaders(0, func(h record.Header, _ int64) error {
				info.batches++
				if !readable(h) && info.minOpaque == math.MaxInt64 {
					info.minOpaque = h.BaseOffset
				}
				if h.HasProducerID() {
					p.rw.lastOfPID[h.ProducerID] = h.BaseOffset
				}
				return nil
			})
		})
		if err != nil {
			return err
		}
		p.segs = append(p.segs, info)
	}
	return nil
}

// split returns the index of the first segment holding offsets at or
// above firstDirty, and the clean and dirty byte counts.
func (p *pass) split(firstDirty int64) (idx int, clean, dirty int64) {
	idx = len(p.segs)
	for i, s := range p.segs {
		if s.seg.NextOffset() > firstDirty && idx == len(p.segs) {
			idx = i
		}
		if i < idx {
			clean += s.seg.Size()
		} else {
			dirty += s.seg.Size()
		}
	}
	return idx, clean, dirty
}

// buildMap maps the keys of whole dirty segments from index from on and
// returns the index of the first segment not mapped.
func (p *pass) buildMap(from int) (int, error) {
	om := newOffsetMap()
	p.rw.offsets = om
	var c codec
	var r record.Record
	i := from
	for ; i < len(p.segs) && (i == from || om.len() < p.c.maxMapEntries); i++ {
		err := p.sc.each(p.segs[i].seg, func(h record.Header, _ int64, batch []byte) error {
			if !readable(h) {
				return nil
			}
			it, err := c.records(h, batch)
			if err != nil {
				return err
			}
			for it.Next(&r) {
				if r.Key != nil {
					om.put(r.Key, r.Offset(h))
				}
			}
			return it.Err()
		})
		if err != nil {
			return 0, err
		}
	}
	p.st.MappedKeys = om.len()
	return i, nil
}
