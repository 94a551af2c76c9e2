// Package wire reads and writes Kafka's framing and request/response headers.
//
// Framing: every request and response is a 4-byte big-endian size followed
// by exactly that many bytes. A request frame is
//
//	size int32 | request header | request body
//
// and a response frame is
//
//	size int32 | response header | response body.
//
// Request header v0 is api_key int16, api_version int16, correlation_id
// int32; v1 adds client_id (nullable string with an int16 length, never
// compact); v2 adds a tagged-field section. Flexible request versions
// (KIP-482) use header v2, the others v1. Response header v0 is
// correlation_id int32; v1 adds a tagged-field section and is used by
// flexible versions, except that ApiVersions responses always use v0 (so a
// client that sent a too-new ApiVersions request can still read the answer).
//
// Memory invariant: however large the size prefix claims the frame to be,
// ReadFrame allocates at most InitialFrameBuffer before any payload byte
// arrives, and at most 16 times the bytes actually received after that: the
// buffer starts at InitialFrameBuffer (or the frame's size if smaller), grows
// to FirstGrowth once that is full (16x the bytes read), then doubles only
// when full (2x), up to the claimed size; the outgrown buffers sum to less
// than the last. A FramePool (framepool.go) keeps the invariant: taking a
// pooled buffer allocates nothing, and its growth path is this one, with
// power-of-two capacities.
// These layouts are part of the Kafka wire format and must not change.
package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// DefaultMaxFrameBytes is Kafka's socket.request.max.bytes default: 100 MiB.
const DefaultMaxFrameBytes = 100 << 20

// InitialFrameBuffer is the most ReadFrame allocates before any payload
// byte has arrived, so a size prefix alone (e.g. from thousands of
// connections that then go silent) costs little.
const InitialFrameBuffer = 64 << 10

// FirstGrowth is what a frame buffer grows to once InitialFrameBuffer bytes
// have arrived (then it doubles): a typical produce request (up to a 1 MiB
// batch, Kafka's message.max.bytes) takes two allocations. Doubling from
// 64 KiB cost a 512 KiB request 1.5 MB of allocation and 0.96 MB of copying,
// a fifth of the broker's CPU for large records.
const FirstGrowth = 1 << 20

// Errors returned while reading frames and headers. They are matched with
// errors.Is; returned errors wrap them with context.
var (
	// ErrFrameTooLarge: the size prefix exceeds the configured maximum.
	ErrFrameTooLarge = errors.New("wire: frame larger than the maximum")
	// ErrNegativeFrame: the size prefix is negative.
	ErrNegativeFrame = errors.New("wire: negative frame size")
	// ErrTruncated: the stream ended inside a frame or a header ended early.
	ErrTruncated = errors.New("wire: truncated")
)

// ReadFrame reads one size-prefixed frame from r and returns its payload
// (without the size prefix). A frame whose size is negative or larger than
// max fails with ErrNegativeFrame or ErrFrameTooLarge before any payload is
// read. An io.EOF before the first byte of the size is returned as io.EOF; an
// EOF later is ErrTruncated.
//
// The returned slice is freshly allocated and owned by the caller (decoded
// requests may keep sub-slices of it).
func ReadFrame(r io.Reader, max int32) ([]byte, error) {
	size, err := ReadFrameSize(r, max)
	if err != nil {
		return nil, err
	}
	return ReadPayload(r, size)
}

// ReadFrameSize reads a frame's 4-byte size prefix and checks it against
// max, with ReadFrame's errors. With ReadPayload it lets a caller act between
// learning a frame's size and allocating for it.
func ReadFrameSize(r io.Reader, max int32) (int, error) {
	var szb [4]byte
	if n, err := io.ReadFull(r, szb[:]); err != nil {
		if err == io.EOF && n == 0 {
			return 0, io.EOF
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, fmt.Errorf("%w: frame size after %d bytes", ErrTruncated, n)
		}
		return 0, err
	}
	size := int32(binary.BigEndian.Uint32(szb[:]))
	switch {
	case size < 0:
		return 0, fmt.Errorf("%w: %d", ErrNegativeFrame, size)
	case size > max:
		return 0, fmt.Errorf("%w: %d > %d", ErrFrameTooLarge, size, max)
	}
	return int(size), nil
}

// ReadPayload reads the size bytes of a frame whose size prefix was read by
// ReadFrameSize, growing its buffer by doubling as bytes arrive (see the
// memory invariant at the top of this file); an EOF before the end is
// ErrTruncated.
func ReadPayload(r io.Reader, size int) ([]byte, error) {
	return readGrowing(r, size, size)
}

// readGrowing is ReadPayload with the buffer's capacity growing up to limit
// (>= size) instead of size; it returns the frame as buf[:size].
func readGrowing(r io.Reader, size, limit int) ([]byte, error) {
	buf := make([]byte, min(size, InitialFrameBuffer))
	got := 0
	for {
		n, err := io.ReadFull(r, buf[got:])
		got += n
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, fmt.Errorf("%w: frame of %d bytes ended after %d", ErrTruncated, size, got)
			}
			return nil, err
		}
		if got == size {
			return buf[:size], nil
		}
		next := make([]byte, min(limit, max(2*len(buf), FirstGrowth)))
		copy(next, buf[:got])
		buf = next[:min(size, len(next))]
	}
}
