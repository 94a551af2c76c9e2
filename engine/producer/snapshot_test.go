package producer

import (
	"encoding/binary"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strom-broker/strom/engine/checkpoint"
)

// TestSnapshotGoldenLayout builds the expected bytes field by field, as
// Kafka's schema lays them out, independently of EncodeSnapshot.
func TestSnapshotGoldenLayout(t *testing.T) {
	s := New()
	s.Update(batch(9, 2, 10, 3, 100)) // seq 10-12, offsets 100-102, ts 100
	s.EndTxn(9, 2, 6, 200)            // coordinator epoch 6, ts 200

	be := binary.BigEndian
	var want []byte
	want = be.AppendUint16(want, 1)       // version
	want = be.AppendUint32(want, 0)       // crc, filled below
	want = be.AppendUint32(want, 1)       // count
	want = be.AppendUint64(want, 9)       // producerId
	want = be.AppendUint16(want, 2)       // epoch
	want = be.AppendUint32(want, 12)      // lastSequence
	want = be.AppendUint64(want, 102)     // lastOffset
	want = be.AppendUint32(want, 2)       // offsetDelta
	want = be.AppendUint64(want, 200)     // timestamp
	want = be.AppendUint32(want, 6)       // coordinatorEpoch
	want = be.AppendUint64(want, 1<<64-1) // currentTxnFirstOffset -1
	be.PutUint32(want[2:], crc32.Checksum(want[6:], crc32.MakeTable(crc32.Castagnoli)))

	assert.Equal(t, want, s.EncodeSnapshot())
}

func TestSnapshotRoundTrip(t *testing.T) {
	s := New()
	s.Update(batch(1, 0, 0, 5, 0))
	s.Update(batch(1, 0, 5, 5, 5))
	s.Update(txn(batch(2, 3, math.MaxInt32-1, 4, 10))) // wraps to sequence 1
	s.EndTxn(4, 1, 2, 77)                              // producer with no batch

	back, err := DecodeSnapshot(s.EncodeSnapshot())
	require.NoError(t, err)
	want := []Entry{
		{ProducerID: 1, Epoch: 0, CoordinatorEpoch: -1, LastTimestamp: 5, CurrentTxnFirstOffset: -1,
			Batches: []Batch{{FirstSequence: 5, LastSequence: 9, FirstOffset: 5, LastOffset: 9, Timestamp: 5}}},
		{ProducerID: 2, Epoch: 3, CoordinatorEpoch: -1, LastTimestamp: 10, CurrentTxnFirstOffset: 10,
			Batches: []Batch{{FirstSequence: math.MaxInt32 - 1, LastSequence: 1, FirstOffset: 10, LastOffset: 13, Timestamp: 10}}},
		{ProducerID: 4, Epoch: 1, CoordinatorEpoch: 2, LastTimestamp: 77, CurrentTxnFirstOffset: -1},
	}
	got := back.Entries()
	for i := range got {
		if len(got[i].Batches) == 0 {
			got[i].Batches = nil
		}
	}
	assert.Equal(t, want, got)

	// Only the last batch survives: a retry of the older one is no longer
	// recognised (Kafka behaves the same).
	_, err = back.Check(batch(1, 0, 0, 5, 0))
	assert.ErrorIs(t, err, ErrOutOfOrderSequence)
	v, err := back.Check(batch(1, 0, 5, 5, 0))
	require.NoError(t, err)
	assert.True(t, v.Duplicate)
}

