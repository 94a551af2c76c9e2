package record

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrCorrupt matches every error that says the bytes are not a well-formed
// v2 batch (all the Err* below except ErrBatchTooLarge). Kafka answers such
// input with CORRUPT_MESSAGE or INVALID_RECORD.
var ErrCorrupt = errors.New("record: corrupt batch")

// corruptError is a sentinel that also matches ErrCorrupt.
type corruptError struct{ msg string }

// Error returns the message.
func (e *corruptError) Error() string { return e.msg }

// Is makes every corruptError match ErrCorrupt.
func (e *corruptError) Is(target error) bool { return target == ErrCorrupt }

// Errors returned by validation; test them with errors.Is.
var (
	// ErrShortBatch: fewer bytes than a header, or than batchLength says.
	ErrShortBatch error = &corruptError{"record: short batch"}
	// ErrBadLength: batchLength smaller than a header.
	ErrBadLength error = &corruptError{"record: batchLength below header size"}
	// ErrBadMagic: magic is not 2.
	ErrBadMagic error = &corruptError{"record: unsupported magic"}
	// ErrBadCRC: CRC-32C mismatch.
	ErrBadCRC error = &corruptError{"record: CRC mismatch"}
	// ErrRecordCountMismatch: recordCount disagrees with lastOffsetDelta or
	// with the records actually present.
	ErrRecordCountMismatch error = &corruptError{"record: record count mismatch"}
	// ErrCorruptRecord: a record inside an uncompressed batch is malformed
	// (varint overflow, negative length, length past the end, bad offset delta).
	ErrCorruptRecord error = &corruptError{"record: corrupt record"}
	// ErrTrailingBytes: bytes after the last record, or after the one batch
	// Validate was asked to check.
	ErrTrailingBytes error = &corruptError{"record: trailing bytes"}
	// ErrBatchTooLarge: the batch exceeds the configured maximum size.
	ErrBatchTooLarge = errors.New("record: batch too large")
)

// Mode selects how strictly a batch is checked.
type Mode uint8

const (
	// FromClient is for batches a producer sent: every check, including
	// recordCount == lastOffsetDelta+1 and, for uncompressed batches, a
	// bounds-checked walk of every record with offsetDelta == index.
	FromClient Mode = iota
	// FromLog is for batches already in a log (recovery, follower fetches,
	// compacted batches): sizes, magic, CRC, and recordCount within
	// 0..lastOffsetDelta+1. Records are not walked: the CRC covers them.
	FromLog
)

// Validate checks that b is exactly one well-formed batch from a client
// (Mode FromClient) and returns its header.
func Validate(b []byte) (Header, error) { return ValidateMode(b, FromClient) }

// ValidateMode checks that b is exactly one well-formed batch under mode.
func ValidateMode(b []byte, mode Mode) (Header, error) {
	if len(b) < HeaderSize {
		return Header{}, fmt.Errorf("%w: %d bytes, header needs %d", ErrShortBatch, len(b), HeaderSize)
	}
	h := parseHeader(b)
	if h.BatchLength < MinBatchLength {
		return h, fmt.Errorf("%w: batchLength %d < %d", ErrBadLength, h.BatchLength, MinBatchLength)
	}
	if size := h.Size(); size > len(b) {
		return h, fmt.Errorf("%w: batch is %d bytes, have %d", ErrShortBatch, size, len(b))
	} else if size < len(b) {
		return h, fmt.Errorf("%w: %d bytes after a %d-byte batch", ErrTrailingBytes, len(b)-size, size)
	}
	if h.Magic != Magic {
		return h, fmt.Errorf("%w: %d", ErrBadMagic, h.Magic)
	}
	if err := checkCRC(b, h); err != nil {
		return h, err
	}
	if h.RecordCount < 0 || h.LastOffsetDelta < 0 {
		return h, fmt.Errorf("%w: recordCount %d, lastOffsetDelta %d", ErrRecordCountMismatch, h.RecordCount, h.LastOffsetDelta)
	}
	if mode == FromLog {
		if int64(h.RecordCount) > int64(h.LastOffsetDelta)+1 {
			return h, fmt.Errorf("%w: recordCount %d > lastOffsetDelta+1 = %d", ErrRecordCountMismatch, h.RecordCount, int64(h.LastOffsetDelta)+1)
		}
		return h, nil
	}
	if int64(h.RecordCount) != int64(h.LastOffsetDelta)+1 {
		return h, fmt.Errorf("%w: recordCount %d, lastOffsetDelta+1 = %d", ErrRecordCountMismatch, h.RecordCount, int64(h.LastOffsetDelta)+1)
	}
	if h.Compression() == CompressionNone {
		if err := walkRecords(b[RecordsOffset:], h.RecordCount); err != nil {
			return h, err
		}
	}
	return h, nil
}

