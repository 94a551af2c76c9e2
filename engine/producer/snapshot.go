package producer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/strom-broker/strom/engine/checkpoint"
	"github.com/strom-broker/strom/engine/internal/fsio"
)

// Snapshot format constants; they are part of the on-disk format (see the
// package documentation) and must not change.
const (
	// SnapshotVersion is the snapshot layout version Kafka writes.
	SnapshotVersion int16 = 1
	// SnapshotSuffix ends every snapshot file name.
	SnapshotSuffix = ".snapshot"

	snapshotCRCAt     = 2                   // after version
	snapshotCountAt   = snapshotCRCAt + 4   // after crc
	snapshotEntriesAt = snapshotCountAt + 4 // after count
	snapshotEntrySize = 8 + 2 + 4 + 8 + 4 + 8 + 4 + 8
)

// ErrCorruptSnapshot is wrapped by every error about a snapshot's content.
var ErrCorruptSnapshot = errors.New("producer: corrupt snapshot")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// EncodeSnapshot serialises the state in Kafka's snapshot layout, entries
// sorted by producer id. Only each producer's last batch is kept.
func (s *State) EncodeSnapshot() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	pids := slices.Sorted(maps.Keys(s.producers))
	buf := make([]byte, snapshotEntriesAt, snapshotEntriesAt+len(pids)*snapshotEntrySize)
	binary.BigEndian.PutUint16(buf, uint16(SnapshotVersion))
	binary.BigEndian.PutUint32(buf[snapshotCountAt:], uint32(len(pids)))
	for _, pid := range pids {
		e := s.producers[pid]
		lastSeq, lastOff, delta := NoSequence, int64(-1), int32(0)
		if n := len(e.Batches); n > 0 {
			b := e.Batches[n-1]
			lastSeq, lastOff, delta = b.LastSequence, b.LastOffset, int32(b.LastOffset-b.FirstOffset)
		}
		buf = binary.BigEndian.AppendUint64(buf, uint64(pid))
		buf = binary.BigEndian.AppendUint16(buf, uint16(e.Epoch))
		buf = binary.BigEndian.AppendUint32(buf, uint32(lastSeq))
		buf = binary.BigEndian.AppendUint64(buf, uint64(lastOff))
		buf = binary.BigEndian.AppendUint32(buf, uint32(delta))
		buf = binary.BigEndian.AppendUint64(buf, uint64(e.LastTimestamp))
		buf = binary.BigEndian.AppendUint32(buf, uint32(e.CoordinatorEpoch))
		buf = binary.BigEndian.AppendUint64(buf, uint64(e.CurrentTxnFirstOffset))
	}
	binary.BigEndian.PutUint32(buf[snapshotCRCAt:], crc32.Checksum(buf[snapshotCountAt:], castagnoli))
	return buf
}

// decrementSequence returns seq minus dec, wrapping below 0 to
// math.MaxInt32 as Kafka's sequences do. REQUIRES: 0 <= dec.
func decrementSequence(seq, dec int32) int32 {
	if seq < dec {
		return int32(int64(math.MaxInt32) - int64(dec-seq) + 1)
	}
	return seq - dec
}

// DecodeSnapshot parses a snapshot. Errors wrap ErrCorruptSnapshot: wrong
// version, bad CRC, a size that does not match the entry count, a
// duplicated producer id, or impossible values (negative offset delta, a
// batch starting below offset 0, a producer id of -1). It never panics.
func DecodeSnapshot(data []byte) (*State, error) {
	if len(data) < snapshotEntriesAt {
		return nil, fmt.Errorf("%w: %d bytes is shorter than the %d-byte header", ErrCorruptSnapshot, len(data), snapshotEntriesAt)
	}
	if v := int16(binary.BigEndian.Uint16(data)); v != SnapshotVersion {
		return nil, fmt.Errorf("%w: unknown version %d", ErrCorruptSnapshot, v)
	}
	stored := binary.BigEndian.Uint32(data[snapshotCRCAt:])
	if got := crc32.Checksum(data[snapshotCountAt:], castagnoli); got != stored {
		return nil, fmt.Errorf("%w: crc %#08x, computed %#08x", ErrCorruptSnapshot, stored, got)
	}
	count := int64(int32(binary.BigEndian.Uint32(data[snapshotCountAt:])))
	body := data[snapshotEntriesAt:]
	if count < 0 || int64(len(body)) != count*snapshotEntrySize {
		return nil, fmt.Errorf("%w: %d entries do not fit %d bytes", ErrCorruptSnapshot, count, len(body))
	}
	s := New()
	for i := range int(count) {
		r := body[i*snapshotEntrySize:]
		e := &Entry{
			ProducerID:            int64(binary.BigEndian.Uint64(r[0:])),
			Epoch:                 int16(binary.BigEndian.Uint16(r[8:])),
			LastTimestamp:         int64(binary.BigEndian.Uint64(r[26:])),
			CoordinatorEpoch:      int32(binary.BigEndian.Uint32(r[34:])),
			CurrentTxnFirstOffset: int64(binary.BigEndian.Uint64(r[38:])),
		}
		lastSeq := int32(binary.BigEndian.Uint32(r[10:]))
		lastOff := int64(binary.BigEndian.Uint64(r[14:]))
		delta := int32(binary.BigEndian.Uint32(r[22:]))
		if e.ProducerID == NoProducerID {
			return nil, fmt.Errorf("%w: entry %d has producer id -1", ErrCorruptSnapshot, i)
		}
		if _, dup := s.producers[e.ProducerID]; dup {
			return nil, fmt.Errorf("%w: producer id %d appears twice", ErrCorruptSnapshot, e.ProducerID)
		}
		if e.CurrentTxnFirstOffset < -1 {
			return nil, fmt.Errorf("%w: producer %d: transaction first offset %d", ErrCorruptSnapshot, e.ProducerID, e.CurrentTxnFirstOffset)
		}
		if lastSeq != NoSequence || lastOff != -1 {
			if lastSeq < 0 || lastOff < 0 || delta < 0 || lastOff-int64(delta) < 0 {
				return nil, fmt.Errorf("%w: producer %d: last sequence %d, last offset %d, offset delta %d",
					ErrCorruptSnapshot, e.ProducerID, lastSeq, lastOff, delta)
			}
			e.Batches = []Batch{{
				FirstSequence: decrementSequence(lastSeq, delta),
				LastSequence:  lastSeq,
				FirstOffset:   lastOff - int64(delta),
				LastOffset:    lastOff,
				Timestamp:     e.LastTimestamp,
			}}
		}
		s.producers[e.ProducerID] = e
	}
	return s, nil
}

