package segment

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/strom-broker/strom/engine/internal/fsio"
	"github.com/strom-broker/strom/engine/record"
)

// recoverChunk is how much of the .log recovery reads per system call.
const recoverChunk = 4 << 20

// recover rescans the .log from the start, validating every batch, rebuilds
// both indexes, and truncates the file at the first invalid byte. It returns
// how many bytes were cut.
func (s *Segment) recover(logSize int64, scratch *[]byte, onBatch func(record.Header)) (int64, error) {
	if err := errors.Join(s.idx.ix.reset(), s.tidx.ix.reset()); err != nil {
		return 0, fmt.Errorf("segment %d: %w", s.base, err)
	}
	if err := s.Activate(); err != nil {
		return 0, err
	}
	s.writer.maxTS, s.writer.maxTSRel, s.writer.firstTS, s.writer.bytesSinceIndex = NoTimestamp, 0, NoTimestamp, 0
	if cap(*scratch) < recoverChunk {
		*scratch = make([]byte, recoverChunk)
	}
	buf := (*scratch)[:cap(*scratch)]
	var (
		next   = s.base
		pos    int64 // file position of buf[lo]
		lo, hi int   // buf[lo:hi] is unparsed data read from the file
		valid  int64 // end of the last valid batch
	)
	fill := func(need int) error {
		// Make buf[lo:hi] hold at least need bytes, if the file has them.
		if hi-lo >= need {
			return nil
		}
		if need > len(buf) {
			nb := make([]byte, need)
			copy(nb, buf[lo:hi])
			buf, *scratch = nb, nb
			hi, lo = hi-lo, 0
		} else if lo+need > len(buf) {
			hi = copy(buf, buf[lo:hi])
			lo = 0
		}
		for hi-lo < need {
			fileOff := pos + int64(hi-lo)
			if fileOff >= logSize {
				return nil
			}
			n, err := s.log.ReadAt(buf[hi:min(len(buf), hi+int(min(int64(len(buf)-hi), logSize-fileOff)))], fileOff)
			hi += n
			if n == 0 && err != nil {
				return fmt.Errorf("segment %d: read at %d: %w", s.base, fileOff, err)
			}
		}
		return nil
	}
	for pos < logSize {
		if err := fill(record.LogOverhead); err != nil {
			return 0, err
		}
		if hi-lo < record.LogOverhead {
			break
		}
		blen := int32(binary.BigEndian.Uint32(buf[lo+record.BatchLengthOffset:]))
		size := int64(blen) + record.LogOverhead
		if blen < record.MinBatchLength || size > logSize-pos {
			break
		}
		if err := fill(int(size)); err != nil {
			return 0, err
		}
		if int64(hi-lo) < size {
			break
		}
		h, err := record.ValidateMode(buf[lo:lo+int(size)], record.FromLog)
		if err != nil || h.BaseOffset < next || !s.CanHold(h.LastOffset()) {
			break
		}
		if s.writer.firstTS == NoTimestamp {
			s.writer.firstTS = h.MaxTimestamp
		}
		// Only invalid bytes end recovery: a full index grows (an append
		// may have filled its last slot on a batch that was not its last,
		// or segment.index.bytes was lowered since).
		if err := s.ensureIndexRoom(1); err != nil {
			return 0, fmt.Errorf("segment %d: %w", s.base, err)
		}
		if err := s.index(&h, pos); err != nil {
			return 0, err
		}
		if onBatch != nil {
			onBatch(h)
		}
		next = h.NextOffset()
		pos += size
		lo += int(size)
		valid = pos
	}
	cut := logSize - valid
	if cut > 0 {
		if err := fsio.Truncate(s.log, valid); err != nil {
			return 0, fmt.Errorf("segment %d: truncate to %d: %w", s.base, valid, err)
		}
	}
	s.publish(valid, next)
	return cut, nil
}
