// Package record reads, validates, stamps and builds Kafka v2 record batches
// (magic 2), byte for byte as Kafka writes them.
//
// # Layout
//
// A batch is a 61-byte header followed by its records. All integers in the
// header are big-endian:
//
//	offset size field
//	     0    8 baseOffset            set by the broker
//	     8    4 batchLength           bytes after this field (size - 12)
//	    12    4 partitionLeaderEpoch  set by the broker
//	    16    1 magic                 2
//	    17    4 crc                   CRC-32C of bytes 21 .. end of batch
//	    21    2 attributes            bits 0-2 codec, 3 timestamp type, 4 txn, 5 control
//	    23    4 lastOffsetDelta
//	    27    8 firstTimestamp
//	    35    8 maxTimestamp
//	    43    8 producerId            -1 when not idempotent
//	    51    2 producerEpoch
//	    53    4 baseSequence
//	    57    4 recordCount
//	    61      records
//
// The CRC covers attributes through the end of the batch, so the broker can
// stamp baseOffset and partitionLeaderEpoch in place without recomputing it;
// changing the timestamp type or maxTimestamp (LogAppendTime) does change it.
//
// Records of an uncompressed batch are, each: varint length (of the rest of
// the record), int8 attributes, varlong timestampDelta, varint offsetDelta,
// varint keyLength + key (-1 = null), varint valueLength + value (-1 = null),
// varint header count, then per header varint keyLength + key, varint
// valueLength + value. Varints are zig-zag encoded as in protobuf.
//
// Compressed batches are validated by header and CRC only; their records
// are never decompressed here.
//
// Nothing in this package keeps state: every function works on the bytes it
// is given and is safe for concurrent use on distinct buffers.
package record

import (
	"encoding/binary"
	"fmt"

	"github.com/strom-broker/strom/engine/internal/crc32c"
)

// These constants are part of the on-disk and wire format and must not be
// changed.
const (
	// HeaderSize is the size of a v2 batch header, records excluded.
	HeaderSize = 61
	// LogOverhead is the size of baseOffset + batchLength, the bytes not
	// counted by batchLength.
	LogOverhead = 12
	// Magic is the only batch format version this package accepts.
	Magic = 2

	BaseOffsetOffset           = 0
	BatchLengthOffset          = 8
	PartitionLeaderEpochOffset = 12
	MagicOffset                = 16
	CRCOffset                  = 17
	AttributesOffset           = 21
	LastOffsetDeltaOffset      = 23
	FirstTimestampOffset       = 27
	MaxTimestampOffset         = 35
	ProducerIDOffset           = 43
	ProducerEpochOffset        = 51
	BaseSequenceOffset         = 53
	RecordCountOffset          = 57
	RecordsOffset              = 61

	// MinBatchLength is the smallest legal batchLength (a batch with no
	// records).
	MinBatchLength = HeaderSize - LogOverhead
)

// Attribute bits (part of the format).
const (
	CompressionMask   = 0x07
	TimestampTypeBit  = 0x08
	TransactionalBit  = 0x10
	ControlBit        = 0x20
	DeleteHorizonBit  = 0x40
	NoProducerID      = -1
	NoProducerEpoch   = -1
	NoSequence        = -1
	NoPartitionLeader = -1
)

// Compression is the codec in attribute bits 0-2.
type Compression int8

// Codecs, as numbered by Kafka.
const (
	CompressionNone   Compression = 0
	CompressionGzip   Compression = 1
	CompressionSnappy Compression = 2
	CompressionLZ4    Compression = 3
	CompressionZstd   Compression = 4
)

// TimestampType says whether maxTimestamp is the producer's (CreateTime) or
// the broker's (LogAppendTime).
type TimestampType int8

// Timestamp types, as in attribute bit 3.
const (
	CreateTime    TimestampType = 0
	LogAppendTime TimestampType = 1
)

// String returns Kafka's name for the type.
func (t TimestampType) String() string {
	if t == LogAppendTime {
		return "LogAppendTime"
	}
	return "CreateTime"
}

// Checksum returns the CRC-32C of b, the checksum used by v2 batches.
func Checksum(b []byte) uint32 { return crc32c.Checksum(b) }

// Header is a decoded v2 batch header.
type Header struct {
	BaseOffset           int64
	BatchLength          int32
	PartitionLeaderEpoch int32
	Magic                int8
	CRC                  uint32
	Attributes           int16
	LastOffsetDelta      int32
	FirstTimestamp       int64
	MaxTimestamp         int64
	ProducerID           int64
	ProducerEpoch        int16
	BaseSequence         int32
	RecordCount          int32
}

// Size is the batch's total size in bytes, LogOverhead included.
func (h Header) Size() int { return int(h.BatchLength) + LogOverhead }

