package wire

import (
	"bytes"
	"math/bits"
	"math/rand/v2"
	"runtime"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func randomBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	var key [32]byte
	key[0], key[1] = byte(seed), byte(seed>>8)
	_, _ = rand.NewChaCha8(key).Read(b)
	return b
}

// readPooled reads one frame of len(payload) bytes through p, byte by byte
// for frames up to 1 MiB (framing must not depend on read sizes).
func readPooled(t *testing.T, p *FramePool, payload []byte) []byte {
	t.Helper()
	r := iotest.OneByteReader(bytes.NewReader(payload))
	if len(payload) > FirstGrowth {
		r = bytes.NewReader(payload)
	}
	got, err := p.ReadPayload(r, len(payload))
	require.NoError(t, err)
	require.Equal(t, payload, got)
	return got
}

func TestFramePoolRecycles(t *testing.T) {
	for _, size := range []int{MinPooledFrame, 512<<10 + 300, FirstGrowth, 2*FirstGrowth + 5, MaxPooledFrame} {
		var p FramePool
		first := readPooled(t, &p, randomBytes(size, uint64(size)))
		wantCap := 1 << max(bits.Len(uint(size-1)), minPoolShift)
		require.Equal(t, wantCap, cap(first), "size %d: a grown buffer gets its class's capacity", size)
		// sync.Pool may drop a Put (always under the race detector, now and
		// then), so give it many chances; every read must still be right.
		reused := false
		buf := first
		for i := 0; i < 64 && !reused; i++ {
			p.Put(buf)
			next := readPooled(t, &p, randomBytes(size, uint64(i)))
			reused = &next[:1][0] == &buf[:1][0]
			buf = next
		}
		assert.True(t, reused, "size %d: the buffer given back was never reused", size)
	}
}

func TestFramePoolUnpooledSizes(t *testing.T) {
	var p FramePool
	for _, size := range []int{0, 1, MinPooledFrame - 1, MaxPooledFrame + 1} {
		payload := randomBytes(size, 1)
		got, err := p.ReadPayload(bytes.NewReader(payload), size)
		require.NoError(t, err)
		require.Equal(t, payload, got)
		assert.Equal(t, size, cap(got), "size %d is read exactly, as ReadPayload does", size)
		p.Put(got) // ignored
	}
	p.Put(make([]byte, 0, 3<<17)) // not a power of two: ignored
	got := readPooled(t, &p, randomBytes(MinPooledFrame, 2))
	assert.Equal(t, 1<<minPoolShift, cap(got))
}

func TestFramePoolTruncated(t *testing.T) {
	const size = 300 << 10
	var p FramePool
	payload := randomBytes(size, 3)
	_, err := p.ReadPayload(bytes.NewReader(payload[:size-1]), size) // empty pool: grows
	require.ErrorIs(t, err, ErrTruncated)

	buf := readPooled(t, &p, payload)
	for range 64 { // with a pooled buffer (see TestFramePoolRecycles on sync.Pool)
		p.Put(buf)
		_, err = p.ReadPayload(bytes.NewReader(payload[:10]), size)
		require.ErrorIs(t, err, ErrTruncated)
		buf = readPooled(t, &p, payload)
	}
}

// TestFramePoolAllocation: a size prefix claiming the largest pooled frame,
// followed by a few bytes, costs about InitialFrameBuffer (the memory
// invariant of frame.go), pool or not.
func TestFramePoolAllocation(t *testing.T) {
	var p FramePool
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	_, err := p.ReadPayload(bytes.NewReader(make([]byte, 1000)), MaxPooledFrame)
	runtime.ReadMemStats(&ms1)
	require.ErrorIs(t, err, ErrTruncated)
	assert.LessOrEqual(t, ms1.TotalAlloc-ms0.TotalAlloc, uint64(InitialFrameBuffer+4096))
}
