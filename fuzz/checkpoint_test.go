package fuzz

import (
	"encoding/binary"
	"hash/crc32"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strom-broker/strom/engine/checkpoint"
	"github.com/strom-broker/strom/engine/producer"
)

// FuzzCheckpointParse: an offset checkpoint that parses formats (Format
// accepts everything Parse returns) into bytes that parse to the same
// offsets, and formatting is canonical (a second round gives equal bytes).
func FuzzCheckpointParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		offs, err := checkpoint.Parse(data)
		if err != nil {
			require.ErrorIs(t, err, checkpoint.ErrMalformed)
			return
		}
		out, err := checkpoint.Format(offs)
		require.NoError(t, err, "Format refuses what Parse returned")
		again, err := checkpoint.Parse(out)
		require.NoError(t, err)
		require.Equal(t, offs, again)
		out2, err := checkpoint.Format(again)
		require.NoError(t, err)
		require.Equal(t, out, out2)
	})
}

// FuzzCheckpointParseEpochs: Parse -> Format -> Parse identity for the
// leader-epoch checkpoint.
func FuzzCheckpointParseEpochs(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := checkpoint.ParseEpochs(data)
		if err != nil {
			require.ErrorIs(t, err, checkpoint.ErrMalformed)
			return
		}
		out, err := checkpoint.FormatEpochs(entries)
		require.NoError(t, err, "FormatEpochs refuses what ParseEpochs returned")
		again, err := checkpoint.ParseEpochs(out)
		require.NoError(t, err)
		if len(entries) == 0 {
			require.Empty(t, again)
			return
		}
		require.Equal(t, entries, again)
	})
}

// FuzzCheckpointParseMeta: meta.properties that parses and that FormatMeta
// can write (it refuses values Parse keeps verbatim but the format cannot
// express, e.g. a backslash) reads back identically.
func FuzzCheckpointParseMeta(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := checkpoint.ParseMeta(data)
		if err != nil {
			require.ErrorIs(t, err, checkpoint.ErrMalformed)
			return
		}
		out, err := checkpoint.FormatMeta(m)
		if err != nil {
			require.ErrorIs(t, err, checkpoint.ErrMalformed)
			return
		}
		again, err := checkpoint.ParseMeta(out)
		require.NoError(t, err)
		if len(m.Extra) == 0 {
			m.Extra, again.Extra = nil, nil
		}
		require.Equal(t, m, again)
	})
}

// snapshotCRCAt and snapshotCountAt are the producer snapshot's CRC and
// entry-count positions (Kafka's layout: version int16, crc uint32, count
// int32, entries).
const (
	snapshotCRCAt   = 2
	snapshotCountAt = 6
)

// FuzzDecodeSnapshot: a producer snapshot that decodes re-encodes into one
// that decodes to the same producer entries. With fixCRC the fuzz bytes get
// a correct CRC so the entry checks are reached.
func FuzzDecodeSnapshot(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte, fixCRC bool) {
		if fixCRC && len(data) >= snapshotCountAt {
			data = append([]byte(nil), data...)
			crc := crc32.Checksum(data[snapshotCountAt:], crc32.MakeTable(crc32.Castagnoli))
			binary.BigEndian.PutUint32(data[snapshotCRCAt:], crc)
		}
		s, err := producer.DecodeSnapshot(data)
		if err != nil {
			require.ErrorIs(t, err, producer.ErrCorruptSnapshot)
			return
		}
		again, err := producer.DecodeSnapshot(s.EncodeSnapshot())
		require.NoError(t, err)
		require.Equal(t, s.Entries(), again.Entries())
	})
}
