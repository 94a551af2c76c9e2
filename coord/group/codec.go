package group

// Codecs of the records in __consumer_offsets, byte for byte in Kafka's
// layout. Every key and value starts with an int16 version. Keys:
//
//	version 0 or 1  OffsetCommitKey    group string, topic string, partition int32
//	version 2       GroupMetadataKey   group string
//
// OffsetCommitValue (versions 0-4, 4 flexible):
//
//	offset int64, leaderEpoch int32 (v3+), metadata string,
//	commitTimestamp int64, expireTimestamp int64 (v1 only)
//
// GroupMetadataValue (versions 0-4, 4 flexible):
//
//	protocolType string, generation int32, protocol nullable string,
//	leader nullable string, currentStateTimestamp int64 (v2+),
//	members array of: memberId string, groupInstanceId nullable string (v3+),
//	clientId string, clientHost string, rebalanceTimeout int32 (v1+),
//	sessionTimeout int32, subscription bytes, assignment bytes
//
// Non-flexible versions use int16-length strings (-1 = null), int32-length
// bytes and int32 array counts; flexible ones use unsigned-varint lengths
// plus one (0 = null) and end every struct with a tagged-field section,
// which the decoder skips. A null record value is a tombstone.
//
// The coordinator writes offset keys at version 1, offset values at version
// 3 (version 1 when the commit carried an explicit retention, the only
// version with expireTimestamp), group keys at version 2 and group values at
// version 3, as Kafka 2.3 through 3.x do. These layouts are part of the
// on-disk format and must not be changed.

import (
	"encoding/binary"
	"fmt"
)

// Record key versions (they double as the record type).
const (
	offsetKeyVersion0 int16 = 0
	offsetKeyVersion1 int16 = 1
	groupKeyVersion   int16 = 2
)

// Value versions written.
const (
	offsetValueVersion           int16 = 3
	offsetValueVersionWithExpiry int16 = 1
	groupValueVersion            int16 = 3
	maxValueVersion              int16 = 4
)

// Key is a decoded __consumer_offsets record key: an offset commit key
// (IsGroup false) or a group metadata key (IsGroup true, Topic empty).
type Key struct {
	IsGroup   bool
	Group     string
	Topic     string
	Partition int32
}

// OffsetValue is a decoded OffsetCommitValue. LeaderEpoch is -1 when
// unknown; ExpireTimestamp is -1 unless the commit carried a retention.
type OffsetValue struct {
	Offset          int64
	LeaderEpoch     int32
	Metadata        string
	CommitTimestamp int64
	ExpireTimestamp int64
}

// GroupValue is a decoded GroupMetadataValue. Protocol and Leader are nil
// when null; CurrentStateTimestamp is -1 when absent.
type GroupValue struct {
	ProtocolType          string
	Generation            int32
	Protocol              *string
	Leader                *string
	CurrentStateTimestamp int64
	Members               []MemberValue
}

// MemberValue is one member of a GroupMetadataValue.
type MemberValue struct {
	MemberID         string
	GroupInstanceID  *string
	ClientID         string
	ClientHost       string
	RebalanceTimeout int32
	SessionTimeout   int32
	Subscription     []byte
	Assignment       []byte
}

// EncodeOffsetKey returns the version-1 OffsetCommitKey of (group, topic,
// partition).
func EncodeOffsetKey(group, topic string, partition int32) []byte {
	b := make([]byte, 0, 2+2+len(group)+2+len(topic)+4)
	b = binary.BigEndian.AppendUint16(b, uint16(offsetKeyVersion1))
	b = appendString(b, group)
	b = appendString(b, topic)
	return binary.BigEndian.AppendUint32(b, uint32(partition))
}

// EncodeGroupKey returns the version-2 GroupMetadataKey of group.
func EncodeGroupKey(group string) []byte {
	b := make([]byte, 0, 2+2+len(group))
	b = binary.BigEndian.AppendUint16(b, uint16(groupKeyVersion))
	return appendString(b, group)
}

// DecodeKey decodes a record key of either kind.
func DecodeKey(b []byte) (Key, error) {
	r := reader{b: b}
	v := r.int16()
	var k Key
	switch v {
	case offsetKeyVersion0, offsetKeyVersion1:
		k.Group = r.string(false)
		k.Topic = r.string(false)
		k.Partition = r.int32()
	case groupKeyVersion:
		k.IsGroup = true
		k.Group = r.string(false)
	default:
		if r.err == nil {
			return Key{}, fmt.Errorf("%w: unknown key version %d", ErrBadRecord, v)
		}
	}
	if err := r.done("key"); err != nil {
		return Key{}, err
	}
	return k, nil
}

