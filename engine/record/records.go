package record

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// RecordHeader is one header of a record. Key and Value alias the batch.
type RecordHeader struct {
	Key   []byte
	Value []byte // nil when null
}

// Record is one decoded record of an uncompressed batch. Key and Value alias
// the batch bytes; nil means null (a nil Value is a tombstone).
type Record struct {
	Attributes     int8
	TimestampDelta int64
	OffsetDelta    int32
	Key            []byte
	Value          []byte
	Headers        []RecordHeader
}

// Offset returns the record's absolute offset in a batch with header h.
func (r *Record) Offset(h Header) int64 { return h.BaseOffset + int64(r.OffsetDelta) }

// Timestamp returns the record's timestamp in a batch with header h: the
// batch's maxTimestamp under LogAppendTime, else firstTimestamp + delta.
func (r *Record) Timestamp(h Header) int64 {
	if h.TimestampType() == LogAppendTime {
		return h.MaxTimestamp
	}
	return h.FirstTimestamp + r.TimestampDelta
}

// RecordIter decodes the records of one uncompressed batch, with every
// length bounds-checked. Use:
//
//	it, err := record.Records(batch)
//	var r record.Record
//	for it.Next(&r) { ... }
//	if err := it.Err(); err != nil { ... }
type RecordIter struct {
	b     []byte // records region
	pos   int
	left  int32
	count int32
	err   error
}

// Records returns an iterator over the records of batch, which must be one
// uncompressed batch (its header is not re-validated; run Validate first
// for untrusted input).
func Records(batch []byte) (RecordIter, error) {
	h, err := ParseHeader(batch)
	if err != nil {
		return RecordIter{}, err
	}
	if h.Compression() != CompressionNone {
		return RecordIter{}, fmt.Errorf("record: records of a %d-compressed batch: %w", h.Compression(), ErrUnsupportedCompression)
	}
	if h.Size() > len(batch) || h.BatchLength < MinBatchLength {
		return RecordIter{}, fmt.Errorf("%w: batch is %d bytes, have %d", ErrShortBatch, h.Size(), len(batch))
	}
	if h.RecordCount < 0 {
		return RecordIter{}, fmt.Errorf("%w: recordCount %d", ErrRecordCountMismatch, h.RecordCount)
	}
	return RecordIter{b: batch[RecordsOffset:h.Size()], left: h.RecordCount, count: h.RecordCount}, nil
}

// ErrUnsupportedCompression is returned when records of a compressed batch
// are asked for; this package never decompresses.
var ErrUnsupportedCompression = errors.New("record: compressed batch")

// Next decodes the next record into r (reusing r.Headers' storage) and
// reports whether there was one.
func (it *RecordIter) Next(r *Record) bool {
	if it.err != nil || it.left == 0 {
		if it.err == nil && it.pos != len(it.b) {
			it.err = fmt.Errorf("%w: %d bytes after the last record", ErrTrailingBytes, len(it.b)-it.pos)
		}
		return false
	}
	if err := it.decode(r); err != nil {
		it.err = fmt.Errorf("record %d: %w", it.count-it.left, err)
		return false
	}
	it.left--
	return true
}

// Err returns the error that stopped iteration.
func (it *RecordIter) Err() error { return it.err }

func (it *RecordIter) decode(r *Record) error {
	length, p, err := readVarint(it.b, it.pos)
	if err != nil {
		return err
	}
	if length <= 0 || int64(length) > int64(len(it.b)-p) {
		return fmt.Errorf("%w: record length %d with %d bytes left", ErrCorruptRecord, length, len(it.b)-p)
	}
	end := p + int(length)
	b := it.b[:end]
	r.Attributes = int8(b[p])
	p++
	if r.TimestampDelta, p, err = readVarlong(b, p); err != nil {
		return err
	}
	if r.OffsetDelta, p, err = readVarint(b, p); err != nil {
		return err
	}
	if r.Key, p, err = readBytes(b, p, true); err != nil {
		return err
	}
	if r.Value, p, err = readBytes(b, p, true); err != nil {
		return err
	}
	var nh int32
	if nh, p, err = readVarint(b, p); err != nil {
		return err
	}
	if nh < 0 || int64(nh) > int64(end-p) {
		return fmt.Errorf("%w: header count %d", ErrCorruptRecord, nh)
	}
	r.Headers = r.Headers[:0]
	for j := int32(0); j < nh; j++ {
		var h RecordHeader
		if h.Key, p, err = readBytes(b, p, false); err != nil {
			return err
		}
		if h.Value, p, err = readBytes(b, p, true); err != nil {
			return err
		}
		r.Headers = append(r.Headers, h)
	}
	if p != end {
		return fmt.Errorf("%w: record length %d, fields use %d", ErrCorruptRecord, length, int(length)-(end-p))
	}
	it.pos = end
	return nil
}

