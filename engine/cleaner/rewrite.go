package cleaner

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/strom-broker/strom/engine/internal/fsio"
	"github.com/strom-broker/strom/engine/partlog"
	"github.com/strom-broker/strom/engine/record"
	"github.com/strom-broker/strom/engine/segment"
)

// rewriter holds the per-pass decision state and scratch buffers.
type rewriter struct {
	decider
	codec codec
	recs  []byte // records section being built
	rec   []byte // one record being encoded
	out   []byte // output batches not yet appended to the segment
	hs    []record.Header
}

// errGroupTooLarge means a group's output did not fit one segment's
// indexes or 32-bit positions (the grouping estimate was wrong).
var errGroupTooLarge = errors.New("cleaner: cleaned group does not fit one segment")

// groups splits segs into runs of consecutive segments whose total size
// fits segment.bytes, whose offsets fit 32-bit relative offsets, and
// whose index entries (estimated from sizes and batch counts) fit
// segment.index.bytes.
func groups(segs []segInfo, cfg partlog.Config) [][]segInfo {
	maxEntries := cfg.SegmentIndexBytes / segment.TimeIndexEntrySize * 9 / 10
	entries := func(s segInfo) int {
		n := s.batches
		if cfg.IndexIntervalBytes > 0 {
			n = min(n, int(s.seg.Size()/int64(cfg.IndexIntervalBytes+1))+1)
		}
		return n + 1
	}
	var out [][]segInfo
	for i := 0; i < len(segs); {
		size, n, j := segs[i].seg.Size(), entries(segs[i]), i+1
		for ; j < len(segs); j++ {
			s := segs[j]
			if size+s.seg.Size() > cfg.SegmentBytes || n+entries(s) > maxEntries ||
				s.seg.NextOffset()-1-segs[i].seg.BaseOffset() > math.MaxInt32 {
				break
			}
			size += s.seg.Size()
			n += entries(s)
		}
		out = append(out, segs[i:j])
		i = j
	}
	return out
}

// rewrite cleans segs group by group and swaps each cleaned group in.
func (p *pass) rewrite(segs []segInfo) error {
	now := p.c.now()
	p.rw.now = now.UnixMilli()
	p.rw.horizon = now.Add(time.Duration(p.cfg.DeleteRetentionMs) * time.Millisecond).UnixMilli()
	p.rw.minOpaque = math.MaxInt64
	for _, s := range segs {
		p.rw.minOpaque = min(p.rw.minOpaque, s.minOpaque)
	}
	staging := filepath.Join(p.l.Dir(), partlog.CleanerStagingDir)
	if err := fsio.MkdirAll(staging, 0o755); err != nil {
		return err
	}
	defer fsio.RemoveAll(staging)
	for _, g := range groups(segs, p.cfg) {
		if err := p.cleanGroup(staging, g); err != nil {
			return err
		}
	}
	return nil
}

// cleanGroup writes the cleaned form of g in the staging dir, moves it to
// <base>.*.cleaned and has the log swap it in. A single segment that
// would come out unchanged is left alone.
func (p *pass) cleanGroup(staging string, g []segInfo) error {
	base := g[0].seg.BaseOffset()
	segCfg := segment.Config{IndexIntervalBytes: p.cfg.IndexIntervalBytes, MaxIndexBytes: p.cfg.SegmentIndexBytes}
	out, err := segment.Create(staging, base, segCfg)
	if err != nil {
		return err
	}
	retired := false
	defer func() {
		if !retired {
			out.Retire(true, nil)
		}
	}()
	w := &p.rw
	w.out, w.hs = w.out[:0], w.hs[:0]
	groupEnd := g[len(g)-1].seg.NextOffset()
	changed := false
	var kept, dropped, tombs int64
	for _, s := range g {
		err := p.sc.each(s.seg, func(h record.Header, _ int64, batch []byte) error {
			start := len(w.out)
			dst, res, err := w.filter(w.out, h, batch, h.NextOffset() == groupEnd)
			if err != nil {
				return err
			}
			w.out = dst
			changed = changed || res.changed
			kept += int64(res.kept)
			dropped += int64(res.dropped)
			tombs += int64(res.tombstonesDropped)
			if res.emitted {
				oh, _ := record.ParseHeader(w.out[start:])
				w.hs = append(w.hs, oh)
			}
			if len(w.out) >= p.c.ioBuffer {
				return p.flushOut(out)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if err := p.flushOut(out); err != nil {
		return err
	}
	if !changed && len(g) == 1 {
		return nil
	}
	var closeErr error
	if err := out.Flush(); err != nil {
		return err
	}
	retired = true
	if err := out.Retire(false, func(err error) { closeErr = err }); err != nil || closeErr != nil {
		return errors.Join(err, closeErr)
	}
	for _, suf := range []string{segment.IndexSuffix, segment.TimeIndexSuffix, segment.LogSuffix} {
		from := segment.FileName(staging, base, suf)
		if err := syncFile(from); err != nil {
			return err
		}
		if err := fsio.Rename(from, segment.FileName(p.l.Dir(), base, suf)+partlog.CleanedSuffix); err != nil {
			return errors.Join(err, p.l.RemoveCleaned(base))
		}
	}
	old := make([]*segment.Segment, len(g))
	var bytesIn int64
	for i, s := range g {
		old[i] = s.seg
		bytesIn += s.seg.Size()
	}
	if p.c.beforeSwap != nil {
		if err := p.c.beforeSwap(base); err != nil {
			return err
		}
	}
	if err := p.l.ReplaceSegments(p.v, old); err != nil {
		return err
	}
	p.st.SegmentsIn += len(g)
	p.st.SegmentsOut++
	p.st.BytesIn += bytesIn
	p.st.BytesOut += out.Size()
	p.st.RecordsKept += kept
	p.st.RecordsDropped += dropped
	p.st.TombstonesDropped += tombs
	return nil
}

// flushOut appends the buffered output batches to the segment.
func (p *pass) flushOut(seg *segment.Segment) error {
	w := &p.rw
	if len(w.hs) == 0 {
		return nil
	}
	last := w.hs[len(w.hs)-1].LastOffset()
	if seg.IndexFull() || !seg.CanHold(last) || seg.Size()+int64(len(w.out)) > math.MaxInt32 {
		return fmt.Errorf("%w: segment %d at offset %d", errGroupTooLarge, seg.BaseOffset(), last)
	}
	if err := seg.Append(w.out, w.hs); err != nil {
		return err
	}
	w.out, w.hs = w.out[:0], w.hs[:0]
	return nil
}

func syncFile(path string) error {
	f, err := fsio.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	err = fsio.Sync(f)
	return errors.Join(err, f.Close())
}
