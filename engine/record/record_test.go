package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func sampleBatch(n int) []byte {
	b := NewBuilder(0)
	for i := 0; i < n; i++ {
		b.Add(1000+int64(i), []byte{byte('k'), byte(i)}, bytes.Repeat([]byte{byte(i)}, 10),
			RecordHeader{Key: []byte("h"), Value: []byte{byte(i)}})
	}
	return b.Build()
}

// assemble wraps a hand-made records region in a header with a valid CRC.
func assemble(recs []byte, count, lastOffsetDelta int32, attrs int16) []byte {
	out := make([]byte, HeaderSize, HeaderSize+len(recs))
	out = append(out, recs...)
	binary.BigEndian.PutUint32(out[BatchLengthOffset:], uint32(len(out)-LogOverhead))
	out[MagicOffset] = Magic
	binary.BigEndian.PutUint16(out[AttributesOffset:], uint16(attrs))
	binary.BigEndian.PutUint32(out[LastOffsetDeltaOffset:], uint32(lastOffsetDelta))
	binary.BigEndian.PutUint64(out[ProducerIDOffset:], ^uint64(0))
	binary.BigEndian.PutUint32(out[RecordCountOffset:], uint32(count))
	fixCRC(out)
	return out
}

func fixCRC(b []byte) {
	binary.BigEndian.PutUint32(b[CRCOffset:], Checksum(b[AttributesOffset:]))
}

// rec encodes one record from raw varint fields so tests can break any one.
func rec(fields ...[]byte) []byte {
	body := bytes.Join(fields, nil)
	return append(binary.AppendVarint(nil, int64(len(body))), body...)
}

func vi(v int64) []byte { return binary.AppendVarint(nil, v) }

func TestBuilderRoundTrip(t *testing.T) {
	b := NewBuilder(100).SetProducer(7, 3, 42)
	b.Add(5000, nil, []byte("v0"))
	b.Add(4990, []byte("k1"), nil, RecordHeader{Key: []byte("a"), Value: nil}, RecordHeader{Key: []byte("b"), Value: []byte("c")})
	b.Add(5010, []byte{}, []byte{})
	batch := b.Build()

	h, err := Validate(batch)
	require.NoError(t, err)
	assert.Equal(t, int64(100), h.BaseOffset)
	assert.Equal(t, int64(102), h.LastOffset())
	assert.Equal(t, int32(3), h.RecordCount)
	assert.Equal(t, int64(5000), h.FirstTimestamp)
	assert.Equal(t, int64(5010), h.MaxTimestamp)
	assert.Equal(t, int64(7), h.ProducerID)
	assert.Equal(t, int16(3), h.ProducerEpoch)
	assert.Equal(t, int32(42), h.BaseSequence)
	assert.Equal(t, int32(44), h.LastSequence())
	assert.Equal(t, len(batch), h.Size())
	assert.Equal(t, CreateTime, h.TimestampType())

	it, err := Records(batch)
	require.NoError(t, err)
	var r Record
	var got []Record
	for it.Next(&r) {
		c := r
		c.Headers = append([]RecordHeader(nil), r.Headers...)
		got = append(got, c)
	}
	require.NoError(t, it.Err())
	require.Len(t, got, 3)
	assert.Nil(t, got[0].Key)
	assert.Equal(t, []byte("v0"), got[0].Value)
	assert.Equal(t, int64(5000), got[0].Timestamp(h))
	assert.Equal(t, []byte("k1"), got[1].Key)
	assert.Nil(t, got[1].Value)
	assert.Equal(t, int64(4990), got[1].Timestamp(h))
	assert.Equal(t, int64(101), got[1].Offset(h))
	require.Len(t, got[1].Headers, 2)
	assert.Nil(t, got[1].Headers[0].Value)
	assert.Equal(t, []byte("c"), got[1].Headers[1].Value)
	assert.NotNil(t, got[2].Key)
	assert.Empty(t, got[2].Key)
}

func TestStampingKeepsCRC(t *testing.T) {
	batch := sampleBatch(3)
	SetBaseOffset(batch, 1<<40)
	SetPartitionLeaderEpoch(batch, 9)
	h, err := Validate(batch)
	require.NoError(t, err)
	assert.Equal(t, int64(1<<40), h.BaseOffset)
	assert.Equal(t, int32(9), h.PartitionLeaderEpoch)

	SetMaxTimestampAndType(batch, 77777, LogAppendTime)
	h, err = Validate(batch)
	require.NoError(t, err)
	assert.Equal(t, LogAppendTime, h.TimestampType())
	assert.Equal(t, int64(77777), h.MaxTimestamp)
	it, err := Records(batch)
	require.NoError(t, err)
	var r Record
	require.True(t, it.Next(&r))
	assert.Equal(t, int64(77777), r.Timestamp(h))
}

