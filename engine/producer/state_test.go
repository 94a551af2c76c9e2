package producer

import (
	"math"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// batch builds the BatchMeta of n records of producer pid at epoch, first
// sequence seq and first offset off (timestamp = off, for easy checks).
func batch(pid int64, epoch int16, seq int32, n int32, off int64) BatchMeta {
	last := int32((int64(seq) + int64(n) - 1) % (int64(math.MaxInt32) + 1))
	return BatchMeta{
		ProducerID: pid, ProducerEpoch: epoch,
		BaseSequence: seq, LastSequence: last,
		FirstOffset: off, LastOffset: off + int64(n) - 1,
		MaxTimestamp: off,
	}
}

func txn(m BatchMeta) BatchMeta { m.Transactional = true; return m }

func TestCheck(t *testing.T) {
	const pid = 7
	tests := []struct {
		name    string
		history []BatchMeta
		check   BatchMeta
		wantDup *Batch
		wantErr error
	}{
		{"non idempotent", nil, batch(NoProducerID, -1, -1, 3, 0), nil, nil},
		{"unknown producer at 0", nil, batch(pid, 0, 0, 3, 0), nil, nil},
		{"unknown producer mid-sequence accepted (KIP-360)", nil, batch(pid, 0, 42, 3, 0), nil, nil},
		{"next in sequence", []BatchMeta{batch(pid, 0, 0, 3, 0)}, batch(pid, 0, 3, 2, 3), nil, nil},
		{"gap", []BatchMeta{batch(pid, 0, 0, 3, 0)}, batch(pid, 0, 4, 2, 3), nil, ErrOutOfOrderSequence},
		{"overlap is not a duplicate", []BatchMeta{batch(pid, 0, 0, 3, 0)}, batch(pid, 0, 1, 3, 3), nil, ErrOutOfOrderSequence},
		{"duplicate of last", []BatchMeta{batch(pid, 0, 0, 3, 0), batch(pid, 0, 3, 2, 10)}, batch(pid, 0, 3, 2, 99),
			&Batch{FirstSequence: 3, LastSequence: 4, FirstOffset: 10, LastOffset: 11, Timestamp: 10}, nil},
		{"duplicate of oldest retained", []BatchMeta{
			batch(pid, 0, 0, 1, 0), batch(pid, 0, 1, 1, 1), batch(pid, 0, 2, 1, 2), batch(pid, 0, 3, 1, 3), batch(pid, 0, 4, 1, 4)},
			batch(pid, 0, 0, 1, 50), &Batch{FirstSequence: 0, LastSequence: 0, FirstOffset: 0, LastOffset: 0, Timestamp: 0}, nil},
		{"evicted sixth-last is out of order", []BatchMeta{
			batch(pid, 0, 0, 1, 0), batch(pid, 0, 1, 1, 1), batch(pid, 0, 2, 1, 2), batch(pid, 0, 3, 1, 3), batch(pid, 0, 4, 1, 4), batch(pid, 0, 5, 1, 5)},
			batch(pid, 0, 0, 1, 50), nil, ErrOutOfOrderSequence},
		{"duplicate under another epoch is not a duplicate", []BatchMeta{batch(pid, 1, 0, 3, 0)}, batch(pid, 2, 0, 3, 5), nil, nil},
		{"older epoch fenced", []BatchMeta{batch(pid, 3, 0, 1, 0)}, batch(pid, 2, 1, 1, 1), nil, ErrInvalidProducerEpoch},
		{"older epoch duplicate still fenced", []BatchMeta{batch(pid, 2, 0, 1, 0), batch(pid, 3, 0, 1, 1)}, batch(pid, 2, 0, 1, 9), nil, ErrInvalidProducerEpoch},
		{"epoch bump at 0", []BatchMeta{batch(pid, 0, 0, 9, 0)}, batch(pid, 1, 0, 1, 9), nil, nil},
		{"epoch bump not at 0", []BatchMeta{batch(pid, 0, 0, 9, 0)}, batch(pid, 1, 9, 1, 9), nil, ErrOutOfOrderSequence},
		{"wrap at MaxInt32", []BatchMeta{batch(pid, 0, math.MaxInt32-1, 2, 0)}, batch(pid, 0, 0, 1, 2), nil, nil},
		{"no wrap to 1", []BatchMeta{batch(pid, 0, math.MaxInt32-1, 2, 0)}, batch(pid, 0, 1, 1, 2), nil, ErrOutOfOrderSequence},
		{"batch spanning the wrap", []BatchMeta{batch(pid, 0, math.MaxInt32-1, 3, 0)}, batch(pid, 0, 1, 1, 3), nil, nil},
		{"duplicate of a wrapped batch", []BatchMeta{batch(pid, 0, math.MaxInt32, 3, 0)}, batch(pid, 0, math.MaxInt32, 3, 7),
			&Batch{FirstSequence: math.MaxInt32, LastSequence: 1, FirstOffset: 0, LastOffset: 2, Timestamp: 0}, nil},
		{"non transactional inside txn", []BatchMeta{txn(batch(pid, 0, 0, 1, 0))}, batch(pid, 0, 1, 1, 1), nil, ErrInvalidTxnState},
		{"transactional inside txn", []BatchMeta{txn(batch(pid, 0, 0, 1, 0))}, txn(batch(pid, 0, 1, 1, 1)), nil, nil},
		{"other producer independent", []BatchMeta{batch(pid, 0, 0, 5, 0)}, batch(pid+1, 0, 0, 1, 5), nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := New()
			for _, h := range tc.history {
				s.Update(h)
			}
			before := s.Entries()
			v, err := s.Check(tc.check)
			assert.Equal(t, before, s.Entries(), "Check must not change state")
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			if tc.wantDup != nil {
				assert.True(t, v.Duplicate)
				assert.Equal(t, *tc.wantDup, v.Original)
			} else {
				assert.False(t, v.Duplicate)
			}
		})
	}
}

