package partlog

// An independent decoder of Kafka's on-disk format, written from the
// format facts (KAFKA-FACTS.md) with no use of engine/record or
// engine/segment, checks what the log writes.

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type fmtRecord struct {
	offset, timestamp int64
	key, value        []byte
}

type fmtBatch struct {
	pos                  int64
	base, last           int64
	leaderEpoch          int32
	maxTimestamp         int64
	size                 int
	records              []fmtRecord
	producerID           int64
	compressed, appendTS bool
}

// fmtVarint decodes a zig-zag varint of at most maxBytes.
func fmtVarint(b []byte, p *int, maxBytes int) (int64, error) {
	var ux uint64
	for i := 0; i < maxBytes; i++ {
		if *p >= len(b) {
			return 0, fmt.Errorf("varint past end")
		}
		c := b[*p]
		*p++
		ux |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return int64(ux>>1) ^ -int64(ux&1), nil
		}
	}
	return 0, fmt.Errorf("varint too long")
}

func fmtBytes(b []byte, p *int) ([]byte, error) {
	n, err := fmtVarint(b, p, 5)
	if err != nil || n == -1 {
		return nil, err
	}
	if n < 0 || int64(*p)+n > int64(len(b)) {
		return nil, fmt.Errorf("bad length %d", n)
	}
	v := b[*p : *p+int(n)]
	*p += int(n)
	return v, nil
}

// decodeLogFile decodes every batch of a .log file strictly.
func decodeLogFile(data []byte) ([]fmtBatch, error) {
	var out []fmtBatch
	castagnoli := crc32.MakeTable(crc32.Castagnoli)
	be := binary.BigEndian
	for pos := 0; pos < len(data); {
		if len(data)-pos < 61 {
			return out, fmt.Errorf("short header at %d", pos)
		}
		b := data[pos:]
		length := int(int32(be.Uint32(b[8:])))
		if length < 49 || 12+length > len(b) {
			return out, fmt.Errorf("bad length %d at %d", length, pos)
		}
		b = b[:12+length]
		if b[16] != 2 {
			return out, fmt.Errorf("magic %d at %d", b[16], pos)
		}
		if crc32.Checksum(b[21:], castagnoli) != be.Uint32(b[17:]) {
			return out, fmt.Errorf("crc at %d", pos)
		}
		attrs := be.Uint16(b[21:])
		fb := fmtBatch{
			pos: int64(pos), base: int64(be.Uint64(b)), leaderEpoch: int32(be.Uint32(b[12:])),
			maxTimestamp: int64(be.Uint64(b[35:])), size: len(b), producerID: int64(be.Uint64(b[43:])),
			compressed: attrs&7 != 0, appendTS: attrs&8 != 0,
		}
		fb.last = fb.base + int64(int32(be.Uint32(b[23:])))
		firstTS := int64(be.Uint64(b[27:]))
		count := int(int32(be.Uint32(b[57:])))
		p := 61
		for i := 0; i < count && !fb.compressed; i++ {
			n, err := fmtVarint(b, &p, 5)
			if err != nil || n <= 0 || p+int(n) > len(b) {
				return out, fmt.Errorf("record %d length at %d: %v", i, pos, err)
			}
			rec := b[:p+int(n)]
			p++ // attributes
			tsd, err := fmtVarint(rec, &p, 10)
			if err != nil {
				return out, err
			}
			od, err := fmtVarint(rec, &p, 5)
			if err != nil {
				return out, err
			}
			r := fmtRecord{offset: fb.base + od, timestamp: firstTS + tsd}
			if fb.appendTS {
				r.timestamp = fb.maxTimestamp
			}
			if r.key, err = fmtBytes(rec, &p); err != nil {
				return out, err
			}
			if r.value, err = fmtBytes(rec, &p); err != nil {
				return out, err
			}
			nh, err := fmtVarint(rec, &p, 5)
			if err != nil {
				return out, err
			}
			for j := int64(0); j < nh; j++ {
				if _, err := fmtBytes(rec, &p); err != nil {
					return out, err
				}
				if _, err := fmtBytes(rec, &p); err != nil {
					return out, err
				}
			}
			if p != len(rec) {
				return out, fmt.Errorf("record %d of batch at %d: %d bytes unused", i, pos, len(rec)-p)
			}
			fb.records = append(fb.records, r)
		}
		if !fb.compressed && p != len(b) {
			return out, fmt.Errorf("batch at %d: %d trailing bytes", pos, len(b)-p)
		}
		out = append(out, fb)
		pos += len(b)
	}
	return out, nil
}