func TestValidateMalformed(t *testing.T) {
	good := sampleBatch(2)
	mut := func(f func(b []byte) []byte) []byte {
		return f(append([]byte(nil), good...))
	}
	okKey := []byte{0} // attributes
	cases := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrShortBatch},
		{"shorter than header", good[:HeaderSize-1], ErrShortBatch},
		{"cut in records", good[:len(good)-1], ErrShortBatch},
		{"trailing byte", append(append([]byte(nil), good...), 0), ErrTrailingBytes},
		{"batchLength below header", mut(func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[BatchLengthOffset:], MinBatchLength-1)
			return b
		}), ErrBadLength},
		{"negative batchLength", mut(func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[BatchLengthOffset:], 0xffffffff)
			return b
		}), ErrBadLength},
		{"batchLength too long", mut(func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[BatchLengthOffset:], uint32(len(b)))
			return b
		}), ErrShortBatch},
		{"magic 1", mut(func(b []byte) []byte { b[MagicOffset] = 1; return b }), ErrBadMagic},
		{"bad crc", mut(func(b []byte) []byte { b[len(b)-1] ^= 1; return b }), ErrBadCRC},
		{"crc field flipped", mut(func(b []byte) []byte { b[CRCOffset] ^= 0x80; return b }), ErrBadCRC},
		{"lastOffsetDelta too big", mut(func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[LastOffsetDeltaOffset:], 2)
			fixCRC(b)
			return b
		}), ErrRecordCountMismatch},
		{"recordCount too small", mut(func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[RecordCountOffset:], 1)
			binary.BigEndian.PutUint32(b[LastOffsetDeltaOffset:], 0)
			fixCRC(b)
			return b
		}), ErrTrailingBytes},
		{"recordCount too large", mut(func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[RecordCountOffset:], 3)
			binary.BigEndian.PutUint32(b[LastOffsetDeltaOffset:], 2)
			fixCRC(b)
			return b
		}), ErrRecordCountMismatch},
		{"negative recordCount", mut(func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[RecordCountOffset:], 0xffffffff)
			fixCRC(b)
			return b
		}), ErrRecordCountMismatch},
		{"no records", assemble(nil, 0, -1, 0), ErrRecordCountMismatch},
		{"record length negative", assemble(vi(-5), 1, 0, 0), ErrCorruptRecord},
		{"record length past end", assemble(append(vi(50), 0, 0, 0), 1, 0, 0), ErrCorruptRecord},
		{"record length varint overflow", assemble([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 1, 0, 0), ErrCorruptRecord},
		{"record length 5th byte overflow", assemble([]byte{0xff, 0xff, 0xff, 0xff, 0x7f}, 1, 0, 0), ErrCorruptRecord},
		{"timestamp varlong overflow", assemble(rec(okKey, bytes.Repeat([]byte{0xff}, 10), []byte{1}), 1, 0, 0), ErrCorruptRecord},
		{"key length negative", assemble(rec(okKey, vi(0), vi(0), vi(-2), vi(-1), vi(0)), 1, 0, 0), ErrCorruptRecord},
		{"key length past record", assemble(rec(okKey, vi(0), vi(0), vi(9), vi(-1), vi(0)), 1, 0, 0), ErrCorruptRecord},
		{"value length negative", assemble(rec(okKey, vi(0), vi(0), vi(-1), vi(-7), vi(0)), 1, 0, 0), ErrCorruptRecord},
		{"header count negative", assemble(rec(okKey, vi(0), vi(0), vi(-1), vi(-1), vi(-1)), 1, 0, 0), ErrCorruptRecord},
		{"null header key", assemble(rec(okKey, vi(0), vi(0), vi(-1), vi(-1), vi(1), vi(-1), vi(-1)), 1, 0, 0), ErrCorruptRecord},
		{"header missing", assemble(rec(okKey, vi(0), vi(0), vi(-1), vi(-1), vi(1)), 1, 0, 0), ErrCorruptRecord},
		{"record longer than fields", assemble(rec(okKey, vi(0), vi(0), vi(-1), vi(-1), vi(0), []byte{9}), 1, 0, 0), ErrCorruptRecord},
		{"wrong offset delta", assemble(rec(okKey, vi(0), vi(3), vi(-1), vi(-1), vi(0)), 1, 0, 0), ErrCorruptRecord},
		{"bytes after records", assemble(append(rec(okKey, vi(0), vi(0), vi(-1), vi(-1), vi(0)), 0), 1, 0, 0), ErrTrailingBytes},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Validate(tc.b)
			require.Error(t, err)
			assert.ErrorIs(t, err, tc.want)
			assert.ErrorIs(t, err, ErrCorrupt)
			// The same bytes inside a payload fail the scanner too.
			_, err = ValidateAll(append(sampleBatch(1), tc.b...), FromClient, 0)
			if len(tc.b) > 0 {
				assert.ErrorIs(t, err, ErrCorrupt)
			}
		})
	}
	// The hand-made well-formed record passes, so the cases above fail for
	// the reason they name.
	_, err := Validate(assemble(rec(okKey, vi(0), vi(0), vi(-1), vi(-1), vi(0)), 1, 0, 0))
	require.NoError(t, err)
}