func readBytes(b []byte, pos int, nullable bool) ([]byte, int, error) {
	n, p, err := readVarint(b, pos)
	if err != nil {
		return nil, 0, err
	}
	if n == -1 && nullable {
		return nil, p, nil
	}
	if n < 0 || int64(n) > int64(len(b)-p) {
		return nil, 0, fmt.Errorf("%w: field length %d with %d bytes left", ErrCorruptRecord, n, len(b)-p)
	}
	return b[p : p+int(n) : p+int(n)], p + int(n), nil
}

// Builder encodes one uncompressed v2 batch. Records get offset deltas 0, 1,
// 2, ... and timestamps relative to the first record's. Set the exported
// fields before the first Add; the zero value is not ready: use NewBuilder.
type Builder struct {
	BaseOffset           int64
	PartitionLeaderEpoch int32
	Attributes           int16 // codec bits must stay 0
	ProducerID           int64
	ProducerEpoch        int16
	BaseSequence         int32

	recs     []byte
	count    int32
	firstTS  int64
	maxTS    int64
	recBuf   []byte
	hasFirst bool
}

// NewBuilder returns a builder for a non-idempotent batch at baseOffset.
func NewBuilder(baseOffset int64) *Builder {
	return &Builder{
		BaseOffset:           baseOffset,
		PartitionLeaderEpoch: NoPartitionLeader,
		ProducerID:           NoProducerID,
		ProducerEpoch:        NoProducerEpoch,
		BaseSequence:         NoSequence,
	}
}

// SetProducer marks the batch as from an idempotent producer.
func (b *Builder) SetProducer(id int64, epoch int16, baseSequence int32) *Builder {
	b.ProducerID, b.ProducerEpoch, b.BaseSequence = id, epoch, baseSequence
	return b
}

// Add appends a record with the given timestamp, key and value (nil = null)
// and headers.
func (b *Builder) Add(timestamp int64, key, value []byte, headers ...RecordHeader) *Builder {
	if !b.hasFirst {
		b.firstTS, b.maxTS, b.hasFirst = timestamp, timestamp, true
	}
	if timestamp > b.maxTS {
		b.maxTS = timestamp
	}
	r := b.recBuf[:0]
	r = append(r, 0) // attributes
	r = binary.AppendVarint(r, timestamp-b.firstTS)
	r = binary.AppendVarint(r, int64(b.count))
	r = appendField(r, key)
	r = appendField(r, value)
	r = binary.AppendVarint(r, int64(len(headers)))
	for _, h := range headers {
		r = binary.AppendVarint(r, int64(len(h.Key)))
		r = append(r, h.Key...)
		r = appendField(r, h.Value)
	}
	b.recs = binary.AppendVarint(b.recs, int64(len(r)))
	b.recs = append(b.recs, r...)
	b.recBuf = r
	b.count++
	return b
}

func appendField(dst, v []byte) []byte {
	if v == nil {
		return binary.AppendVarint(dst, -1)
	}
	dst = binary.AppendVarint(dst, int64(len(v)))
	return append(dst, v...)
}

// Len returns the number of records added.
func (b *Builder) Len() int { return int(b.count) }

// Size returns the size the batch would have if built now.
func (b *Builder) Size() int { return HeaderSize + len(b.recs) }

// Build returns the encoded batch (a new slice) with a correct CRC. A batch
// with no records has lastOffsetDelta -1, which Validate rejects (Kafka
// never accepts an empty batch from a client).
func (b *Builder) Build() []byte {
	out := make([]byte, HeaderSize, HeaderSize+len(b.recs))
	out = append(out, b.recs...)
	binary.BigEndian.PutUint64(out[BaseOffsetOffset:], uint64(b.BaseOffset))
	binary.BigEndian.PutUint32(out[BatchLengthOffset:], uint32(len(out)-LogOverhead))
	binary.BigEndian.PutUint32(out[PartitionLeaderEpochOffset:], uint32(b.PartitionLeaderEpoch))
	out[MagicOffset] = Magic
	binary.BigEndian.PutUint16(out[AttributesOffset:], uint16(b.Attributes))
	binary.BigEndian.PutUint32(out[LastOffsetDeltaOffset:], uint32(b.count-1))
	binary.BigEndian.PutUint64(out[FirstTimestampOffset:], uint64(b.firstTS))
	binary.BigEndian.PutUint64(out[MaxTimestampOffset:], uint64(b.maxTS))
	binary.BigEndian.PutUint64(out[ProducerIDOffset:], uint64(b.ProducerID))
	binary.BigEndian.PutUint16(out[ProducerEpochOffset:], uint16(b.ProducerEpoch))
	binary.BigEndian.PutUint32(out[BaseSequenceOffset:], uint32(b.BaseSequence))
	binary.BigEndian.PutUint32(out[RecordCountOffset:], uint32(b.count))
	binary.BigEndian.PutUint32(out[CRCOffset:], Checksum(out[AttributesOffset:]))
	return out
}

// Reset empties the builder for reuse, keeping its header fields.
func (b *Builder) Reset() {
	b.recs, b.count, b.hasFirst, b.firstTS, b.maxTS = b.recs[:0], 0, false, 0, 0
}
