package wire

import (
	"bytes"
	"encoding/binary"
	"io"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func sized(payload []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(payload))), payload...)
}

func TestReadFrame(t *testing.T) {
	big := bytes.Repeat([]byte{7}, 2*FirstGrowth+5) // forces both kinds of growth
	for _, tc := range []struct {
		name    string
		stream  []byte
		max     int32
		want    []byte
		wantErr error
	}{
		{"empty frame", sized(nil), 100, []byte{}, nil},
		{"small", sized([]byte("hello")), 100, []byte("hello"), nil},
		{"grows to fit", sized(big), 1 << 30, big, nil},
		{"exactly max", sized([]byte("12345")), 5, []byte("12345"), nil},
		{"over max", sized([]byte("123456")), 5, nil, ErrFrameTooLarge},
		{"negative", []byte{0xff, 0xff, 0xff, 0xfe}, 100, nil, ErrNegativeFrame},
		{"eof before size", nil, 100, nil, io.EOF},
		{"eof inside size", []byte{0, 0}, 100, nil, ErrTruncated},
		{"eof inside payload", sized([]byte("hello"))[:7], 100, nil, ErrTruncated},
		{"eof inside grown payload", sized(big)[:len(big)-1], 1 << 30, nil, ErrTruncated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// One byte per Read: framing must not depend on read sizes.
			got, err := ReadFrame(iotest.OneByteReader(bytes.NewReader(tc.stream)), tc.max)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestRequestHeaderRoundTrip(t *testing.T) {
	id := "client-1"
	for _, tc := range []struct {
		key, version int16
		clientID     *string
		wantHV       int8
	}{
		{3, 0, &id, 1},
		{3, 8, nil, 1},
		{3, 9, &id, 2},
		{0, 9, &id, 2},
		{18, 2, &id, 1},
		{18, 3, &id, 2},
		{18, 127, nil, 2}, // too-new ApiVersions: header v2, like Kafka
	} {
		b := AppendRequestHeader(nil, tc.key, tc.version, 42, tc.clientID)
		b = append(b, "body"...)
		h, body, err := ParseRequestHeader(b)
		require.NoError(t, err)
		assert.Equal(t, RequestHeader{Key: tc.key, Version: tc.version, CorrelationID: 42, ClientID: tc.clientID, HeaderVersion: tc.wantHV}, h)
		assert.Equal(t, []byte("body"), body)
	}
}

func TestRequestHeaderTags(t *testing.T) {
	b := AppendRequestHeader(nil, 3, 12, 1, nil)
	b = b[:len(b)-1]                            // drop the empty tag section
	b = append(b, 2, 0, 3, 'a', 'b', 'c', 5, 0) // two tagged fields
	b = append(b, "body"...)
	_, body, err := ParseRequestHeader(b)
	require.NoError(t, err)
	assert.Equal(t, []byte("body"), body)
}

func TestRequestHeaderErrors(t *testing.T) {
	for name, b := range map[string][]byte{
		"short":            {0, 3, 0},
		"unknown key":      {0x03, 0xe7, 0, 0, 0, 0, 0, 1, 0xff, 0xff},
		"no client id len": {0, 3, 0, 1, 0, 0, 0, 1},
		"client id long":   {0, 3, 0, 1, 0, 0, 0, 1, 0, 9, 'a'},
		"client id -2":     {0, 3, 0, 1, 0, 0, 0, 1, 0xff, 0xfe},
		"tag too long":     {0, 3, 0, 12, 0, 0, 0, 1, 0xff, 0xff, 1, 0, 50, 'x'},
		"tag bad varint":   {0, 3, 0, 12, 0, 0, 0, 1, 0xff, 0xff, 0xff},
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := ParseRequestHeader(b)
			require.Error(t, err)
		})
	}
	_, _, err := ParseRequestHeader([]byte{0x03, 0xe7, 0, 0, 0, 0, 0, 1})
	require.ErrorIs(t, err, ErrUnknownKey)
}

func TestResponseHeader(t *testing.T) {
	assert.False(t, ResponseHeaderFlexible(18, 4), "ApiVersions always v0")
	assert.True(t, ResponseHeaderFlexible(3, 9))
	assert.False(t, ResponseHeaderFlexible(3, 8))
	assert.Equal(t, []byte{0, 0, 0, 9, 0}, AppendResponseHeader(nil, 9, true))
	assert.Equal(t, []byte{0, 0, 0, 9}, AppendResponseHeader(nil, 9, false))

	buf, at := StartFrame([]byte("xx"))
	buf = append(buf, "abc"...)
	FinishFrame(buf, at, 10)
	assert.Equal(t, uint32(13), binary.BigEndian.Uint32(buf[2:]))
	// The same flexibility rule as kmsg's requests.
	req := kmsg.NewPtrFetchRequest()
	req.Version = 12
	flex, ok := IsFlexible(1, 12)
	assert.True(t, ok)
	assert.Equal(t, req.IsFlexible(), flex)
}
