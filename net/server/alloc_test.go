package server

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/net/apis"
	"github.com/strom-broker/strom/net/wire"
)

// allocated returns the bytes allocated while running fn.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// decodeFrame is the server's read path without a socket: frame, header,
// body decode.
func decodeFrame(stream []byte) error {
	frame, err := wire.ReadFrame(bytes.NewReader(stream), wire.DefaultMaxFrameBytes)
	if err != nil {
		return err
	}
	hdr, body, err := wire.ParseRequestHeader(frame)
	if err != nil {
		return err
	}
	req := kmsg.RequestForKey(hdr.Key)
	req.SetVersion(hdr.Version)
	return req.ReadFrom(body)
}

// TestLyingFrameAllocation: a frame that claims far more than it carries
// costs at most a small multiple of the bytes sent.
func TestLyingFrameAllocation(t *testing.T) {
	// A 20-byte Produce v3 body claiming 2^31-1 topics.
	lying := rawFrame(apis.Produce, 3, 1, cat(produceV3Head, be32(1<<31-1)))
	var err error
	n := allocated(func() { err = decodeFrame(lying) })
	require.Error(t, err)
	assert.Less(t, n, uint64(1<<20), "allocated %d bytes for a %d-byte frame", n, len(lying))

	// A size prefix claiming the maximum frame with 10 bytes behind it.
	short := cat(be32(wire.DefaultMaxFrameBytes), make([]byte, 10))
	n = allocated(func() { _, err = wire.ReadFrame(bytes.NewReader(short), wire.DefaultMaxFrameBytes) })
	require.ErrorIs(t, err, wire.ErrTruncated)
	assert.Less(t, n, uint64(1<<20), "allocated %d bytes reading 10 of a claimed 100 MiB", n)
}

// TestKmsgBoundsEveryCount: for every key and version in the default table,
// overwrite each position of a valid request with a huge int32 count and a
// huge uvarint count, and check that decoding never allocates more than a
// small multiple of the frame (kmsg checks counts against the bytes left).
func TestKmsgBoundsEveryCount(t *testing.T) {
	huge := [][]byte{be32(1<<31 - 1), {0xff, 0xff, 0xff, 0xff, 0x07}, be32(1 << 24)}
	var worst uint64
	var worstAt string
	for _, r := range apis.Default() {
		for v := r.Min; v <= r.Max; v++ {
			req := kmsg.RequestForKey(r.Key)
			req.SetVersion(v)
			body := req.AppendTo(nil)
			body = append(body, make([]byte, 16)...) // room for a count to land
			for pos := 0; pos < len(body); pos++ {
				for _, h := range huge {
					if pos+len(h) > len(body) {
						continue
					}
					mut := append([]byte(nil), body...)
					copy(mut[pos:], h)
					f := rawFrame(r.Key, v, 1, mut)
					n := allocated(func() { _ = decodeFrame(f) })
					if n > worst {
						worst, worstAt = n, fmt.Sprintf("%s v%d pos %d", kmsg.NameForKey(r.Key), v, pos)
					}
				}
			}
		}
	}
	t.Logf("worst allocation %d bytes at %s", worst, worstAt)
	assert.Less(t, worst, uint64(1<<20), "worst at %s", worstAt)
}

// TestLargeFrameMultiple: a full-size valid frame of many tiny partitions
// allocates a bounded multiple of its size when decoded (the frame is fully
// received, so this is the multiple a client can buy with real bytes).
func TestLargeFrameMultiple(t *testing.T) {
	// Produce v3 with one topic and N partitions each with null records:
	// 4 (partition) + 4 (records -1) = 8 bytes per partition.
	const parts = 100_000
	body := cat(produceV3Head, be32(1), be16(1), []byte("t"), be32(parts))
	for i := range parts {
		body = binary.BigEndian.AppendUint32(body, uint32(i))
		body = binary.BigEndian.AppendUint32(body, 0xffffffff)
	}
	f := rawFrame(apis.Produce, 3, 1, body)
	var err error
	n := allocated(func() { err = decodeFrame(f) })
	require.NoError(t, err)
	ratio := float64(n) / float64(len(f))
	t.Logf("frame %d bytes, decode allocated %d (%.1fx)", len(f), n, ratio)
	assert.Less(t, ratio, 32.0)
}