func TestCompressedBatchHeaderOnly(t *testing.T) {
	// A "gzip" batch whose records are opaque bytes: only header and CRC
	// are checked.
	b := assemble([]byte{1, 2, 3, 4, 5}, 4, 3, int16(CompressionGzip))
	h, err := Validate(b)
	require.NoError(t, err)
	assert.Equal(t, CompressionGzip, h.Compression())
	_, err = Records(b)
	assert.ErrorIs(t, err, ErrUnsupportedCompression)
	b[len(b)-1] ^= 0xff
	_, err = Validate(b)
	assert.ErrorIs(t, err, ErrBadCRC)
}

func TestFromLogModeAcceptsCompactedBatches(t *testing.T) {
	// A compacted batch keeps lastOffsetDelta while records are gone.
	b := assemble(rec([]byte{0}, vi(0), vi(4), vi(-1), vi(-1), vi(0)), 1, 4, 0)
	_, err := ValidateMode(b, FromLog)
	require.NoError(t, err)
	_, err = Validate(b)
	assert.ErrorIs(t, err, ErrRecordCountMismatch)
	// An empty batch (kept for producer state) is fine in a log.
	_, err = ValidateMode(assemble(nil, 0, 0, 0), FromLog)
	require.NoError(t, err)
	_, err = ValidateMode(assemble(nil, 2, 0, 0), FromLog)
	assert.ErrorIs(t, err, ErrRecordCountMismatch)
}

func TestScanner(t *testing.T) {
	var payload []byte
	for i := 1; i <= 4; i++ {
		payload = append(payload, sampleBatch(i)...)
	}
	s := NewScanner(payload, FromClient)
	var counts []int32
	pos := 0
	for s.Next() {
		assert.Equal(t, pos, s.Pos())
		assert.Equal(t, s.Header().Size(), len(s.Batch()))
		pos += len(s.Batch())
		counts = append(counts, s.Header().RecordCount)
	}
	require.NoError(t, s.Err())
	assert.Equal(t, []int32{1, 2, 3, 4}, counts)
	assert.Equal(t, len(payload), pos)

	n, err := ValidateAll(payload, FromClient, len(sampleBatch(4))-1)
	assert.ErrorIs(t, err, ErrBatchTooLarge)
	assert.False(t, errors.Is(err, ErrCorrupt))
	assert.Equal(t, 3, n)

	for _, cut := range []int{1, 11, 12, 60, len(payload) - 1} {
		_, err := ValidateAll(payload[:cut], FromClient, 0)
		assert.ErrorIs(t, err, ErrShortBatch, "cut at %d", cut)
	}
	n, err = ValidateAll(nil, FromClient, 0)
	require.NoError(t, err)
	assert.Zero(t, n)
}

func TestRecordIterBounds(t *testing.T) {
	// Records() on a header claiming more records than present.
	b := assemble(rec([]byte{0}, vi(0), vi(0), vi(-1), vi(-1), vi(0)), 2, 1, 0)
	it, err := Records(b)
	require.NoError(t, err)
	var r Record
	assert.True(t, it.Next(&r))
	assert.False(t, it.Next(&r))
	assert.ErrorIs(t, it.Err(), ErrCorruptRecord)

	b = assemble(append(rec([]byte{0}, vi(0), vi(0), vi(-1), vi(-1), vi(0)), 7), 1, 0, 0)
	it, err = Records(b)
	require.NoError(t, err)
	assert.True(t, it.Next(&r))
	assert.False(t, it.Next(&r))
	assert.ErrorIs(t, it.Err(), ErrTrailingBytes)
}

func BenchmarkValidate16KiB(b *testing.B) {
	bl := NewBuilder(0)
	for bl.Size() < 16<<10 {
		bl.Add(1, nil, bytes.Repeat([]byte{'x'}, 100))
	}
	batch := bl.Build()
	b.SetBytes(int64(len(batch)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Validate(batch); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValidate1MiB(b *testing.B) {
	bl := NewBuilder(0)
	for bl.Size() < 1<<20-200 {
		bl.Add(1, nil, bytes.Repeat([]byte{'x'}, 100))
	}
	batch := bl.Build()
	b.SetBytes(int64(len(batch)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Validate(batch); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkChecksum1MiB(b *testing.B) {
	buf := make([]byte, 1<<20)
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		Checksum(buf)
	}
}
