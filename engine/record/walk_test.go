package record

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The record walk has a fast path (skipRecordFast, yes or no) and a slow
// one (skipRecord, with errors). walkRecords trusts a yes from the fast
// path and asks the slow one only after a no, so the two must agree on
// every input: the fast path must never accept what the slow path rejects
// (that would let a malformed record into the log) and never reject what
// it accepts (that would refuse a good batch). These tests generate
// records of every shape, break them in every way, and compare.

// genVarint appends the zig-zag varint of v, sometimes in a longer,
// non-canonical form (continuation bytes of zero bits), which Kafka's
// reader accepts as long as it fits.
func genVarint(r *rand.Rand, dst []byte, v int64, maxLen int) []byte {
	enc := binary.AppendVarint(nil, v)
	if r.IntN(20) == 0 && len(enc) < maxLen {
		enc[len(enc)-1] |= 0x80
		enc = append(enc, 0)
	}
	return append(dst, enc...)
}

// genLen picks a field length: small ones most of the time, ones with
// two- and three-byte varints sometimes.
func genLen(r *rand.Rand) int {
	switch r.IntN(8) {
	case 0:
		return r.IntN(20000) // three-byte lengths
	case 1:
		return 60 + r.IntN(10) // around the one/two-byte boundary
	default:
		return r.IntN(120)
	}
}

// genRecord returns a well-formed record (length prefix included) whose
// offsetDelta is delta.
func genRecord(r *rand.Rand, delta int32) []byte {
	body := []byte{byte(r.IntN(256))}
	ts := []int64{0, 1, -1, 1000, r.Int64N(1 << 40), -r.Int64N(1 << 40), math.MaxInt64, math.MinInt64}
	body = genVarint(r, body, ts[r.IntN(len(ts))], 10)
	body = genVarint(r, body, int64(delta), 5)
	field := func(nullable bool) {
		if nullable && r.IntN(4) == 0 {
			body = genVarint(r, body, -1, 5)
			return
		}
		n := genLen(r)
		body = genVarint(r, body, int64(n), 5)
		body = append(body, make([]byte, n)...)
	}
	field(true) // key
	field(true) // value
	nh := 0
	if r.IntN(3) == 0 {
		nh = r.IntN(4)
	}
	body = genVarint(r, body, int64(nh), 5)
	for range nh {
		field(false)
		field(true)
	}
	return append(genVarint(r, nil, int64(len(body)), 5), body...)
}

// corrupt breaks b in one of several ways (or not at all).
func corrupt(r *rand.Rand, b []byte) []byte {
	b = append([]byte(nil), b...)
	switch r.IntN(7) {
	case 0:
		return b
	case 1: // flip a byte near the start, where the varints are
		i := r.IntN(min(len(b), 16))
		b[i] = byte(r.IntN(256))
	case 2: // flip any byte
		b[r.IntN(len(b))] ^= byte(1 + r.IntN(255))
	case 3: // truncate
		b = b[:r.IntN(len(b))]
	case 4: // insert a byte
		i := r.IntN(len(b) + 1)
		b = append(b[:i], append([]byte{byte(r.IntN(256))}, b[i:]...)...)
	case 5: // set a high bit (lengthens a varint)
		b[r.IntN(min(len(b), 24))] |= 0x80
	case 6: // change the length prefix by one
		l, n := binary.Varint(b)
		if n > 0 {
			b = append(binary.AppendVarint(nil, l+int64(r.IntN(3))-1), b[n:]...)
		}
	}
	return b
}

// requireAgree checks that the fast and slow paths agree on the record at
// b[pos:] with offset delta want.
func requireAgree(t *testing.T, b []byte, pos int, want int32) {
	t.Helper()
	fast := skipRecordFast(b, pos, want)
	slow, err := skipRecord(b, pos, want)
	if err != nil {
		require.Equal(t, -1, fast, "fast path accepts a record the slow path rejects (%v): %x", err, b[pos:])
		require.ErrorIs(t, err, ErrCorrupt)
		return
	}
	require.Equal(t, slow, fast, "fast path ends the record elsewhere (or rejects it): %x", b[pos:])
}

func TestWalkFastSlowAgree(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	accepted := 0
	for range 8000 {
		delta := int32(r.IntN(3))
		switch r.IntN(4) {
		case 0:
			delta = int32(r.IntN(1 << 20)) // two- and three-byte deltas
		case 1:
			delta = int32(8190 + r.IntN(4)) // around the two/three-byte boundary
		}
		want := delta
		if r.IntN(10) == 0 {
			want = delta + 1
		}
		b := corrupt(r, genRecord(r, delta))
		// Sometimes with bytes after the record, as inside a batch.
		if r.IntN(2) == 0 {
			b = append(b, genRecord(r, delta+1)...)
		}
		if len(b) == 0 {
			continue
		}
		requireAgree(t, b, 0, want)
		if _, err := skipRecord(b, 0, want); err == nil {
			accepted++
		}
	}
	// Both outcomes must have been exercised for the comparison to mean anything.
	assert.Greater(t, accepted, 800)
	assert.Less(t, accepted, 7200)
}

// TestWalkRecordsMatchesSlowWalk compares walkRecords with a walk that uses
// only the slow path, on whole record regions, valid and broken.
func TestWalkRecordsMatchesSlowWalk(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	slowWalk := func(recs []byte, count int32) error {
		pos := 0
		for i := range count {
			if pos >= len(recs) {
				return ErrRecordCountMismatch
			}
			end, err := skipRecord(recs, pos, i)
			if err != nil {
				return err
			}
			pos = end
		}
		if pos != len(recs) {
			return ErrTrailingBytes
		}
		return nil
	}
	valid := 0
	for range 1000 {
		n := 1 + r.IntN(20)
		var recs []byte
		for i := range n {
			recs = append(recs, genRecord(r, int32(i))...)
		}
		recs = corrupt(r, recs)
		count := int32(n)
		if r.IntN(10) == 0 {
			count += int32(r.IntN(3)) - 1
		}
		want := slowWalk(recs, count)
		got := walkRecords(recs, count)
		require.Equal(t, want == nil, got == nil, "slow walk %v, walkRecords %v: %x", want, got, recs)
		if got != nil {
			require.ErrorIs(t, got, ErrCorrupt)
			require.NotContains(t, got.Error(), "cannot happen")
		} else {
			valid++
		}
	}
	assert.Greater(t, valid, 100)
}

// FuzzSkipRecordFast: on any bytes, the fast path accepts a record exactly
// when the slow path does, and ends it at the same place.
func FuzzSkipRecordFast(f *testing.F) {
	r := rand.New(rand.NewPCG(5, 6))
	for i := range 16 {
		f.Add(genRecord(r, int32(i)), uint32(i))
	}
	f.Add([]byte{0x02, 0x00}, uint32(0))
	f.Fuzz(func(t *testing.T, b []byte, want uint32) {
		if len(b) == 0 {
			return
		}
		requireAgree(t, b, 0, int32(want>>1))
	})
}