func TestUpdateRetainsFiveAndResetsOnEpoch(t *testing.T) {
	s := New()
	for i := range 8 {
		s.Update(batch(1, 0, int32(i), 1, int64(i)))
	}
	e, ok := s.Entry(1)
	require.True(t, ok)
	require.Len(t, e.Batches, NumBatchesToRetain)
	assert.Equal(t, int32(3), e.Batches[0].FirstSequence, "oldest retained is the 5th from last")
	assert.Equal(t, int32(7), e.LastSequence())

	s.Update(batch(1, 1, 0, 2, 8))
	e, _ = s.Entry(1)
	assert.Equal(t, int16(1), e.Epoch)
	assert.Len(t, e.Batches, 1, "a new epoch discards old batches")
	assert.Equal(t, int64(8), e.LastTimestamp)

	s.Update(batch(NoProducerID, -1, -1, 1, 10))
	assert.Equal(t, 1, s.Len(), "non-idempotent batches are not tracked")
}

func TestEndTxn(t *testing.T) {
	s := New()
	_, open := s.EndTxn(3, 0, 1, 5)
	assert.False(t, open)
	s.Update(txn(batch(3, 0, 0, 2, 10)))
	s.Update(txn(batch(3, 0, 2, 2, 12)))
	first, open := s.EndTxn(3, 0, 4, 20)
	assert.True(t, open)
	assert.Equal(t, int64(10), first)
	e, _ := s.Entry(3)
	assert.Equal(t, int64(-1), e.CurrentTxnFirstOffset)
	assert.Equal(t, int32(4), e.CoordinatorEpoch)
	assert.Len(t, e.Batches, 2, "same epoch keeps batches")
	_, err := s.Check(batch(3, 0, 4, 1, 14))
	assert.NoError(t, err, "non-transactional allowed after the marker")

	s.EndTxn(3, 1, 4, 21)
	e, _ = s.Entry(3)
	assert.Empty(t, e.Batches, "marker of a new epoch discards batches")
}

func TestRemoveExpired(t *testing.T) {
	s := New()
	base := time.UnixMilli(1_000_000_000)
	old := batch(1, 0, 0, 1, 0)
	old.MaxTimestamp = base.UnixMilli()
	fresh := batch(2, 0, 0, 1, 1)
	fresh.MaxTimestamp = base.Add(time.Hour).UnixMilli()
	open := txn(batch(3, 0, 0, 1, 2))
	open.MaxTimestamp = base.UnixMilli()
	s.Update(old)
	s.Update(fresh)
	s.Update(open)

	now := base.Add(DefaultProducerIDExpiration)
	assert.Equal(t, 1, s.RemoveExpired(now, DefaultProducerIDExpiration))
	_, ok := s.Entry(1)
	assert.False(t, ok, "idle a full day: expired")
	_, ok = s.Entry(2)
	assert.True(t, ok, "idle 23h: kept")
	_, ok = s.Entry(3)
	assert.True(t, ok, "open transaction: never expired")
}

func TestTruncateHead(t *testing.T) {
	s := New()
	s.Update(batch(1, 0, 0, 5, 0))  // 0-4
	s.Update(batch(2, 0, 0, 5, 5))  // 5-9
	s.Update(batch(1, 0, 5, 5, 10)) // 10-14
	s.TruncateHead(10)
	_, ok := s.Entry(2)
	assert.False(t, ok)
	e, ok := s.Entry(1)
	require.True(t, ok)
	assert.Equal(t, []Batch{{FirstSequence: 5, LastSequence: 9, FirstOffset: 10, LastOffset: 14, Timestamp: 10}}, e.Batches)
}

func TestTruncateTo(t *testing.T) {
	s := New()
	s.Update(batch(1, 0, 0, 5, 0))       // 0-4
	s.Update(txn(batch(2, 0, 0, 5, 5)))  // 5-9, opens txn at 5
	s.Update(batch(1, 0, 5, 5, 10))      // 10-14
	s.Update(txn(batch(3, 0, 0, 1, 15))) // 15
	s.TruncateTo(10)

	e, ok := s.Entry(1)
	require.True(t, ok)
	assert.Equal(t, int32(4), e.LastSequence())
	assert.Equal(t, int64(0), e.LastTimestamp)
	_, err := s.Check(batch(1, 0, 5, 5, 10))
	assert.NoError(t, err, "the truncated batch can be appended again")

	e, ok = s.Entry(2)
	require.True(t, ok)
	assert.Equal(t, int64(5), e.CurrentTxnFirstOffset, "txn opened before the cut stays open")
	_, ok = s.Entry(3)
	assert.False(t, ok, "producer only after the cut is gone")
}

func TestCloneIsDeep(t *testing.T) {
	s := New()
	s.Update(batch(1, 0, 0, 1, 0))
	c := s.Clone()
	s.Update(batch(1, 0, 1, 1, 1))
	s.TruncateHead(100)
	e, ok := c.Entry(1)
	require.True(t, ok)
	assert.Len(t, e.Batches, 1)
	assert.Equal(t, 0, s.Len())
}

func TestConcurrentUse(t *testing.T) {
	s := New()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			pid := int64(w)
			for i := range 100 {
				m := batch(pid, 0, int32(i), 1, int64(i))
				_, err := s.Check(m)
				assert.NoError(t, err)
				s.Update(m)
				s.Entries()
			}
		})
	}
	wg.Wait()
	assert.Equal(t, 4, s.Len())
	for _, e := range s.Entries() {
		assert.Equal(t, int32(99), e.LastSequence())
	}
}
