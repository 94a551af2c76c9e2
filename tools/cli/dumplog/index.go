package dumplog

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/strom-broker/strom/engine/record"
	"github.com/strom-broker/strom/engine/segment"
)

// indexEntry is one entry of an offset index (offset, position) or a time
// index (timestamp, offset), offsets absolute.
type indexEntry struct {
	offset, position, timestamp int64
}

// readIndex decodes an .index or .timeindex file. Entries after the first
// that are all zero are the preallocated, unused tail of an open segment.
func readIndex(time bool, base int64, data []byte) (entries []indexEntry, rest int) {
	size := segment.OffsetIndexEntrySize
	if time {
		size = segment.TimeIndexEntrySize
	}
	for i := 0; i+size <= len(data); i += size {
		var e indexEntry
		if time {
			e.timestamp = int64(binary.BigEndian.Uint64(data[i:]))
			e.offset = base + int64(int32(binary.BigEndian.Uint32(data[i+8:])))
			if e.timestamp == 0 && e.offset == base {
				break
			}
		} else {
			e.offset = base + int64(int32(binary.BigEndian.Uint32(data[i:])))
			e.position = int64(int32(binary.BigEndian.Uint32(data[i+4:])))
			if i > 0 && e.offset == base && e.position == 0 {
				break
			}
		}
		entries = append(entries, e)
	}
	return entries, len(data) % size
}

// dumpIndex prints an index's entries ("offset: N position: P",
// "timestamp: T offset: N"), then, unless only its sanity is asked for,
// the entries that do not match the segment's .log, as Kafka's
// DumpLogSegments does. A failed check is an error (exit 1).
func dumpIndex(w io.Writer, path string, base int64, data []byte, o options) error {
	isTime := filepath.Ext(path) == ".timeindex"
	entries, rest := readIndex(isTime, base, data)
	if o.sanityOnly {
		if err := sanityCheck(isTime, base, entries, rest); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		fmt.Fprintf(w, "%s passed sanity check.\n", path)
		return nil
	}
	if !o.verifyOnly {
		for _, e := range entries {
			if isTime {
				fmt.Fprintf(w, "timestamp: %d offset: %d\n", e.timestamp, e.offset)
			} else {
				fmt.Fprintf(w, "offset: %d position: %d\n", e.offset, e.position)
			}
		}
	}
	logPath := strings.TrimSuffix(path, filepath.Ext(path)) + ".log"
	logData, err := os.ReadFile(logPath)
	if err != nil {
		if o.verifyOnly {
			return fmt.Errorf("verifying %s needs its segment: %w", path, err)
		}
		return nil // nothing to compare with
	}
	batches := readBatches(logData)
	var mismatches []string
	prevTs := int64(-1)
	for _, e := range entries {
		if isTime {
			if e.timestamp < prevTs {
				mismatches = append(mismatches, fmt.Sprintf("  Index timestamp: %d, Previously indexed timestamp: %d (out of order)", e.timestamp, prevTs))
			}
			prevTs = max(prevTs, e.timestamp)
			if b, ok := batchHolding(batches, e.offset); !ok || b.MaxTimestamp != e.timestamp {
				logTs := int64(-1)
				if ok {
					logTs = b.MaxTimestamp
				}
				mismatches = append(mismatches, fmt.Sprintf("  Index timestamp: %d, log timestamp: %d (offset %d)", e.timestamp, logTs, e.offset))
			}
			continue
		}
		b, ok := batchAt(batches, e.position)
		if !ok || b.LastOffset() != e.offset {
			logOffset := int64(-1)
			if ok {
				logOffset = b.LastOffset()
			}
			mismatches = append(mismatches, fmt.Sprintf("  Index offset: %d, log offset: %d", e.offset, logOffset))
		}
	}
	if len(mismatches) > 0 {
		fmt.Fprintf(w, "Mismatches in :%s\n%s\n", path, strings.Join(mismatches, "\n"))
		return fmt.Errorf("%s: %d entries do not match %s", path, len(mismatches), logPath)
	}
	if o.verifyOnly {
		fmt.Fprintf(w, "%s matches %s.\n", path, logPath)
	}
	return nil
}

// sanityCheck is the broker's start-up check of an index: whole entries,
// offsets not below the base and increasing (positions increasing in an
// offset index, timestamps not decreasing in a time index).
func sanityCheck(isTime bool, base int64, entries []indexEntry, rest int) error {
	if rest != 0 {
		return fmt.Errorf("corrupt index: %d trailing bytes are not a whole entry", rest)
	}
	for i, e := range entries {
		if e.offset < base {
			return fmt.Errorf("corrupt index: entry %d has offset %d below the base offset %d", i, e.offset, base)
		}
		if i == 0 {
			continue
		}
		p := entries[i-1]
		switch {
		case isTime && (e.timestamp < p.timestamp || e.offset < p.offset):
			return fmt.Errorf("corrupt time index: entry %d (timestamp %d, offset %d) is below entry %d (timestamp %d, offset %d)", i, e.timestamp, e.offset, i-1, p.timestamp, p.offset)
		case !isTime && (e.offset <= p.offset || e.position <= p.position):
			return fmt.Errorf("corrupt index: entry %d (offset %d, position %d) is not above entry %d (offset %d, position %d)", i, e.offset, e.position, i-1, p.offset, p.position)
		}
	}
	return nil
}

// positioned is a batch header with its file position.
type positioned struct {
	record.Header
	pos int64
}

// readBatches lists the segment's batch headers up to the first that does
// not parse.
func readBatches(data []byte) []positioned {
	var out []positioned
	for pos := 0; pos+record.HeaderSize <= len(data); {
		h, err := record.ParseHeader(data[pos:])
		if err != nil || h.BatchLength <= 0 || pos+h.Size() > len(data) {
			break
		}
		out = append(out, positioned{h, int64(pos)})
		pos += h.Size()
	}
	return out
}

func batchAt(bs []positioned, pos int64) (positioned, bool) {
	for _, b := range bs {
		if b.pos == pos {
			return b, true
		}
	}
	return positioned{}, false
}

func batchHolding(bs []positioned, offset int64) (positioned, bool) {
	for _, b := range bs {
		if b.BaseOffset <= offset && offset <= b.LastOffset() {
			return b, true
		}
	}
	return positioned{}, false
}
