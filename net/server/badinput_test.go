package server

import (
	"context"
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/net/apis"
	"github.com/strom-broker/strom/net/wire"
)

// rawFrame builds a frame from a request header and raw body bytes.
func rawFrame(key, version int16, corr int32, body []byte) []byte {
	buf, at := wire.StartFrame(nil)
	buf = wire.AppendRequestHeader(buf, key, version, corr, nil)
	buf = append(buf, body...)
	wire.FinishFrame(buf, at, 0)
	return buf
}

func be16(v int16) []byte { return binary.BigEndian.AppendUint16(nil, uint16(v)) }
func be32(v int32) []byte { return binary.BigEndian.AppendUint32(nil, uint32(v)) }

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// produceV3Head is a Produce v3 body up to its topics array: null
// transactional id, acks 1, timeout 1000.
var produceV3Head = cat(be16(-1), be16(1), be32(1000))

// TestBadInput sends each kind of bad input on its own connection and
// checks that that connection is closed (or, where Kafka's protocol allows,
// answered) while a second connection keeps getting answers.
func TestBadInput(t *testing.T) {
	h := funcHandler{fn: func(_ context.Context, req *Request) (Response, error) {
		if req.Key == apis.Produce {
			return req.Body.ResponseKind(), nil
		}
		return echoMetadata(req), nil
	}}
	s, addr := start(t, Config{MaxRequestBytes: 1 << 20}, h)
	good := dial(t, addr)

	type outcome int
	const (
		closed outcome = iota
		answered
	)
	for i, tc := range []struct {
		name  string
		bytes []byte
		half  bool // close our write side after sending
		want  outcome
	}{
		{name: "unknown api key", bytes: rawFrame(0, 3, 1, nil)[:0], want: closed}, // replaced below
		{name: "version beyond the table", bytes: rawFrame(apis.Metadata, 99, 1, nil), want: closed},
		{name: "key not in the table", bytes: rawFrame(60 /* DescribeCluster */, 0, 1, []byte{0, 0}), want: closed},
		{name: "truncated frame", bytes: cat(be32(100), make([]byte, 50)), half: true, want: closed},
		{name: "frame over the limit", bytes: be32(1<<20 + 1), want: closed},
		{name: "negative frame length", bytes: be32(-7), want: closed},
		{name: "frame shorter than a header", bytes: cat(be32(3), []byte{0, 3, 0}), want: closed},
		{name: "client id longer than the frame", bytes: cat(be32(10), be16(3), be16(1), be32(1), be16(500)), want: closed},
		{name: "string longer than the rest", bytes: rawFrame(apis.Metadata, 1, 1, cat(be32(1), be16(1000), []byte("abc"))), want: closed},
		{name: "huge array count in a tiny frame", bytes: rawFrame(apis.Produce, 3, 1, cat(produceV3Head, be32(1<<31-1))), want: closed},
		{name: "huge compact array count", bytes: rawFrame(apis.Produce, 9, 1, []byte{0, 0, 1, 0, 0, 3, 0xe8, 0xff, 0xff, 0xff, 0xff, 0x07}), want: closed},
		{name: "truncated flexible header tags", bytes: rawFrame(apis.Metadata, 9, 1, nil)[:0], want: closed}, // replaced below
		// kmsg reads a negative non-null array count as an empty array
		// (Kafka rejects it); nothing is allocated and the request is
		// answered as if empty.
		{name: "negative array length", bytes: rawFrame(apis.Produce, 3, 1, cat(produceV3Head, be32(-5))), want: answered},
		// Kafka's parser (2.x RequestContext) ignores bytes after a
		// complete body; so do we.
		{name: "garbage after a valid body", bytes: cat(frameWithTrailer(metadata(1), 1, []byte("trailing garbage"))), want: answered},
	} {
		switch tc.name {
		case "unknown api key":
			tc.bytes = cat(be32(10), be16(999), be16(0), be32(1), be16(-1))
		case "truncated flexible header tags":
			// Metadata v9 uses header v2; claim one tagged field of 100 bytes.
			tc.bytes = cat(be32(15), be16(apis.Metadata), be16(9), be32(1), be16(-1), []byte{1, 0, 100}, be16(0))
		}
		t.Run(tc.name, func(t *testing.T) {
			bad := dial(t, addr)
			bad.sendRaw(tc.bytes)
			if tc.half {
				require.NoError(t, bad.Conn.(interface{ CloseWrite() error }).CloseWrite())
			}
			if tc.want == answered {
				corr, _ := bad.recv(int16(binary.BigEndian.Uint16(tc.bytes[4:])), int16(binary.BigEndian.Uint16(tc.bytes[6:])))
				assert.Equal(t, int32(1), corr)
				bad.roundTrip(2)
			} else {
				bad.expectClosed()
			}
			good.roundTrip(int32(1000 + i))
		})
	}
	assert.Positive(t, s.Stats().ConnectionsAccepted)
}

func frameWithTrailer(req kmsg.Request, corr int32, trailer []byte) []byte {
	f := frame(req, corr)
	f = append(f, trailer...)
	binary.BigEndian.PutUint32(f, uint32(len(f)-4))
	return f
}
