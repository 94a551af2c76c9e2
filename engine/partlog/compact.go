package partlog

// Hooks for the log cleaner (package cleaner): a pinned view of the
// segments it may rewrite, the crash-safe swap of cleaned segments into the
// log, and the recovery of a swap a crash interrupted.
//
// # Swap protocol (Kafka's file names)
//
// The cleaner writes the cleaned replacement of consecutive inactive
// segments old[0..n) as <base>.log.cleaned, <base>.index.cleaned and
// <base>.timeindex.cleaned, fsync'd, where base = old[0]'s base offset.
// ReplaceSegments then, under the writer lock:
//
//  1. renames the .cleaned files to .swap, .log last: <base>.log.swap is
//     the commit point (dir fsync'd);
//  2. retires old[0..n) (their files are renamed *.deleted and removed once
//     the last reader released them; readers holding slices keep reading
//     the old files);
//  3. renames the .swap indexes to their final names, fsyncs the dir, then
//     renames <base>.log.swap to <base>.log (dir fsync'd again);
//  4. opens the new segment and publishes the new segment list.
//
// Recovery (completeSwaps, run by Open before anything else): *.cleaned
// files are uncommitted and deleted (by scanDir). For every <B>.log.swap
// the swap was committed: every .log segment with a base in (B, N), N being
// the swap's next offset, is deleted, the .swap indexes replace B's, and
// <B>.log.swap becomes <B>.log. The cleaner guarantees N is the next offset
// of old[n-1] (it keeps an empty batch at the end when needed), so the
// covered range is exactly the replaced segments.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/strom-broker/strom/engine/internal/fsio"
	"github.com/strom-broker/strom/engine/record"
	"github.com/strom-broker/strom/engine/segment"
)

// File suffixes and names of the swap protocol (part of the on-disk layout).
const (
	// CleanedSuffix ends the name of a cleaned segment file not yet
	// committed.
	CleanedSuffix = ".cleaned"
	// SwapSuffix ends the name of a committed cleaned segment file not yet
	// renamed into place.
	SwapSuffix = ".swap"
	// CleanerStagingDir is the subdirectory of a partition dir where the
	// cleaner builds segments before renaming them to *.cleaned; Open
	// removes it.
	CleanerStagingDir = "cleaner-staging"
)

// ErrCleanConflict is returned by ReplaceSegments when the log changed
// under the cleaner (truncation, retention or deletion of a replaced
// segment): the cleaned files are deleted and nothing is swapped.
var ErrCleanConflict = errors.New("partlog: log changed while cleaning")

// CleanableView is a snapshot of the inactive segments. It pins nothing:
// the cleaner pins each segment (Acquire/Release) only while it reads it
// and never while it waits for the writer lock, because TruncateTo waits,
// under that lock, for the readers of the segment it cuts. A segment that
// fails Acquire was retired: the pass is stale.
type CleanableView struct {
	// Segments are the inactive segments, oldest first.
	Segments []*segment.Segment
	// ActiveBase is the active segment's base offset, the first offset
	// the cleaner must not touch.
	ActiveBase int64
	// LogStartOffset and LogEndOffset as of the snapshot.
	LogStartOffset, LogEndOffset int64

	truncations int64
}

// Cleanable returns a view of the log's inactive segments.
func (l *Log) Cleanable() (*CleanableView, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usableLocked(); err != nil {
		return nil, err
	}
	segs := l.segments()
	return &CleanableView{
		Segments:       append([]*segment.Segment(nil), segs[:len(segs)-1]...),
		ActiveBase:     segs[len(segs)-1].BaseOffset(),
		LogStartOffset: l.logStart.Load(),
		LogEndOffset:   l.leo.Load(),
		truncations:    l.truncations.Load(),
	}, nil
}

// Closed reports whether Close was called.
func (l *Log) Closed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}

var segmentSuffixes = []string{segment.IndexSuffix, segment.TimeIndexSuffix, segment.LogSuffix} // .log last: the commit point