// SnapshotPath returns the path of the snapshot for offset in dir.
func SnapshotPath(dir string, offset int64) string {
	return filepath.Join(dir, fmt.Sprintf("%020d%s", offset, SnapshotSuffix))
}

// snapshotOffset parses a snapshot file name; ok is false for other files
// (including leftover "*.snapshot.tmp" files).
func snapshotOffset(name string) (int64, bool) {
	base, found := strings.CutSuffix(name, SnapshotSuffix)
	if !found || len(base) != 20 {
		return 0, false
	}
	off, err := strconv.ParseInt(base, 10, 64)
	if err != nil || off < 0 {
		return 0, false
	}
	return off, true
}

// WriteSnapshot writes the state as the snapshot for offset (the log end
// offset the state reflects) in dir, crash-safely, and returns its path.
func (s *State) WriteSnapshot(dir string, offset int64) (string, error) {
	if offset < 0 {
		return "", fmt.Errorf("producer: snapshot offset %d is negative", offset)
	}
	path := SnapshotPath(dir, offset)
	if err := checkpoint.WriteFileAtomic(path, s.EncodeSnapshot(), 0o644); err != nil {
		return "", fmt.Errorf("producer: write snapshot: %w", err)
	}
	return path, nil
}

// ListSnapshots returns the offsets of the snapshot files in dir, ascending.
// A missing dir has none.
func ListSnapshots(dir string) ([]int64, error) {
	des, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("producer: list snapshots: %w", err)
	}
	var offs []int64
	for _, de := range des {
		if off, ok := snapshotOffset(de.Name()); ok && de.Type().IsRegular() {
			offs = append(offs, off)
		}
	}
	slices.Sort(offs)
	return offs, nil
}

// Loaded is the result of LoadLatestSnapshot.
type Loaded struct {
	// State is the loaded state; an empty State when Found is false.
	State *State
	// Found reports whether a valid snapshot was loaded.
	Found bool
	// Offset is the loaded snapshot's offset: replay the log from here.
	// -1 when Found is false.
	Offset int64
	// Deleted lists the corrupt snapshot files that were removed on the
	// way, newest first; worth a log line for the operator.
	Deleted []string
}

// LoadLatestSnapshot loads the newest valid snapshot in dir. A snapshot
// whose content is corrupt (ErrCorruptSnapshot) is deleted and the next
// older one tried, as Kafka does. I/O errors are returned. The caller then
// applies RemoveExpired, and replays the
// log from Offset.
func LoadLatestSnapshot(dir string) (Loaded, error) {
	res := Loaded{State: New(), Offset: -1}
	offs, err := ListSnapshots(dir)
	if err != nil {
		return res, err
	}
	for i := len(offs) - 1; i >= 0; i-- {
		path := SnapshotPath(dir, offs[i])
		data, err := os.ReadFile(path)
		if err != nil {
			return res, fmt.Errorf("producer: read snapshot: %w", err)
		}
		st, err := DecodeSnapshot(data)
		if err != nil {
			if rerr := fsio.Remove(path); rerr != nil {
				return res, fmt.Errorf("producer: remove corrupt snapshot %s: %w", path, rerr)
			}
			res.Deleted = append(res.Deleted, path)
			continue
		}
		res.State, res.Found, res.Offset = st, true, offs[i]
		return res, nil
	}
	return res, nil
}

// DeleteSnapshotsAfter removes the snapshots of offsets > offset (used when
// the log is truncated to end at offset).
func DeleteSnapshotsAfter(dir string, offset int64) error {
	return deleteSnapshots(dir, func(o int64) bool { return o > offset })
}

// DeleteSnapshotsBefore removes the snapshots of offsets < offset (used when
// the log start offset moves to offset).
func DeleteSnapshotsBefore(dir string, offset int64) error {
	return deleteSnapshots(dir, func(o int64) bool { return o < offset })
}

// deleteSnapshots removes the snapshots whose offset matches and fsyncs dir.
func deleteSnapshots(dir string, match func(int64) bool) error {
	offs, err := ListSnapshots(dir)
	if err != nil {
		return err
	}
	removed := false
	for _, o := range offs {
		if !match(o) {
			continue
		}
		if err := fsio.Remove(SnapshotPath(dir, o)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("producer: delete snapshot: %w", err)
		}
		removed = true
	}
	if removed {
		return checkpoint.SyncDir(dir)
	}
	return nil
}
