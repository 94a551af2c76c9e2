package wire

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// ApiVersionsKey is the API key of ApiVersions, whose response header is
// always v0.
const ApiVersionsKey = 18

// ErrUnknownKey: the request's API key is not one kmsg knows, so its header
// version cannot be determined.
var ErrUnknownKey = errors.New("wire: unknown api key")

// RequestHeader is a decoded request header (v0, v1 or v2).
type RequestHeader struct {
	// Key is the API key.
	Key int16
	// Version is the API version of the body.
	Version int16
	// CorrelationID is echoed in the response header.
	CorrelationID int32
	// ClientID is the client id (v1+); nil when null or absent.
	ClientID *string
	// HeaderVersion is 0, 1 or 2.
	HeaderVersion int8
}

// IsFlexible reports whether key at version uses the flexible (KIP-482)
// encoding. ok is false when kmsg does not know key.
func IsFlexible(key, version int16) (flexible, ok bool) {
	req := kmsg.RequestForKey(key)
	if req == nil {
		return false, false
	}
	req.SetVersion(version)
	return req.IsFlexible(), true
}

// RequestHeaderVersion is the request header version key at version uses:
// 2 for flexible versions, 1 otherwise. ok is false for an unknown key.
func RequestHeaderVersion(key, version int16) (hv int8, ok bool) {
	flex, ok := IsFlexible(key, version)
	if !ok {
		return 0, false
	}
	if flex {
		return 2, true
	}
	return 1, true
}

// ResponseHeaderFlexible reports whether the response to key at version
// carries a tagged-field section (response header v1). ApiVersions never
// does.
func ResponseHeaderFlexible(key, version int16) bool {
	if key == ApiVersionsKey {
		return false
	}
	flex, _ := IsFlexible(key, version)
	return flex
}

// ParseRequestHeader decodes the request header at the start of frame and
// returns it with the remaining body bytes (a sub-slice of frame). For an
// unknown key it returns the key, version and correlation id it could read
// together with an error wrapping ErrUnknownKey.
func ParseRequestHeader(frame []byte) (RequestHeader, []byte, error) {
	var h RequestHeader
	if len(frame) < 8 {
		return h, nil, fmt.Errorf("%w: request header needs 8 bytes, have %d", ErrTruncated, len(frame))
	}
	h.Key = int16(binary.BigEndian.Uint16(frame[0:]))
	h.Version = int16(binary.BigEndian.Uint16(frame[2:]))
	h.CorrelationID = int32(binary.BigEndian.Uint32(frame[4:]))
	rest := frame[8:]
	hv, ok := RequestHeaderVersion(h.Key, h.Version)
	if !ok {
		return h, nil, fmt.Errorf("%w: %d", ErrUnknownKey, h.Key)
	}
	h.HeaderVersion = hv
	if len(rest) < 2 {
		return h, nil, fmt.Errorf("%w: client id length", ErrTruncated)
	}
	n := int16(binary.BigEndian.Uint16(rest))
	rest = rest[2:]
	switch {
	case n == -1:
	case n < 0 || int(n) > len(rest):
		return h, nil, fmt.Errorf("%w: client id length %d with %d bytes left", ErrTruncated, n, len(rest))
	default:
		s := string(rest[:n])
		h.ClientID = &s
		rest = rest[n:]
	}
	if hv == 2 {
		var err error
		if rest, err = SkipTags(rest); err != nil {
			return h, nil, fmt.Errorf("request header tags: %w", err)
		}
	}
	return h, rest, nil
}

// SkipTags skips a tagged-field section (uvarint count, then per field a
// uvarint tag, a uvarint size and size bytes) and returns what follows.
func SkipTags(b []byte) ([]byte, error) {
	count, b, err := uvarint(b)
	if err != nil {
		return nil, err
	}
	for i := uint64(0); i < count; i++ {
		if _, b, err = uvarint(b); err != nil {
			return nil, err
		}
		var size uint64
		if size, b, err = uvarint(b); err != nil {
			return nil, err
		}
		if size > uint64(len(b)) {
			return nil, fmt.Errorf("%w: tagged field of %d bytes with %d left", ErrTruncated, size, len(b))
		}
		b = b[size:]
	}
	return b, nil
}

func uvarint(b []byte) (uint64, []byte, error) {
	v, n := binary.Uvarint(b)
	if n <= 0 || v > 1<<31 {
		return 0, nil, fmt.Errorf("%w: bad uvarint", ErrTruncated)
	}
	return v, b[n:], nil
}

// AppendRequestHeader appends a request header of the version key at
// version uses (v1 or v2) to dst.
func AppendRequestHeader(dst []byte, key, version int16, correlationID int32, clientID *string) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(key))
	dst = binary.BigEndian.AppendUint16(dst, uint16(version))
	dst = binary.BigEndian.AppendUint32(dst, uint32(correlationID))
	if clientID == nil {
		dst = binary.BigEndian.AppendUint16(dst, 0xffff)
	} else {
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(*clientID)))
		dst = append(dst, *clientID...)
	}
	if hv, _ := RequestHeaderVersion(key, version); hv == 2 {
		dst = append(dst, 0) // no tagged fields
	}
	return dst
}

// AppendResponseHeader appends a response header for correlationID: v1
// (with an empty tagged-field section) when flexible, else v0.
func AppendResponseHeader(dst []byte, correlationID int32, flexible bool) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(correlationID))
	if flexible {
		dst = append(dst, 0)
	}
	return dst
}

// StartFrame appends a 4-byte placeholder for the frame size to dst and
// returns dst with the position to pass to FinishFrame.
func StartFrame(dst []byte) ([]byte, int) {
	return append(dst, 0, 0, 0, 0), len(dst)
}

// FinishFrame writes the size of everything after the placeholder at `at`
// plus extra (bytes the caller sends separately, e.g. file slices) into the
// placeholder.
func FinishFrame(dst []byte, at int, extra int64) {
	binary.BigEndian.PutUint32(dst[at:at+4], uint32(int64(len(dst)-at-4)+extra))
}