// checkDirFormat decodes every segment of a partition directory, checks
// file names, offsets, .index and .timeindex entries, and returns all
// batches in order. exactIndexes asks for Kafka's closed-segment state
// (index files trimmed to their entries).
func checkDirFormat(t *testing.T, dir string, exactIndexes bool) []fmtBatch {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.log"))
	require.NoError(t, err)
	sort.Strings(names)
	var all []fmtBatch
	for _, name := range names {
		baseStr := strings.TrimSuffix(filepath.Base(name), ".log")
		require.Len(t, baseStr, 20, "segment name %s", name)
		base, err := strconv.ParseInt(baseStr, 10, 64)
		require.NoError(t, err)
		data, err := os.ReadFile(name)
		require.NoError(t, err)
		batches, err := decodeLogFile(data)
		require.NoError(t, err, "segment %s", name)
		if len(batches) > 0 {
			assert.Equal(t, base, batches[0].base, "segment %s starts at its name", name)
		}
		if len(all) > 0 && len(batches) > 0 {
			assert.Equal(t, all[len(all)-1].last+1, batches[0].base, "offsets continue across %s", name)
		}
		for i := 1; i < len(batches); i++ {
			assert.Equal(t, batches[i-1].last+1, batches[i].base, "contiguous offsets in %s", name)
		}
		byPos := map[int64]fmtBatch{}
		byLast := map[int64]int{}
		for i, b := range batches {
			byPos[b.pos] = b
			byLast[b.last] = i
		}

		idx, err := os.ReadFile(strings.TrimSuffix(name, ".log") + ".index")
		require.NoError(t, err)
		require.Zero(t, len(idx)%8, ".index size")
		var lastRel, lastPos int64 = -1, -1
		n := 0
		for i := 0; i+8 <= len(idx); i += 8 {
			rel, pos := int64(int32(binary.BigEndian.Uint32(idx[i:]))), int64(int32(binary.BigEndian.Uint32(idx[i+4:])))
			if !exactIndexes && rel == 0 && pos == 0 {
				break // preallocated tail of an active segment (no real entry has position 0)
			}
			b, ok := byPos[pos]
			require.True(t, ok, "%s entry %d: position %d is a batch start", name, i/8, pos)
			assert.Equal(t, b.last, base+rel, "%s entry %d: offset is its batch's last offset", name, i/8)
			assert.Greater(t, rel, lastRel)
			assert.Greater(t, pos, lastPos)
			lastRel, lastPos = rel, pos
			n++
		}

		tidx, err := os.ReadFile(strings.TrimSuffix(name, ".log") + ".timeindex")
		require.NoError(t, err)
		require.Zero(t, len(tidx)%12, ".timeindex size")
		var lastTS int64 = -1 << 62
		lastRel = -1
		for i := 0; i+12 <= len(tidx); i += 12 {
			ts, rel := int64(binary.BigEndian.Uint64(tidx[i:])), int64(int32(binary.BigEndian.Uint32(tidx[i+8:])))
			if !exactIndexes && ts == 0 && rel == 0 {
				break // preallocated tail (tests never use timestamp 0 with an open log)
			}
			j, ok := byLast[base+rel]
			require.True(t, ok, "%s time entry %d: offset %d ends a batch", name, i/12, base+rel)
			assert.Greater(t, ts, lastTS, "time index timestamps increase")
			assert.GreaterOrEqual(t, rel, lastRel)
			assert.Equal(t, batches[j].maxTimestamp, ts, "entry timestamp is its batch's")
			for _, b := range batches[:j] {
				assert.LessOrEqual(t, b.maxTimestamp, ts, "no earlier batch has a later timestamp")
			}
			lastTS, lastRel = ts, rel
		}
		all = append(all, batches...)
	}
	return all
}

func TestOnDiskFormat(t *testing.T) {
	dir := t.TempDir()
	cfg := smallConfig()
	l := openLog(t, dir, cfg)
	type kv struct{ k, v string }
	var want []kv
	for i := 0; i < 120; i++ {
		n := 1 + i%5
		ts := int64(1000 + 7*i)
		if i%9 == 0 {
			ts -= 500 // out-of-order timestamps must not break the time index
		}
		_, err := l.Append(makeBatch(n, ts, fmt.Sprint(i)), int32(i/40))
		require.NoError(t, err)
		for j := 0; j < n; j++ {
			want = append(want, kv{fmt.Sprintf("k%d", j), fmt.Sprintf("%d-%d", i, j)})
		}
	}
	require.Greater(t, l.SegmentCount(), 5)
	// While open: the active segment's indexes are preallocated.
	checkDirFormat(t, dir, false)
	require.NoError(t, l.Close())

	batches := checkDirFormat(t, dir, true)
	var got []kv
	off := int64(0)
	for _, b := range batches {
		for _, r := range b.records {
			assert.Equal(t, off, r.offset)
			off++
			got = append(got, kv{string(r.key), string(r.value)})
		}
	}
	assert.Equal(t, want, got)
	// Leader epochs were stamped: batch i carries epoch i/40.
	for i, b := range batches {
		assert.Equal(t, int32(i/40), b.leaderEpoch, "batch %d", i)
	}
	epochFile, err := os.ReadFile(filepath.Join(dir, "leader-epoch-checkpoint"))
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(epochFile), "0\n3\n0 0\n"), "leader-epoch-checkpoint:\n%s", epochFile)
}