func checkCRC(b []byte, h Header) error {
	if crc := Checksum(b[AttributesOffset:]); crc != h.CRC {
		return fmt.Errorf("%w: stored %#08x, computed %#08x", ErrBadCRC, h.CRC, crc)
	}
	return nil
}

// walkRecords checks the structure of count records filling recs exactly,
// with offset deltas 0, 1, 2, ... It allocates nothing. The fast path only
// says yes or no; on a no, the slow path finds the error to report.
func walkRecords(recs []byte, count int32) error {
	pos := 0
	for i := int32(0); i < count; i++ {
		if pos >= len(recs) {
			return fmt.Errorf("%w: %d records present, recordCount %d", ErrRecordCountMismatch, i, count)
		}
		end := skipRecordFast(recs, pos, i)
		if end < 0 {
			_, err := skipRecord(recs, pos, i)
			if err == nil { // cannot happen: both paths check the same rules
				err = ErrCorruptRecord
			}
			return fmt.Errorf("record %d at byte %d: %w", i, RecordsOffset+pos, err)
		}
		pos = end
	}
	if pos != len(recs) {
		return fmt.Errorf("%w: %d bytes after record %d", ErrTrailingBytes, len(recs)-pos, count)
	}
	return nil
}

// skipRecordFast is skipRecord without error values: it returns the
// position after the record, or -1 when the record is malformed. It must
// agree with skipRecord on every input (walk_test.go checks this). The
// common varint sizes are decoded inline: one or two bytes for the
// lengths, two or three for offsetDelta, one for the rest.
func skipRecordFast(b []byte, pos int, wantDelta int32) int {
	var length int32
	p := -1
	if pos+1 < len(b) {
		if c0, c1 := uint32(b[pos]), uint32(b[pos+1]); c0 < 0x80 { // one-byte length: records below 64 bytes
			length, p = int32(c0>>1)^-int32(c0&1), pos+1
		} else if c1 < 0x80 { // two-byte length: 64..8191-byte records
			ux := c0&0x7f | c1<<7
			length, p = int32(ux>>1)^-int32(ux&1), pos+2
		}
	}
	if p < 0 {
		length, p = fastVarint(b, pos)
	}
	if p < 0 || length <= 0 || int(length) > len(b)-p {
		return -1
	}
	end := p + int(length)
	r := b[:end]
	p++                         // attributes; length >= 1 keeps p <= end
	if p < end && r[p] < 0x80 { // timestampDelta
		p++
	} else if p = skipVarlong(r, p); p < 0 {
		return -1
	}
	// offsetDelta == wantDelta (>= 0, so its zig-zag form is wantDelta<<1),
	// inline when it takes two bytes (records 64..8191 of a batch) or three
	// (up to 2^20); key and value lengths follow, hence p+2 < end.
	want := uint32(wantDelta) << 1
	if p+2 < end && r[p] >= 0x80 && r[p+1] < 0x80 {
		if uint32(r[p])&0x7f|uint32(r[p+1])<<7 != want {
			return -1
		}
		p += 2
	} else if p+2 < end && r[p] >= 0x80 && r[p+1] >= 0x80 && r[p+2] < 0x80 {
		if uint32(r[p])&0x7f|uint32(r[p+1]&0x7f)<<7|uint32(r[p+2])<<14 != want {
			return -1
		}
		p += 3
	} else {
		delta, np := fastVarint(r, p)
		if np < 0 || delta != wantDelta {
			return -1
		}
		p = np
	}
	for f := 0; f < 2; f++ { // key, value
		n, np, ok := varint1(r, p)
		if !ok && np+1 < end {
			if c0, c1 := uint32(r[np]), uint32(r[np+1]); c1 < 0x80 {
				ux := c0&0x7f | c1<<7
				n, np, ok = int32(ux>>1)^-int32(ux&1), np+2, true
			}
		}
		if !ok {
			n, np = fastVarint(r, p)
		}
		if np < 0 || n < -1 || int(n) > end-np {
			return -1
		}
		p = np
		if n > 0 {
			p += int(n)
		}
	}
	if r[end-1] == 0 && p == end-1 { // no headers, the common case: r[end-1] is known before p
		return end
	}
	nh, np, ok := varint1(r, p)
	if !ok {
		nh, np = fastVarint(r, p)
	}
	if np < 0 || nh < 0 {
		return -1
	}
	p = np
	for j := int32(0); j < nh; j++ {
		if p = fastField(r, p, false); p < 0 {
			return -1
		}
		if p = fastField(r, p, true); p < 0 {
			return -1
		}
	}
	if p != end {
		return -1
	}
	return end
}