// EncodeOffsetValue encodes v at version 3, or at version 1 when
// v.ExpireTimestamp >= 0 (the leader epoch is then not kept).
func EncodeOffsetValue(v OffsetValue) []byte {
	b := make([]byte, 0, 2+8+4+2+len(v.Metadata)+8+8)
	if v.ExpireTimestamp >= 0 {
		b = binary.BigEndian.AppendUint16(b, uint16(offsetValueVersionWithExpiry))
		b = binary.BigEndian.AppendUint64(b, uint64(v.Offset))
		b = appendString(b, v.Metadata)
		b = binary.BigEndian.AppendUint64(b, uint64(v.CommitTimestamp))
		return binary.BigEndian.AppendUint64(b, uint64(v.ExpireTimestamp))
	}
	b = binary.BigEndian.AppendUint16(b, uint16(offsetValueVersion))
	b = binary.BigEndian.AppendUint64(b, uint64(v.Offset))
	b = binary.BigEndian.AppendUint32(b, uint32(v.LeaderEpoch))
	b = appendString(b, v.Metadata)
	return binary.BigEndian.AppendUint64(b, uint64(v.CommitTimestamp))
}

// DecodeOffsetValue decodes an OffsetCommitValue of versions 0-4.
func DecodeOffsetValue(b []byte) (OffsetValue, error) {
	r := reader{b: b}
	ver := r.int16()
	if r.err == nil && (ver < 0 || ver > maxValueVersion) {
		return OffsetValue{}, fmt.Errorf("%w: unknown offset value version %d", ErrBadRecord, ver)
	}
	flex := ver >= 4
	v := OffsetValue{LeaderEpoch: -1, ExpireTimestamp: -1}
	v.Offset = r.int64()
	if ver >= 3 {
		v.LeaderEpoch = r.int32()
	}
	v.Metadata = r.string(flex)
	v.CommitTimestamp = r.int64()
	if ver == 1 {
		v.ExpireTimestamp = r.int64()
	}
	if flex {
		r.skipTags()
	}
	if err := r.done("offset value"); err != nil {
		return OffsetValue{}, err
	}
	return v, nil
}

// EncodeGroupValue encodes v at version 3.
func EncodeGroupValue(v GroupValue) []byte {
	n := 2 + 2 + len(v.ProtocolType) + 4 + 2 + 2 + 8 + 4
	if v.Protocol != nil {
		n += len(*v.Protocol)
	}
	if v.Leader != nil {
		n += len(*v.Leader)
	}
	for i := range v.Members {
		m := &v.Members[i]
		n += 2 + len(m.MemberID) + 2 + 2 + len(m.ClientID) + 2 + len(m.ClientHost) + 4 + 4 +
			4 + len(m.Subscription) + 4 + len(m.Assignment)
		if m.GroupInstanceID != nil {
			n += len(*m.GroupInstanceID)
		}
	}
	b := make([]byte, 0, n)
	b = binary.BigEndian.AppendUint16(b, uint16(groupValueVersion))
	b = appendString(b, v.ProtocolType)
	b = binary.BigEndian.AppendUint32(b, uint32(v.Generation))
	b = appendNullableString(b, v.Protocol)
	b = appendNullableString(b, v.Leader)
	b = binary.BigEndian.AppendUint64(b, uint64(v.CurrentStateTimestamp))
	b = binary.BigEndian.AppendUint32(b, uint32(len(v.Members)))
	for i := range v.Members {
		m := &v.Members[i]
		b = appendString(b, m.MemberID)
		b = appendNullableString(b, m.GroupInstanceID)
		b = appendString(b, m.ClientID)
		b = appendString(b, m.ClientHost)
		b = binary.BigEndian.AppendUint32(b, uint32(m.RebalanceTimeout))
		b = binary.BigEndian.AppendUint32(b, uint32(m.SessionTimeout))
		b = appendBytes(b, m.Subscription)
		b = appendBytes(b, m.Assignment)
	}
	return b
}