func TestDecodeSnapshotErrors(t *testing.T) {
	good := func() []byte {
		s := New()
		s.Update(batch(1, 0, 0, 2, 4))
		return s.EncodeSnapshot()
	}
	refresh := func(b []byte) []byte {
		binary.BigEndian.PutUint32(b[2:], crc32.Checksum(b[6:], crc32.MakeTable(crc32.Castagnoli)))
		return b
	}
	tests := map[string][]byte{
		"empty":         {},
		"short header":  good()[:9],
		"version 2":     func() []byte { b := good(); b[1] = 2; return b }(),
		"bad crc":       func() []byte { b := good(); b[len(b)-1] ^= 1; return b }(),
		"truncated":     refresh(good()[:len(good())-3]),
		"count too big": func() []byte { b := good(); binary.BigEndian.PutUint32(b[6:], 2); return refresh(b) }(),
		"negative count": func() []byte {
			b := good()[:10]
			binary.BigEndian.PutUint32(b[6:], math.MaxUint32)
			return refresh(b)
		}(),
		"duplicate pid": func() []byte {
			b := good()
			b = append(b, b[10:]...)
			binary.BigEndian.PutUint32(b[6:], 2)
			return refresh(b)
		}(),
		"pid -1": func() []byte { b := good(); binary.BigEndian.PutUint64(b[10:], math.MaxUint64); return refresh(b) }(),
		"negative delta": func() []byte {
			b := good()
			binary.BigEndian.PutUint32(b[10+22:], math.MaxUint32)
			return refresh(b)
		}(),
		"batch before offset 0": func() []byte {
			b := good()
			binary.BigEndian.PutUint32(b[10+22:], 1000)
			return refresh(b)
		}(),
	}
	_, err := DecodeSnapshot(good())
	require.NoError(t, err, "the base case is valid")
	for name, data := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := DecodeSnapshot(data)
			assert.ErrorIs(t, err, ErrCorruptSnapshot)
		})
	}
}

func TestSnapshotFiles(t *testing.T) {
	dir := t.TempDir()
	s := New()
	s.Update(batch(1, 0, 0, 1, 0))
	for _, off := range []int64{5, 20, 10} {
		p, err := s.WriteSnapshot(dir, off)
		require.NoError(t, err)
		assert.Equal(t, filepath.Base(p), filepath.Base(SnapshotPath(dir, off)))
	}
	assert.Equal(t, "00000000000000000020.snapshot", filepath.Base(SnapshotPath(dir, 20)))
	// Noise that is not a snapshot.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "00000000000000000099.snapshot"+checkpoint.TmpSuffix), []byte("x"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "00000000000000000000.log"), nil, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "123.snapshot"), nil, 0o644))

	offs, err := ListSnapshots(dir)
	require.NoError(t, err)
	assert.Equal(t, []int64{5, 10, 20}, offs)

	l, err := LoadLatestSnapshot(dir)
	require.NoError(t, err)
	assert.True(t, l.Found)
	assert.Equal(t, int64(20), l.Offset)
	assert.Empty(t, l.Deleted)
	assert.Equal(t, s.Entries(), l.State.Entries())

	require.NoError(t, DeleteSnapshotsAfter(dir, 10))
	offs, _ = ListSnapshots(dir)
	assert.Equal(t, []int64{5, 10}, offs)
	require.NoError(t, DeleteSnapshotsBefore(dir, 10))
	offs, _ = ListSnapshots(dir)
	assert.Equal(t, []int64{10}, offs)

	_, err = s.WriteSnapshot(dir, -1)
	assert.Error(t, err)
}

func TestLoadSkipsCorruptSnapshots(t *testing.T) {
	dir := t.TempDir()
	s := New()
	s.Update(batch(1, 0, 0, 3, 0))
	_, err := s.WriteSnapshot(dir, 3)
	require.NoError(t, err)
	s.Update(batch(1, 0, 3, 3, 3))
	_, err = s.WriteSnapshot(dir, 6)
	require.NoError(t, err)
	// The newest is torn, the one before has a flipped bit.
	require.NoError(t, os.WriteFile(SnapshotPath(dir, 9), []byte{0, 1, 2}, 0o644))
	raw, err := os.ReadFile(SnapshotPath(dir, 6))
	require.NoError(t, err)
	raw[len(raw)-5] ^= 0x10
	require.NoError(t, os.WriteFile(SnapshotPath(dir, 6), raw, 0o644))

	l, err := LoadLatestSnapshot(dir)
	require.NoError(t, err)
	require.True(t, l.Found)
	assert.Equal(t, int64(3), l.Offset)
	assert.Equal(t, []string{SnapshotPath(dir, 9), SnapshotPath(dir, 6)}, l.Deleted)
	e, ok := l.State.Entry(1)
	require.True(t, ok)
	assert.Equal(t, int32(2), e.LastSequence())
	offs, _ := ListSnapshots(dir)
	assert.Equal(t, []int64{3}, offs, "corrupt snapshots are deleted")
}

func TestLoadNoSnapshots(t *testing.T) {
	l, err := LoadLatestSnapshot(filepath.Join(t.TempDir(), "missing"))
	require.NoError(t, err)
	assert.False(t, l.Found)
	assert.Equal(t, int64(-1), l.Offset)
	assert.Equal(t, 0, l.State.Len())
}
