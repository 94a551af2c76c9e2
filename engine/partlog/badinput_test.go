package partlog

import (
	"bytes"
	"encoding/binary"
	"os"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strom-broker/strom/engine/record"
	"github.com/strom-broker/strom/engine/segment"
)

// testSeed returns SEED from the environment (to replay a failure) or a
// fresh seed; the caller logs it.
func testSeed(t *testing.T, fresh uint64) uint64 {
	t.Helper()
	if s := os.Getenv("SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		require.NoError(t, err)
		return v
	}
	return fresh
}

// rawBatch assembles a batch around a hand-made records region with a
// valid CRC, so each case breaks exactly one thing.
func rawBatch(recs []byte, count, lastOffsetDelta int32) []byte {
	b := make([]byte, record.HeaderSize, record.HeaderSize+len(recs))
	b = append(b, recs...)
	binary.BigEndian.PutUint32(b[record.BatchLengthOffset:], uint32(len(b)-record.LogOverhead))
	b[record.MagicOffset] = record.Magic
	binary.BigEndian.PutUint32(b[record.LastOffsetDeltaOffset:], uint32(lastOffsetDelta))
	binary.BigEndian.PutUint64(b[record.ProducerIDOffset:], ^uint64(0))
	binary.BigEndian.PutUint32(b[record.RecordCountOffset:], uint32(count))
	recrc(b)
	return b
}

func recrc(b []byte) {
	binary.BigEndian.PutUint32(b[record.CRCOffset:], record.Checksum(b[record.AttributesOffset:]))
}

func varints(vs ...int64) []byte {
	var out []byte
	for _, v := range vs {
		out = binary.AppendVarint(out, v)
	}
	return out
}

// recBytes is one record: length prefix, then the given body.
func recBytes(body []byte) []byte { return append(varints(int64(len(body))), body...) }

// largeBatch builds an uncompressed batch of about 256 KiB of hand-made
// records; with badLen != 0 the last record's value length is
// badLen (a negative length other than -1). The CRC is valid.
func largeBatch(badLen int64) []byte {
	var recs []byte
	val := bytes.Repeat([]byte{'v'}, 100)
	n := int64(0)
	for len(recs) < 256<<10 {
		body := append([]byte{0}, varints(0, n, -1, int64(len(val)))...)
		body = append(append(body, val...), 0)
		recs = append(recs, recBytes(body)...)
		n++
	}
	if badLen != 0 {
		recs = append(recs, recBytes(append([]byte{0}, varints(0, n, -1, badLen, 0)...))...)
		n++
	}
	return rawBatch(recs, int32(n), int32(n-1))
}