// LastOffset is the offset of the batch's last record.
func (h Header) LastOffset() int64 { return h.BaseOffset + int64(h.LastOffsetDelta) }

// NextOffset is the offset that follows the batch.
func (h Header) NextOffset() int64 { return h.LastOffset() + 1 }

// Compression returns the codec of the batch.
func (h Header) Compression() Compression { return Compression(h.Attributes & CompressionMask) }

// TimestampType returns the batch's timestamp type.
func (h Header) TimestampType() TimestampType {
	if h.Attributes&TimestampTypeBit != 0 {
		return LogAppendTime
	}
	return CreateTime
}

// IsTransactional reports attribute bit 4.
func (h Header) IsTransactional() bool { return h.Attributes&TransactionalBit != 0 }

// IsControl reports attribute bit 5.
func (h Header) IsControl() bool { return h.Attributes&ControlBit != 0 }

// HasProducerID reports whether the batch comes from an idempotent producer.
func (h Header) HasProducerID() bool { return h.ProducerID >= 0 }

// LastSequence is the sequence number of the batch's last record, wrapping
// at MaxInt32 as Kafka does; NoSequence when the batch has none.
func (h Header) LastSequence() int32 {
	if h.BaseSequence == NoSequence {
		return NoSequence
	}
	return int32((int64(h.BaseSequence) + int64(h.LastOffsetDelta)) % (1 << 31))
}

// ParseHeader decodes the header at the start of b without validating
// anything but its length.
func ParseHeader(b []byte) (Header, error) {
	if len(b) < HeaderSize {
		return Header{}, fmt.Errorf("%w: %d bytes, header needs %d", ErrShortBatch, len(b), HeaderSize)
	}
	return parseHeader(b), nil
}

// parseHeader decodes a header. REQUIRES: len(b) >= HeaderSize.
func parseHeader(b []byte) Header {
	_ = b[HeaderSize-1]
	return Header{
		BaseOffset:           int64(binary.BigEndian.Uint64(b[BaseOffsetOffset:])),
		BatchLength:          int32(binary.BigEndian.Uint32(b[BatchLengthOffset:])),
		PartitionLeaderEpoch: int32(binary.BigEndian.Uint32(b[PartitionLeaderEpochOffset:])),
		Magic:                int8(b[MagicOffset]),
		CRC:                  binary.BigEndian.Uint32(b[CRCOffset:]),
		Attributes:           int16(binary.BigEndian.Uint16(b[AttributesOffset:])),
		LastOffsetDelta:      int32(binary.BigEndian.Uint32(b[LastOffsetDeltaOffset:])),
		FirstTimestamp:       int64(binary.BigEndian.Uint64(b[FirstTimestampOffset:])),
		MaxTimestamp:         int64(binary.BigEndian.Uint64(b[MaxTimestampOffset:])),
		ProducerID:           int64(binary.BigEndian.Uint64(b[ProducerIDOffset:])),
		ProducerEpoch:        int16(binary.BigEndian.Uint16(b[ProducerEpochOffset:])),
		BaseSequence:         int32(binary.BigEndian.Uint32(b[BaseSequenceOffset:])),
		RecordCount:          int32(binary.BigEndian.Uint32(b[RecordCountOffset:])),
	}
}

// SetBaseOffset stamps the batch's base offset in place. The CRC does not
// cover it. REQUIRES: len(b) >= LogOverhead.
func SetBaseOffset(b []byte, offset int64) {
	binary.BigEndian.PutUint64(b[BaseOffsetOffset:], uint64(offset))
}

// SetPartitionLeaderEpoch stamps the partition leader epoch in place. The
// CRC does not cover it. REQUIRES: len(b) >= HeaderSize.
func SetPartitionLeaderEpoch(b []byte, epoch int32) {
	binary.BigEndian.PutUint32(b[PartitionLeaderEpochOffset:], uint32(epoch))
}

// SetMaxTimestampAndType sets maxTimestamp and the timestamp-type attribute
// bit, then recomputes the CRC (both fields are covered by it). The broker
// uses it for LogAppendTime topics. REQUIRES: b is one whole batch.
func SetMaxTimestampAndType(b []byte, ts int64, typ TimestampType) {
	attrs := binary.BigEndian.Uint16(b[AttributesOffset:])
	if typ == LogAppendTime {
		attrs |= TimestampTypeBit
	} else {
		attrs &^= TimestampTypeBit
	}
	binary.BigEndian.PutUint16(b[AttributesOffset:], attrs)
	binary.BigEndian.PutUint64(b[MaxTimestampOffset:], uint64(ts))
	binary.BigEndian.PutUint32(b[CRCOffset:], Checksum(b[AttributesOffset:]))
}
