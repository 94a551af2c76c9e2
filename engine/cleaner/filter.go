package cleaner

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"math"

	"github.com/strom-broker/strom/engine/record"
)

// readable reports whether the cleaner can decode a batch's records:
// uncompressed or gzip, neither transactional nor control.
func readable(h record.Header) bool {
	if h.IsTransactional() || h.IsControl() {
		return false
	}
	c := h.Compression()
	return c == record.CompressionNone || c == record.CompressionGzip
}

// hasDeleteHorizon reports attribute bit 6: firstTimestamp holds the
// delete horizon set by an earlier pass.
func hasDeleteHorizon(h record.Header) bool { return h.Attributes&record.DeleteHorizonBit != 0 }

// codec decodes and encodes gzip record sections, reusing its buffers.
type codec struct {
	zr    *gzip.Reader
	zw    *gzip.Writer
	plain []byte // header + inflated records of the last decoded batch
}

// records returns an iterator over a readable batch's records: batch
// itself when uncompressed, else a copy of its header (codec cleared,
// batchLength adjusted) followed by the inflated records.
func (c *codec) records(h record.Header, batch []byte) (record.RecordIter, error) {
	if h.Compression() == record.CompressionNone {
		return record.Records(batch)
	}
	src := bytes.NewReader(batch[record.RecordsOffset:])
	var err error
	if c.zr == nil {
		c.zr, err = gzip.NewReader(src)
	} else {
		err = c.zr.Reset(src)
	}
	if err != nil {
		return record.RecordIter{}, fmt.Errorf("cleaner: gzip batch at offset %d: %w", h.BaseOffset, err)
	}
	buf := bytes.NewBuffer(append(c.plain[:0], batch[:record.RecordsOffset]...))
	if _, err := io.Copy(buf, c.zr); err != nil {
		return record.RecordIter{}, fmt.Errorf("cleaner: gzip batch at offset %d: %w", h.BaseOffset, err)
	}
	c.plain = buf.Bytes()
	if len(c.plain)-record.LogOverhead > math.MaxInt32 {
		return record.RecordIter{}, fmt.Errorf("cleaner: gzip batch at offset %d inflates too large", h.BaseOffset)
	}
	binary.BigEndian.PutUint32(c.plain[record.BatchLengthOffset:], uint32(len(c.plain)-record.LogOverhead))
	attrs := binary.BigEndian.Uint16(c.plain[record.AttributesOffset:]) &^ record.CompressionMask
	binary.BigEndian.PutUint16(c.plain[record.AttributesOffset:], attrs)
	return record.Records(c.plain)
}

