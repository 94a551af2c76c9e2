package fuzz

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strom-broker/strom/net/wire"
)

// fuzzMaxFrame is the frame limit FuzzReadFrame runs with: small enough
// that the fuzzer reaches "too large" often, large enough for every seed.
const fuzzMaxFrame = 1 << 20

// FuzzReadFrame: a frame is returned exactly when the input holds a size
// in 0..max followed by that many bytes; every other input fails with the
// matching sentinel; reading byte by byte gives the same answer; and the
// reader never allocates much beyond the bytes it was given.
func FuzzReadFrame(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		var (
			payload []byte
			err     error
			r       = bytes.NewReader(data)
		)
		alloc := allocated(func() { payload, err = wire.ReadFrame(r, fuzzMaxFrame) })
		bound := uint64(wire.InitialFrameBuffer + 16*len(data) + 4096) // the memory invariant in net/wire
		require.LessOrEqual(t, alloc, bound, "allocated %d bytes for %d input bytes", alloc, len(data))

		p1, err1 := wire.ReadFrame(iotest.OneByteReader(bytes.NewReader(data)), fuzzMaxFrame)
		assert.Equal(t, payload, p1)
		assert.Equal(t, err == nil, err1 == nil, "byte-by-byte reading disagrees: %v vs %v", err, err1)

		// A FramePool reads the same, empty or holding a buffer (given back
		// dirty, as a server does after a request), within the same bound.
		var pool wire.FramePool
		for i := range 2 {
			r := bytes.NewReader(data)
			var p2 []byte
			var err2 error
			alloc := allocated(func() {
				if size, err := wire.ReadFrameSize(r, fuzzMaxFrame); err == nil {
					p2, err2 = pool.ReadPayload(r, size)
				} else {
					err2 = err
				}
			})
			require.LessOrEqual(t, alloc, bound, "pooled read %d allocated %d bytes for %d input bytes", i, alloc, len(data))
			assert.Equal(t, payload, p2, "pooled read %d", i)
			assert.Equal(t, err == nil, err2 == nil, "pooled read %d disagrees: %v vs %v", i, err, err2)
			for j := range p2 {
				p2[j] ^= 0xff
			}
			pool.Put(p2)
		}

		switch {
		case len(data) == 0:
			require.ErrorIs(t, err, io.EOF)
			return
		case len(data) < 4:
			require.ErrorIs(t, err, wire.ErrTruncated)
			return
		}
		size := int32(binary.BigEndian.Uint32(data))
		switch {
		case size < 0:
			require.ErrorIs(t, err, wire.ErrNegativeFrame)
		case size > fuzzMaxFrame:
			require.ErrorIs(t, err, wire.ErrFrameTooLarge)
		case int(size) > len(data)-4:
			require.ErrorIs(t, err, wire.ErrTruncated)
		default:
			require.NoError(t, err)
			require.Equal(t, data[4:4+size], payload)
			require.Equal(t, len(data)-4-int(size), r.Len(), "read past the frame")
		}
		if err != nil {
			require.Nil(t, payload)
			require.True(t, errors.Is(err, io.EOF) || errors.Is(err, wire.ErrTruncated) ||
				errors.Is(err, wire.ErrNegativeFrame) || errors.Is(err, wire.ErrFrameTooLarge), "unexpected error %v", err)
		}
	})
}

// FuzzParseRequestHeader: a parsed header re-encodes (with the body it
// returned) into a frame that parses to the same header and body; the body
// is a suffix of the frame; the header version is the key's.
func FuzzParseRequestHeader(f *testing.F) {
	f.Fuzz(func(t *testing.T, frame []byte) {
		h, body, err := wire.ParseRequestHeader(frame)
		if len(frame) < 8 {
			require.ErrorIs(t, err, wire.ErrTruncated)
		}
		if err != nil {
			return
		}
		require.True(t, bytes.HasSuffix(frame, body))
		hv, ok := wire.RequestHeaderVersion(h.Key, h.Version)
		require.True(t, ok)
		require.Equal(t, hv, h.HeaderVersion)

		again := wire.AppendRequestHeader(nil, h.Key, h.Version, h.CorrelationID, h.ClientID)
		again = append(again, body...)
		h2, body2, err := wire.ParseRequestHeader(again)
		require.NoError(t, err)
		require.Equal(t, h, h2)
		require.Equal(t, body, body2)
	})
}