// varint1 decodes a one-byte zig-zag varint; ok is false otherwise.
func varint1(b []byte, p int) (int32, int, bool) {
	if uint(p) < uint(len(b)) {
		if c := b[p]; c < 0x80 {
			return int32(c>>1) ^ -int32(c&1), p + 1, true
		}
	}
	return 0, p, false
}

// fastVarint decodes a zig-zag varint of at most 5 bytes fitting 32 bits,
// returning p < 0 on error. Values of up to three bytes (offset deltas
// below 2^20) are decoded without a loop.
func fastVarint(b []byte, p int) (int32, int) {
	if p+1 < len(b) {
		c0 := uint32(b[p])
		if c0 < 0x80 {
			return int32(c0>>1) ^ -int32(c0&1), p + 1
		}
		c1 := uint32(b[p+1])
		if c1 < 0x80 {
			ux := c0&0x7f | c1<<7
			return int32(ux>>1) ^ -int32(ux&1), p + 2
		}
		if p+2 < len(b) {
			if c2 := uint32(b[p+2]); c2 < 0x80 {
				ux := c0&0x7f | (c1&0x7f)<<7 | c2<<14
				return int32(ux>>1) ^ -int32(ux&1), p + 3
			}
		}
	}
	v, np, err := readVarint(b, p)
	if err != nil {
		return 0, -1
	}
	return v, np
}

// skipVarlong skips a varint of at most 10 bytes fitting 64 bits.
func skipVarlong(b []byte, p int) int {
	if p < len(b) && b[p] < 0x80 {
		return p + 1
	}
	_, np, err := readVarlong(b, p)
	if err != nil {
		return -1
	}
	return np
}

// fastField skips a varint-length-prefixed field (-1 = null if nullable).
func fastField(b []byte, p int, nullable bool) int {
	n, p := fastVarint(b, p)
	if p < 0 {
		return -1
	}
	if n == -1 && nullable {
		return p
	}
	if n < 0 || int(n) > len(b)-p {
		return -1
	}
	return p + int(n)
}

// skipRecord checks one record at b[pos:] whose offset delta must be
// wantDelta, and returns the position after it.
func skipRecord(b []byte, pos int, wantDelta int32) (int, error) {
	length, p, err := readVarint(b, pos)
	if err != nil {
		return 0, err
	}
	if length < 0 || int64(length) > int64(len(b)-p) {
		return 0, fmt.Errorf("%w: record length %d with %d bytes left", ErrCorruptRecord, length, len(b)-p)
	}
	end := p + int(length)
	r := b[:end]
	if p >= end {
		return 0, fmt.Errorf("%w: empty record", ErrCorruptRecord)
	}
	p++ // attributes
	if _, p, err = readVarlong(r, p); err != nil {
		return 0, err
	}
	var delta int32
	if delta, p, err = readVarint(r, p); err != nil {
		return 0, err
	}
	if delta != wantDelta {
		return 0, fmt.Errorf("%w: offsetDelta %d, want %d", ErrCorruptRecord, delta, wantDelta)
	}
	if p, err = skipBytes(r, p, true); err != nil { // key
		return 0, err
	}
	if p, err = skipBytes(r, p, true); err != nil { // value
		return 0, err
	}
	var nh int32
	if nh, p, err = readVarint(r, p); err != nil {
		return 0, err
	}
	if nh < 0 {
		return 0, fmt.Errorf("%w: header count %d", ErrCorruptRecord, nh)
	}
	for j := int32(0); j < nh; j++ {
		if p, err = skipBytes(r, p, false); err != nil { // header key
			return 0, err
		}
		if p, err = skipBytes(r, p, true); err != nil { // header value
			return 0, err
		}
	}
	if p != end {
		return 0, fmt.Errorf("%w: record length says %d bytes, fields use %d", ErrCorruptRecord, int(length), int(length)-(end-p))
	}
	return end, nil
}

// skipBytes skips a varint-length-prefixed field; -1 (null) is allowed when
// nullable.
func skipBytes(b []byte, pos int, nullable bool) (int, error) {
	n, p, err := readVarint(b, pos)
	if err != nil {
		return 0, err
	}
	if n == -1 && nullable {
		return p, nil
	}
	if n < 0 || int64(n) > int64(len(b)-p) {
		return 0, fmt.Errorf("%w: field length %d with %d bytes left", ErrCorruptRecord, n, len(b)-p)
	}
	return p + int(n), nil
}