// RemoveCleaned deletes the *.cleaned files at base (an abandoned clean).
func (l *Log) RemoveCleaned(base int64) error {
	var errs []error
	for _, suf := range segmentSuffixes {
		if err := fsio.Remove(segment.FileName(l.dir, base, suf) + CleanedSuffix); err != nil && !os.IsNotExist(err) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// ReplaceSegments swaps the cleaned segment <base>.*.cleaned (base =
// old[0]'s base offset, the files fsync'd) in for old, consecutive
// inactive segments of the view v; see the swap protocol above. When the
// log changed since v was taken it deletes the cleaned files and returns
// ErrCleanConflict; after Close, ErrClosed.
func (l *Log) ReplaceSegments(v *CleanableView, old []*segment.Segment) (err error) {
	if len(old) == 0 {
		return fmt.Errorf("partlog: ReplaceSegments with no segment")
	}
	base := old[0].BaseOffset()
	l.mu.Lock()
	defer l.mu.Unlock()
	committed := false
	defer func() {
		if !committed {
			err = errors.Join(err, l.RemoveCleaned(base))
		}
		if err != nil && !errors.Is(err, ErrCleanConflict) {
			err = l.fail(err) // an I/O error of the swap: the log goes offline
		}
	}()
	if err := l.usableLocked(); err != nil {
		return err
	}
	segs := l.segments()
	i := 0
	for i < len(segs) && segs[i] != old[0] {
		i++
	}
	if l.truncations.Load() != v.truncations || i+len(old) >= len(segs) {
		return fmt.Errorf("%w: segment %d", ErrCleanConflict, base)
	}
	for k, s := range old {
		if segs[i+k] != s {
			return fmt.Errorf("%w: segment %d", ErrCleanConflict, s.BaseOffset())
		}
	}
	// 1. Commit: .cleaned -> .swap, .log last.
	for _, suf := range segmentSuffixes {
		name := segment.FileName(l.dir, base, suf)
		if err := fsio.Rename(name+CleanedSuffix, name+SwapSuffix); err != nil {
			return fmt.Errorf("partlog: commit cleaned segment %d: %w", base, err)
		}
	}
	committed = true
	if err := syncDir(l.dir); err != nil {
		return err
	}
	// 2. Retire the old segments (renamed *.deleted at once).
	for _, s := range old {
		if err := s.Retire(true, l.logCloseErr); err != nil {
			return err
		}
	}
	// 3. Final names, .log last. 4. Open and publish.
	if err := finishSwap(l.dir, base); err != nil {
		return err
	}
	next := make([]*segment.Segment, 0, len(segs)-len(old)+1)
	next = append(next, segs[:i]...)
	seg, _, err := segment.Open(l.dir, base, l.cfg.segmentConfig(), segment.OpenOptions{})
	if err != nil {
		seg, _, err = segment.Open(l.dir, base, l.cfg.segmentConfig(), segment.OpenOptions{Recover: true})
	}
	if err != nil {
		// The swap is committed on disk and Open completes it; until then
		// the range is missing here (readers must not spin on retired
		// segments).
		l.logger.Error("partition log: opening a cleaned segment failed; reopen the log", "segment", base, "err", err)
		l.publish(append(next, segs[i+len(old):]...))
		return fmt.Errorf("partlog: open cleaned segment %d: %w", base, err)
	}
	l.publish(append(append(next, seg), segs[i+len(old):]...))
	return nil
}

// finishSwap renames <base>.*.swap to their final names, indexes first,
// with a dir fsync before and after the .log rename.
func finishSwap(dir string, base int64) error {
	for _, suf := range segmentSuffixes {
		name := segment.FileName(dir, base, suf)
		if suf == segment.LogSuffix {
			if err := syncDir(dir); err != nil {
				return err
			}
		}
		if err := fsio.Rename(name+SwapSuffix, name); err != nil && !(os.IsNotExist(err) && suf != segment.LogSuffix) {
			return fmt.Errorf("partlog: finish swap of segment %d: %w", base, err)
		}
	}
	return syncDir(dir)
}

// completeSwaps finishes the swaps a crash interrupted (see the package
// comment of this file) and removes the cleaner's staging dir. It runs
// before scanDir, which deletes every other *.swap and *.cleaned file.
func (l *Log) completeSwaps() error {
	if err := fsio.RemoveAll(filepath.Join(l.dir, CleanerStagingDir)); err != nil {
		return err
	}
	des, err := os.ReadDir(l.dir)
	if err != nil {
		return err
	}
	logs := map[int64]bool{}
	var swaps []int64
	for _, de := range des {
		name := de.Name()
		if b, ok := parseBase(name, segment.LogSuffix); ok {
			logs[b] = true
		} else if b, ok := parseBase(name, segment.LogSuffix+SwapSuffix); ok {
			swaps = append(swaps, b)
		}
	}
	for _, base := range swaps {
		next, err := swapNextOffset(segment.FileName(l.dir, base, segment.LogSuffix) + SwapSuffix)
		if err != nil {
			return err
		}
		for b := range logs {
			if b <= base || b >= next {
				continue
			}
			for _, suf := range segmentSuffixes {
				if err := fsio.Remove(segment.FileName(l.dir, b, suf)); err != nil && !os.IsNotExist(err) {
					return err
				}
			}
			delete(logs, b)
		}
		if err := finishSwap(l.dir, base); err != nil {
			return err
		}
		l.logger.Warn("partition log completed a segment swap interrupted by a crash", "segment", base, "nextOffset", next)
	}
	return nil
}

// swapNextOffset returns the offset after the last batch of a committed
// .log.swap file (fsync'd before it was committed; the walk reads headers
// only and stops at the first one that does not fit the file).
func swapNextOffset(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	next := int64(-1)
	var buf [record.HeaderSize]byte
	for pos := int64(0); pos+record.HeaderSize <= st.Size(); {
		if _, err := f.ReadAt(buf[:], pos); err != nil {
			return 0, fmt.Errorf("partlog: read %s at %d: %w", filepath.Base(path), pos, err)
		}
		h, _ := record.ParseHeader(buf[:])
		if h.BatchLength < record.MinBatchLength || h.Magic != record.Magic || pos+int64(h.Size()) > st.Size() {
			break
		}
		next = h.NextOffset()
		pos += int64(h.Size())
	}
	if next < 0 {
		return 0, fmt.Errorf("partlog: %s holds no batch", filepath.Base(path))
	}
	return next, nil
}