func TestAppendRejectsMalformedBatches(t *testing.T) {
	good := makeBatch(3, 10, "g")
	mut := func(f func([]byte)) []byte {
		b := bytes.Clone(good)
		f(b)
		return b
	}
	cases := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty payload", nil, ErrEmptyAppend},
		{"short header", good[:40], record.ErrShortBatch},
		{"cut batch", good[:len(good)-3], record.ErrShortBatch},
		{"length past end", mut(func(b []byte) { binary.BigEndian.PutUint32(b[8:], uint32(len(b))) }), record.ErrShortBatch},
		{"length too small", mut(func(b []byte) { binary.BigEndian.PutUint32(b[8:], 10) }), record.ErrBadLength},
		{"too long for max.message.bytes", makeBatch(1, 1, string(bytes.Repeat([]byte{'x'}, 1<<20+100))), record.ErrBatchTooLarge},
		{"wrong magic", mut(func(b []byte) { b[record.MagicOffset] = 1 }), record.ErrBadMagic},
		{"bad crc", mut(func(b []byte) { b[len(b)-2] ^= 0x10 }), record.ErrBadCRC},
		{"lastOffsetDelta mismatch", mut(func(b []byte) {
			binary.BigEndian.PutUint32(b[record.LastOffsetDeltaOffset:], 5)
			recrc(b)
		}), record.ErrRecordCountMismatch},
		{"negative record length", rawBatch(varints(-3), 1, 0), record.ErrCorruptRecord},
		{"negative key length", rawBatch(recBytes(append([]byte{0}, varints(0, 0, -4, -1, 0)...)), 1, 0), record.ErrCorruptRecord},
		{"negative value length", rawBatch(recBytes(append([]byte{0}, varints(0, 0, -1, -9, 0)...)), 1, 0), record.ErrCorruptRecord},
		{"value past record end", rawBatch(recBytes(append([]byte{0}, varints(0, 0, -1, 40, 0)...)), 1, 0), record.ErrCorruptRecord},
		{"varint overflow in record", rawBatch(append([]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, make([]byte, 8)...), 1, 0), record.ErrCorruptRecord},
		{"varlong overflow in timestamp", rawBatch(recBytes(append(append([]byte{0}, bytes.Repeat([]byte{0xff}, 11)...), 0)), 1, 0), record.ErrCorruptRecord},
		{"trailing garbage", append(bytes.Clone(good), 1, 2, 3), record.ErrShortBatch},
		// A large batch with one bad byte deep inside: nothing written.
		{"large batch bad crc", func() []byte {
			b := largeBatch(0)
			b[len(b)/2] ^= 0x40
			return b
		}(), record.ErrBadCRC},
		{"large batch corrupt last record", largeBatch(-7), record.ErrCorruptRecord},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := DefaultConfig()
			cfg.MaxMessageBytes = 1<<20 + 12
			l := openLog(t, dir, cfg)
			defer l.Close()
			_, err := l.Append(makeBatch(2, 1, "first"), 0)
			require.NoError(t, err)
			leo := l.LogEndOffset()
			path := segment.FileName(dir, 0, segment.LogSuffix)
			st, err := os.Stat(path)
			require.NoError(t, err)

			// Alone, and after a valid batch in the same payload: the
			// whole append is refused.
			payloads := [][]byte{tc.b}
			if len(tc.b) > 0 {
				payloads = append(payloads, append(makeBatch(1, 1, "ok"), tc.b...))
			}
			for _, payload := range payloads {
				_, err = l.Append(payload, 0)
				require.Error(t, err)
				assert.ErrorIs(t, err, tc.want)
				assert.Equal(t, leo, l.LogEndOffset(), "LEO unchanged")
				st2, err := os.Stat(path)
				require.NoError(t, err)
				assert.Equal(t, st.Size(), st2.Size(), "file size unchanged")
			}
			// The log still works, and reads back only good data.
			info, err := l.Append(makeBatch(1, 1, "next"), 0)
			require.NoError(t, err)
			assert.Equal(t, leo, info.FirstOffset)
			all, err := l.ReadBytes(0, 1<<30, l.LogEndOffset())
			require.NoError(t, err)
			n, err := record.ValidateAll(all, record.FromLog, 0)
			require.NoError(t, err)
			assert.Equal(t, 2, n)
		})
	}
}

func TestFollowerAppend(t *testing.T) {
	leader := openLog(t, t.TempDir(), smallConfig())
	defer leader.Close()
	for i := 0; i < 30; i++ {
		_, err := leader.Append(makeBatch(2, int64(i), "l"), int32(1+i/10))
		require.NoError(t, err)
	}
	follower := openLog(t, t.TempDir(), smallConfig())
	defer follower.Close()
	for off := int64(0); off < leader.LogEndOffset(); {
		chunk, err := leader.ReadBytes(off, 500, leader.LogEndOffset())
		require.NoError(t, err)
		info, err := follower.AppendAsFollower(chunk)
		require.NoError(t, err)
		assert.Equal(t, off, info.FirstOffset)
		off = info.LastOffset + 1
	}
	assert.Equal(t, leader.LogEndOffset(), follower.LogEndOffset())
	a, _ := leader.ReadBytes(0, 1<<30, 1000)
	b, _ := follower.ReadBytes(0, 1<<30, 1000)
	assert.Equal(t, a, b)
	assert.Equal(t, leader.EpochCache().Entries(), follower.EpochCache().Entries())

	// Offsets below the LEO are refused.
	old, err := leader.ReadBytes(0, 1, 1000)
	require.NoError(t, err)
	_, err = follower.AppendAsFollower(old)
	assert.ErrorIs(t, err, ErrUnexpectedOffset)
}
