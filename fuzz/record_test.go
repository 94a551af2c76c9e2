package fuzz

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strom-broker/strom/engine/record"
)

// fixCRCs rewrites, in a copy of b, the CRC of every batch the length
// fields delimit, so the fuzzer gets past the checksum and into the checks
// behind it.
func fixCRCs(b []byte) []byte {
	b = append([]byte(nil), b...)
	for pos := 0; len(b)-pos >= record.HeaderSize; {
		blen := int64(int32(binary.BigEndian.Uint32(b[pos+record.BatchLengthOffset:])))
		end := int64(pos) + blen + record.LogOverhead
		if blen < record.HeaderSize-record.LogOverhead || end > int64(len(b)) {
			return b
		}
		crc := record.Checksum(b[pos+record.AttributesOffset : end])
		binary.BigEndian.PutUint32(b[pos+record.CRCOffset:], crc)
		pos = int(end)
	}
	return b
}

// FuzzValidate: what record.Validate accepts is one whole, well-formed
// batch: its header parses to the same values, the CRC matches,
// recordCount == lastOffsetDelta+1, the log-side check agrees, and for an uncompressed batch the record iterator returns exactly
// recordCount records with offset deltas 0, 1, 2, ...
func FuzzValidate(f *testing.F) {
	f.Fuzz(func(t *testing.T, batch []byte, fixCRC bool) {
		if fixCRC {
			batch = fixCRCs(batch)
		}
		h, err := record.Validate(batch)
		if err != nil {
			require.ErrorIs(t, err, record.ErrCorrupt)
			return
		}
		ph, err := record.ParseHeader(batch)
		require.NoError(t, err)
		require.Equal(t, ph, h)
		require.Equal(t, len(batch), h.Size())
		require.EqualValues(t, record.Magic, batch[record.MagicOffset])
		require.Equal(t, binary.BigEndian.Uint32(batch[record.CRCOffset:]), record.Checksum(batch[record.AttributesOffset:]))
		require.Equal(t, h.LastOffsetDelta+1, h.RecordCount)
		_, err = record.ValidateMode(batch, record.FromLog)
		require.NoError(t, err, "FromLog rejects what FromClient accepts")

		if h.Compression() != record.CompressionNone {
			return
		}
		it, err := record.Records(batch)
		require.NoError(t, err)
		var (
			r record.Record
			n int32
		)
		for it.Next(&r) {
			require.Equal(t, n, r.OffsetDelta)
			n++
		}
		require.NoError(t, it.Err())
		require.Equal(t, h.RecordCount, n)
	})
}

// FuzzScanner: scanning a concatenation of batches (as recovery and
// follower appends do) yields contiguous batches that each validate on
// their own, covers the whole input exactly when it reports no error, and
// the stricter FromClient scan never accepts more than the FromLog scan.
func FuzzScanner(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte, fixCRC bool) {
		if fixCRC {
			data = fixCRCs(data)
		}
		s := record.NewScanner(data, record.FromLog)
		end, n := 0, 0
		for s.Next() {
			require.Equal(t, end, s.Pos(), "batches are not contiguous")
			b := s.Batch()
			h, err := record.ValidateMode(b, record.FromLog)
			require.NoError(t, err)
			require.Equal(t, s.Header(), h)
			end += len(b)
			n++
		}
		if s.Err() == nil {
			require.Equal(t, len(data), end)
		} else {
			require.ErrorIs(t, s.Err(), record.ErrCorrupt)
			require.Less(t, end, len(data))
		}
		nAll, errAll := record.ValidateAll(data, record.FromLog, 0)
		assert.Equal(t, n, nAll)
		assert.Equal(t, s.Err() == nil, errAll == nil)

		nClient, errClient := record.ValidateAll(data, record.FromClient, 0)
		require.LessOrEqual(t, nClient, n)
		if errClient == nil {
			require.NoError(t, errAll)
		}
	})
}