// compress appends the gzip stream of recs to dst.
func (c *codec) compress(dst, recs []byte) ([]byte, error) {
	buf := bytes.NewBuffer(dst)
	if c.zw == nil {
		c.zw = gzip.NewWriter(buf)
	} else {
		c.zw.Reset(buf)
	}
	if _, err := c.zw.Write(recs); err != nil {
		return nil, err
	}
	if err := c.zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// decider says which records of a batch survive.
type decider struct {
	offsets   *offsetMap
	now       int64 // clock, ms
	horizon   int64 // delete horizon stamped this pass: now + delete.retention.ms
	minOpaque int64 // base offset of the first batch the cleaner cannot read
	lastOfPID map[int64]int64
}

// filterResult describes what filter did to one batch.
type filterResult struct {
	kept, dropped, tombstonesDropped int
	changed                          bool // the output differs from the input
	emitted                          bool // a batch was appended to dst
}

// filter appends the cleaned form of batch (header h) to dst: the batch
// unchanged when every record survives and no horizon is needed, a
// rewritten batch when some survive, an empty batch when none survive but
// the batch must stay (keepEmpty, or the last batch of its producer id), or
// nothing.
func (w *rewriter) filter(dst []byte, h record.Header, batch []byte, keepEmpty bool) ([]byte, filterResult, error) {
	var res filterResult
	if !readable(h) {
		res.kept, res.emitted = int(h.RecordCount), true
		return append(dst, batch...), res, nil
	}
	it, err := w.codec.records(h, batch)
	if err != nil {
		return nil, res, err
	}
	d := &w.decider
	stamped := hasDeleteHorizon(h)
	needHorizon := false
	maxTS := int64(math.MinInt64)
	recs := w.recs[:0]
	var r record.Record
	for it.Next(&r) {
		off := r.Offset(h)
		if r.Key != nil && d.offsets.superseded(r.Key, off) {
			res.dropped++
			continue
		}
		if r.Key != nil && r.Value == nil {
			if stamped && d.now >= h.FirstTimestamp && d.minOpaque > off {
				res.dropped++
				res.tombstonesDropped++
				continue
			}
			needHorizon = needHorizon || !stamped
		}
		res.kept++
		maxTS = max(maxTS, r.Timestamp(h))
		recs = w.appendRecord(recs, &r, 0)
	}
	if err := it.Err(); err != nil {
		return nil, res, fmt.Errorf("cleaner: batch at offset %d: %w", h.BaseOffset, err)
	}
	if res.dropped == 0 && !needHorizon {
		res.emitted = true
		return append(dst, batch...), res, nil
	}
	res.changed = true
	if res.kept == 0 {
		if keepEmpty || (h.HasProducerID() && d.lastOfPID[h.ProducerID] == h.BaseOffset) {
			res.emitted = true
			return appendEmpty(dst, batch), res, nil
		}
		return dst, res, nil
	}
	base := h.FirstTimestamp
	attrs := uint16(h.Attributes)
	if needHorizon {
		// Re-encode with timestamp deltas relative to the horizon (no
		// tombstone was dropped: the batch had no horizon). The decoded
		// records are still in batch or codec.plain.
		base = d.horizon
		attrs |= record.DeleteHorizonBit
		recs = w.recs[:0]
		plain := batch
		if h.Compression() != record.CompressionNone {
			plain = w.codec.plain
		}
		if it, err = record.Records(plain); err != nil {
			return nil, res, err
		}
		for it.Next(&r) {
			off := r.Offset(h)
			if r.Key != nil && d.offsets.superseded(r.Key, off) {
				continue
			}
			recs = w.appendRecord(recs, &r, h.FirstTimestamp-base)
		}
	}
	w.recs = recs
	if h.TimestampType() == record.LogAppendTime {
		maxTS = h.MaxTimestamp
	}
	start := len(dst)
	dst = append(dst, batch[:record.RecordsOffset]...)
	if h.Compression() == record.CompressionGzip {
		if dst, err = w.codec.compress(dst, recs); err != nil {
			return nil, res, fmt.Errorf("cleaner: gzip batch at offset %d: %w", h.BaseOffset, err)
		}
	} else {
		dst = append(dst, recs...)
	}
	out := dst[start:]
	binary.BigEndian.PutUint32(out[record.BatchLengthOffset:], uint32(len(out)-record.LogOverhead))
	binary.BigEndian.PutUint16(out[record.AttributesOffset:], attrs)
	binary.BigEndian.PutUint64(out[record.FirstTimestampOffset:], uint64(base))
	binary.BigEndian.PutUint64(out[record.MaxTimestampOffset:], uint64(maxTS))
	binary.BigEndian.PutUint32(out[record.RecordCountOffset:], uint32(res.kept))
	binary.BigEndian.PutUint32(out[record.CRCOffset:], record.Checksum(out[record.AttributesOffset:]))
	res.emitted = true
	return dst, res, nil
}

// appendEmpty appends a header-only copy of batch: no records, codec
// cleared, every other header field (offsets, producer, timestamps) kept.
func appendEmpty(dst, batch []byte) []byte {
	start := len(dst)
	dst = append(dst, batch[:record.RecordsOffset]...)
	out := dst[start:]
	binary.BigEndian.PutUint32(out[record.BatchLengthOffset:], record.MinBatchLength)
	attrs := binary.BigEndian.Uint16(out[record.AttributesOffset:]) &^ record.CompressionMask
	binary.BigEndian.PutUint16(out[record.AttributesOffset:], attrs)
	binary.BigEndian.PutUint32(out[record.RecordCountOffset:], 0)
	binary.BigEndian.PutUint32(out[record.CRCOffset:], record.Checksum(out[record.AttributesOffset:]))
	return dst
}

// appendRecord encodes r (keeping its offset delta) with its timestamp
// delta shifted by shift, length-prefixed, to dst.
func (w *rewriter) appendRecord(dst []byte, r *record.Record, shift int64) []byte {
	b := w.rec[:0]
	b = append(b, byte(r.Attributes))
	b = binary.AppendVarint(b, r.TimestampDelta+shift)
	b = binary.AppendVarint(b, int64(r.OffsetDelta))
	b = appendNullable(b, r.Key)
	b = appendNullable(b, r.Value)
	b = binary.AppendVarint(b, int64(len(r.Headers)))
	for _, hd := range r.Headers {
		b = binary.AppendVarint(b, int64(len(hd.Key)))
		b = append(b, hd.Key...)
		b = appendNullable(b, hd.Value)
	}
	w.rec = b
	dst = binary.AppendVarint(dst, int64(len(b)))
	return append(dst, b...)
}

func appendNullable(dst, v []byte) []byte {
	if v == nil {
		return binary.AppendVarint(dst, -1)
	}
	dst = binary.AppendVarint(dst, int64(len(v)))
	return append(dst, v...)
}