// DecodeGroupValue decodes a GroupMetadataValue of versions 0-4. Byte
// fields alias b.
func DecodeGroupValue(b []byte) (GroupValue, error) {
	r := reader{b: b}
	ver := r.int16()
	if r.err == nil && (ver < 0 || ver > maxValueVersion) {
		return GroupValue{}, fmt.Errorf("%w: unknown group value version %d", ErrBadRecord, ver)
	}
	flex := ver >= 4
	v := GroupValue{CurrentStateTimestamp: -1}
	v.ProtocolType = r.string(flex)
	v.Generation = r.int32()
	v.Protocol = r.nullableString(flex)
	v.Leader = r.nullableString(flex)
	if ver >= 2 {
		v.CurrentStateTimestamp = r.int64()
	}
	n := r.arrayLen(flex, 2+2+2+4+4+4)
	if n > 0 {
		v.Members = make([]MemberValue, n)
	}
	for i := 0; i < n && r.err == nil; i++ {
		m := &v.Members[i]
		m.MemberID = r.string(flex)
		if ver >= 3 {
			m.GroupInstanceID = r.nullableString(flex)
		}
		m.ClientID = r.string(flex)
		m.ClientHost = r.string(flex)
		if ver >= 1 {
			m.RebalanceTimeout = r.int32()
		}
		m.SessionTimeout = r.int32()
		if ver == 0 {
			m.RebalanceTimeout = m.SessionTimeout
		}
		m.Subscription = r.bytes(flex)
		m.Assignment = r.bytes(flex)
		if flex {
			r.skipTags()
		}
	}
	if flex {
		r.skipTags()
	}
	if err := r.done("group value"); err != nil {
		return GroupValue{}, err
	}
	return v, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

func appendNullableString(b []byte, s *string) []byte {
	if s == nil {
		return binary.BigEndian.AppendUint16(b, 0xffff)
	}
	return appendString(b, *s)
}

func appendBytes(b, v []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
	return append(b, v...)
}

// reader decodes big-endian fields with bounds checks; the first error
// sticks and every later read returns zero values.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", ErrBadRecord, what)
	}
	r.b = nil
}

func (r *reader) take(n int, what string) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.fail("short " + what)
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) int16() int16 {
	if v := r.take(2, "int16"); v != nil {
		return int16(binary.BigEndian.Uint16(v))
	}
	return 0
}

func (r *reader) int32() int32 {
	if v := r.take(4, "int32"); v != nil {
		return int32(binary.BigEndian.Uint32(v))
	}
	return 0
}

func (r *reader) int64() int64 {
	if v := r.take(8, "int64"); v != nil {
		return int64(binary.BigEndian.Uint64(v))
	}
	return 0
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 || v > 1<<31 {
		r.fail("bad uvarint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

// length reads a string/bytes length: -1 means null.
func (r *reader) length(flex, long bool) int {
	switch {
	case flex:
		return int(r.uvarint()) - 1
	case long:
		return int(r.int32())
	default:
		return int(r.int16())
	}
}

func (r *reader) nullableString(flex bool) *string {
	n := r.length(flex, false)
	if r.err != nil || n == -1 {
		return nil
	}
	if n < -1 {
		r.fail("negative string length")
		return nil
	}
	s := string(r.take(n, "string"))
	if r.err != nil {
		return nil
	}
	return &s
}

func (r *reader) string(flex bool) string {
	s := r.nullableString(flex)
	if s == nil {
		if r.err == nil {
			r.fail("null string")
		}
		return ""
	}
	return *s
}

func (r *reader) bytes(flex bool) []byte {
	n := r.length(flex, true)
	if r.err != nil {
		return nil
	}
	if n == -1 {
		return nil
	}
	if n < -1 {
		r.fail("negative bytes length")
		return nil
	}
	v := r.take(n, "bytes")
	if v == nil && r.err == nil {
		v = []byte{}
	}
	return v
}

// arrayLen reads an array count and checks it against the bytes left,
// given the smallest encoding of one element.
func (r *reader) arrayLen(flex bool, minElem int) int {
	var n int
	if flex {
		n = int(r.uvarint()) - 1
	} else {
		n = int(r.int32())
	}
	if r.err != nil {
		return 0
	}
	if n < 0 || n*minElem > len(r.b) {
		r.fail("bad array length")
		return 0
	}
	return n
}

func (r *reader) skipTags() {
	n := int(r.uvarint())
	for i := 0; i < n && r.err == nil; i++ {
		r.uvarint() // tag
		size := int(r.uvarint())
		r.take(size, "tagged field")
	}
}

func (r *reader) done(what string) error {
	if r.err != nil {
		return fmt.Errorf("%s: %w", what, r.err)
	}
	if len(r.b) != 0 {
		return fmt.Errorf("%s: %w: %d trailing bytes", what, ErrBadRecord, len(r.b))
	}
	return nil
}