// readVarint decodes a zig-zag varint that must fit in 32 bits (at most 5
// bytes).
func readVarint(b []byte, pos int) (int32, int, error) {
	var ux uint32
	for i := 0; i < 5; i++ {
		if pos >= len(b) {
			return 0, 0, fmt.Errorf("%w: varint past end", ErrCorruptRecord)
		}
		c := b[pos]
		pos++
		if i == 4 && c > 0x0f {
			return 0, 0, fmt.Errorf("%w: varint overflows 32 bits", ErrCorruptRecord)
		}
		ux |= uint32(c&0x7f) << (7 * i)
		if c < 0x80 {
			return int32(ux>>1) ^ -int32(ux&1), pos, nil
		}
	}
	return 0, 0, fmt.Errorf("%w: varint longer than 5 bytes", ErrCorruptRecord)
}

// readVarlong decodes a zig-zag varint that must fit in 64 bits.
func readVarlong(b []byte, pos int) (int64, int, error) {
	if pos > len(b) {
		return 0, 0, fmt.Errorf("%w: varlong past end", ErrCorruptRecord)
	}
	ux, n := binary.Uvarint(b[pos:])
	if n == 0 {
		return 0, 0, fmt.Errorf("%w: varlong past end", ErrCorruptRecord)
	}
	if n < 0 {
		return 0, 0, fmt.Errorf("%w: varlong overflows 64 bits", ErrCorruptRecord)
	}
	return int64(ux>>1) ^ -int64(ux&1), pos + n, nil
}

// Scanner walks concatenated batches (a Produce payload, a fetched chunk)
// validating each one. The zero value is an empty scanner. Usage:
//
//	s := record.NewScanner(payload, record.FromClient)
//	for s.Next() { use(s.Header(), s.Batch()) }
//	if err := s.Err(); err != nil { ... }
type Scanner struct {
	buf  []byte
	mode Mode
	max  int
	// pos is the start of the next batch; cur the current batch's start.
	pos, cur int
	h        Header
	err      error
}

// NewScanner returns a scanner over b.
func NewScanner(b []byte, mode Mode) Scanner { return Scanner{buf: b, mode: mode} }

// SetMaxBatchBytes makes batches larger than n fail with ErrBatchTooLarge;
// n <= 0 means no limit.
func (s *Scanner) SetMaxBatchBytes(n int) { s.max = n }

// Next validates the next batch and reports whether there is one. It
// returns false at the end of the input or on the first error.
func (s *Scanner) Next() bool {
	if s.err != nil || s.pos >= len(s.buf) {
		return false
	}
	rest := s.buf[s.pos:]
	if len(rest) < LogOverhead {
		s.err = fmt.Errorf("batch at byte %d: %w: %d bytes left", s.pos, ErrShortBatch, len(rest))
		return false
	}
	blen := int32(binary.BigEndian.Uint32(rest[BatchLengthOffset:]))
	if blen < MinBatchLength {
		s.err = fmt.Errorf("batch at byte %d: %w: batchLength %d", s.pos, ErrBadLength, blen)
		return false
	}
	size := int64(blen) + LogOverhead
	if s.max > 0 && size > int64(s.max) {
		s.err = fmt.Errorf("batch at byte %d: %w: %d bytes, limit %d", s.pos, ErrBatchTooLarge, size, s.max)
		return false
	}
	if size > int64(len(rest)) {
		s.err = fmt.Errorf("batch at byte %d: %w: batch is %d bytes, have %d", s.pos, ErrShortBatch, size, len(rest))
		return false
	}
	h, err := ValidateMode(rest[:size], s.mode)
	if err != nil {
		s.err = fmt.Errorf("batch at byte %d: %w", s.pos, err)
		return false
	}
	s.h, s.cur = h, s.pos
	s.pos += int(size)
	return true
}

// Header returns the current batch's header.
func (s *Scanner) Header() Header { return s.h }

// Batch returns the current batch's bytes (a sub-slice of the input).
func (s *Scanner) Batch() []byte { return s.buf[s.cur:s.pos] }

// Pos returns the byte position of the current batch in the input.
func (s *Scanner) Pos() int { return s.cur }

// Err returns the error that stopped the scan, or nil at a clean end.
func (s *Scanner) Err() error { return s.err }

// ValidateAll validates every batch of a concatenation and returns how many
// there are. An empty input is valid and holds zero batches.
func ValidateAll(b []byte, mode Mode, maxBatchBytes int) (int, error) {
	s := NewScanner(b, mode)
	s.SetMaxBatchBytes(maxBatchBytes)
	n := 0
	for s.Next() {
		n++
	}
	return n, s.Err()
}
