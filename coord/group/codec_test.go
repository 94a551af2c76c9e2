package group

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func strp(s string) *string { return &s }

// be builds big-endian bytes by hand, field by field, from the layout.
type be []byte

func (b be) i16(v int16) be    { return binary.BigEndian.AppendUint16(b, uint16(v)) }
func (b be) i32(v int32) be    { return binary.BigEndian.AppendUint32(b, uint32(v)) }
func (b be) i64(v int64) be    { return binary.BigEndian.AppendUint64(b, uint64(v)) }
func (b be) str(s string) be   { return append(b.i16(int16(len(s))), s...) }
func (b be) bytes(v []byte) be { return append(b.i32(int32(len(v))), v...) }

func TestCodecHandBuiltBytes(t *testing.T) {
	key := be{}.i16(1).str("grp").str("topic").i32(7)
	assert.Equal(t, []byte(key), EncodeOffsetKey("grp", "topic", 7))
	k, err := DecodeKey(key)
	require.NoError(t, err)
	assert.Equal(t, Key{Group: "grp", Topic: "topic", Partition: 7}, k)

	gkey := be{}.i16(2).str("grp")
	assert.Equal(t, []byte(gkey), EncodeGroupKey("grp"))
	k, err = DecodeKey(gkey)
	require.NoError(t, err)
	assert.Equal(t, Key{IsGroup: true, Group: "grp"}, k)

	v3 := be{}.i16(3).i64(42).i32(5).str("md").i64(1000)
	assert.Equal(t, []byte(v3), EncodeOffsetValue(OffsetValue{Offset: 42, LeaderEpoch: 5, Metadata: "md", CommitTimestamp: 1000, ExpireTimestamp: -1}))
	v1 := be{}.i16(1).i64(42).str("md").i64(1000).i64(2000)
	assert.Equal(t, []byte(v1), EncodeOffsetValue(OffsetValue{Offset: 42, LeaderEpoch: 5, Metadata: "md", CommitTimestamp: 1000, ExpireTimestamp: 2000}))
	ov, err := DecodeOffsetValue(v1)
	require.NoError(t, err)
	assert.Equal(t, OffsetValue{Offset: 42, LeaderEpoch: -1, Metadata: "md", CommitTimestamp: 1000, ExpireTimestamp: 2000}, ov)
	v0 := be{}.i16(0).i64(9).str("").i64(77)
	ov, err = DecodeOffsetValue(v0)
	require.NoError(t, err)
	assert.Equal(t, OffsetValue{Offset: 9, LeaderEpoch: -1, CommitTimestamp: 77, ExpireTimestamp: -1}, ov)

	gv := be{}.i16(3).str("consumer").i32(4).str("range").str("m1").i64(555).i32(1).
		str("m1").str("inst").str("cli").str("/h").i32(30000).i32(10000).bytes([]byte{1, 2}).bytes([]byte{3})
	want := GroupValue{ProtocolType: "consumer", Generation: 4, Protocol: strp("range"), Leader: strp("m1"), CurrentStateTimestamp: 555,
		Members: []MemberValue{{MemberID: "m1", GroupInstanceID: strp("inst"), ClientID: "cli", ClientHost: "/h",
			RebalanceTimeout: 30000, SessionTimeout: 10000, Subscription: []byte{1, 2}, Assignment: []byte{3}}}}
	assert.Equal(t, []byte(gv), EncodeGroupValue(want))
	got, err := DecodeGroupValue(gv)
	require.NoError(t, err)
	assert.Equal(t, want, got)

	// Version 0: no rebalance timeout (session stands in), no state timestamp.
	gv0 := be{}.i16(0).str("consumer").i32(1).i16(-1).i16(-1).i32(1).
		str("m").str("c").str("h").i32(6000).bytes(nil).bytes(nil)
	got, err = DecodeGroupValue(gv0)
	require.NoError(t, err)
	assert.Nil(t, got.Protocol)
	assert.Equal(t, int64(-1), got.CurrentStateTimestamp)
	assert.Equal(t, int32(6000), got.Members[0].RebalanceTimeout)
}

func TestCodecRoundTrip(t *testing.T) {
	offs := []OffsetValue{
		{Offset: 0, LeaderEpoch: -1, CommitTimestamp: 0, ExpireTimestamp: -1},
		{Offset: 1 << 40, LeaderEpoch: 12, Metadata: "some metadata ü", CommitTimestamp: 1_700_000_000_000, ExpireTimestamp: -1},
		{Offset: -1, LeaderEpoch: -1, Metadata: "x", CommitTimestamp: 5, ExpireTimestamp: 99},
	}
	for _, v := range offs {
		got, err := DecodeOffsetValue(EncodeOffsetValue(v))
		require.NoError(t, err)
		if v.ExpireTimestamp >= 0 {
			v.LeaderEpoch = -1 // version 1 has no leader epoch
		}
		assert.Equal(t, v, got)
	}
	groups := []GroupValue{
		{ProtocolType: "", Generation: 0, CurrentStateTimestamp: 1},
		{ProtocolType: "consumer", Generation: 99, Protocol: strp("range"), Leader: strp("a"), CurrentStateTimestamp: 123,
			Members: []MemberValue{
				{MemberID: "a", ClientID: "ca", ClientHost: "/1", RebalanceTimeout: 1, SessionTimeout: 2, Subscription: []byte{}, Assignment: []byte{9}},
				{MemberID: "b", GroupInstanceID: strp("i"), ClientID: "cb", ClientHost: "/2", RebalanceTimeout: 3, SessionTimeout: 4, Subscription: []byte{1}, Assignment: []byte{}},
			}},
	}
	for _, v := range groups {
		got, err := DecodeGroupValue(EncodeGroupValue(v))
		require.NoError(t, err)
		assert.Equal(t, v, got)
	}
}

// TestCodecAgainstKmsg checks the codecs against franz-go's independently
// generated ones, in both directions and at every version, including the
// flexible version 4 this package only reads.
func TestCodecAgainstKmsg(t *testing.T) {
	for ver := int16(0); ver <= 1; ver++ {
		k := kmsg.OffsetCommitKey{Version: ver, Group: "g", Topic: "t", Partition: 3}
		got, err := DecodeKey(k.AppendTo(nil))
		require.NoError(t, err)
		assert.Equal(t, Key{Group: "g", Topic: "t", Partition: 3}, got)
	}
	var kk kmsg.OffsetCommitKey
	require.NoError(t, kk.ReadFrom(EncodeOffsetKey("g", "t", 3)))
	assert.Equal(t, kmsg.OffsetCommitKey{Version: 1, Group: "g", Topic: "t", Partition: 3}, kk)
	var gk kmsg.GroupMetadataKey
	require.NoError(t, gk.ReadFrom(EncodeGroupKey("grp")))
	assert.Equal(t, "grp", gk.Group)
	assert.Equal(t, int16(2), gk.Version)

	for ver := int16(0); ver <= 4; ver++ {
		v := kmsg.NewOffsetCommitValue()
		v.Version, v.Offset, v.Metadata, v.CommitTimestamp = ver, 77, "meta", 1234
		if ver >= 3 {
			v.LeaderEpoch = 6
		}
		if ver == 1 {
			v.ExpireTimestamp = 4321
		}
		got, err := DecodeOffsetValue(v.AppendTo(nil))
		require.NoError(t, err, "version %d", ver)
		assert.Equal(t, int64(77), got.Offset)
		assert.Equal(t, "meta", got.Metadata)
		assert.Equal(t, int64(1234), got.CommitTimestamp)
		assert.Equal(t, map[bool]int32{true: 6, false: -1}[ver >= 3], got.LeaderEpoch)
		assert.Equal(t, map[bool]int64{true: 4321, false: -1}[ver == 1], got.ExpireTimestamp)
	}
	var ov kmsg.OffsetCommitValue
	require.NoError(t, ov.ReadFrom(EncodeOffsetValue(OffsetValue{Offset: 5, LeaderEpoch: 2, Metadata: "m", CommitTimestamp: 9, ExpireTimestamp: -1})))
	assert.Equal(t, int16(3), ov.Version)
	assert.Equal(t, int32(2), ov.LeaderEpoch)

	for ver := int16(0); ver <= 4; ver++ {
		v := kmsg.NewGroupMetadataValue()
		v.Version, v.ProtocolType, v.Generation, v.Protocol, v.Leader = ver, "consumer", 8, strp("range"), strp("m1")
		v.CurrentStateTimestamp = 999
		m := kmsg.NewGroupMetadataValueMember()
		m.MemberID, m.ClientID, m.ClientHost = "m1", "c", "/h"
		m.RebalanceTimeoutMillis, m.SessionTimeoutMillis = 300, 100
		m.Subscription, m.Assignment = []byte{1, 2, 3}, []byte{4}
		if ver >= 3 {
			m.InstanceID = strp("i1")
		}
		v.Members = []kmsg.GroupMetadataValueMember{m}
		got, err := DecodeGroupValue(v.AppendTo(nil))
		require.NoError(t, err, "version %d", ver)
		assert.Equal(t, "consumer", got.ProtocolType)
		assert.Equal(t, int32(8), got.Generation)
		assert.Equal(t, "range", *got.Protocol)
		assert.Equal(t, "m1", *got.Leader)
		require.Len(t, got.Members, 1)
		gm := got.Members[0]
		assert.Equal(t, "m1", gm.MemberID)
		assert.Equal(t, []byte{1, 2, 3}, gm.Subscription)
		assert.Equal(t, []byte{4}, gm.Assignment)
		assert.Equal(t, int32(100), gm.SessionTimeout)
		if ver >= 1 {
			assert.Equal(t, int32(300), gm.RebalanceTimeout)
		}
		if ver >= 2 {
			assert.Equal(t, int64(999), got.CurrentStateTimestamp)
		}
		if ver >= 3 {
			assert.Equal(t, "i1", *gm.GroupInstanceID)
		}
	}
	var gv kmsg.GroupMetadataValue
	mine := GroupValue{ProtocolType: "consumer", Generation: 3, Protocol: strp("p"), CurrentStateTimestamp: 5,
		Members: []MemberValue{{MemberID: "a", GroupInstanceID: strp("x"), ClientID: "c", ClientHost: "h", RebalanceTimeout: 1, SessionTimeout: 2, Subscription: []byte{7}, Assignment: []byte{8}}}}
	require.NoError(t, gv.ReadFrom(EncodeGroupValue(mine)))
	assert.Equal(t, int16(3), gv.Version)
	assert.Nil(t, gv.Leader)
	require.Len(t, gv.Members, 1)
	assert.Equal(t, "x", *gv.Members[0].InstanceID)
	assert.Equal(t, []byte{8}, gv.Members[0].Assignment)
}

// Every truncation and corrupted prefix must fail cleanly, never panic.
func TestCodecRejectsMalformed(t *testing.T) {
	inputs := map[string]struct {
		b   []byte
		dec func([]byte) error
	}{
		"offset key":   {EncodeOffsetKey("group", "topic", 1), func(b []byte) error { _, err := DecodeKey(b); return err }},
		"group key":    {EncodeGroupKey("group"), func(b []byte) error { _, err := DecodeKey(b); return err }},
		"offset value": {EncodeOffsetValue(OffsetValue{Offset: 1, Metadata: "abc", ExpireTimestamp: -1}), func(b []byte) error { _, err := DecodeOffsetValue(b); return err }},
		"group value": {EncodeGroupValue(GroupValue{ProtocolType: "consumer", Protocol: strp("r"),
			Members: []MemberValue{{MemberID: "m", ClientID: "c", ClientHost: "h", Subscription: []byte{1}, Assignment: []byte{2}}}}),
			func(b []byte) error { _, err := DecodeGroupValue(b); return err }},
	}
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			require.NoError(t, in.dec(in.b))
			for n := 0; n < len(in.b); n++ {
				err := in.dec(in.b[:n])
				require.Error(t, err, "prefix %d", n)
				assert.True(t, errors.Is(err, ErrBadRecord), "prefix %d: %v", n, err)
			}
			assert.ErrorIs(t, in.dec(append(append([]byte{}, in.b...), 0)), ErrBadRecord, "trailing byte")
		})
	}
	_, err := DecodeKey(be{}.i16(3).str("g"))
	assert.ErrorIs(t, err, ErrBadRecord, "unknown key version")
	_, err = DecodeOffsetValue(be{}.i16(5).i64(1))
	assert.ErrorIs(t, err, ErrBadRecord, "unknown value version")
	_, err = DecodeGroupValue(be{}.i16(3).str("c").i32(1).i16(-1).i16(-1).i64(0).i32(1 << 30))
	assert.ErrorIs(t, err, ErrBadRecord, "huge member count")
}

func TestSubscribedTopics(t *testing.T) {
	topics, ok := subscribedTopics(consumerMeta("a", "b"))
	require.True(t, ok)
	assert.Equal(t, []string{"a", "b"}, topics)
	// A later version with fields after the topics still parses.
	v3 := be{}.i16(3).i32(1).str("x").bytes(nil).i32(0).i32(7).str("rack")
	topics, ok = subscribedTopics(v3)
	require.True(t, ok)
	assert.Equal(t, []string{"x"}, topics)
	for _, bad := range [][]byte{nil, {0}, be{}.i16(0).i32(5).str("a"), be{}.i16(-1).i32(0)} {
		_, ok := subscribedTopics(bad)
		assert.False(t, ok, "%x", bad)
	}
}

func TestPartitionFor(t *testing.T) {
	// Java String.hashCode values computed by hand from s[0]*31^(n-1)+...
	tests := []struct {
		group string
		hash  int32
	}{
		{"", 0},
		{"a", 97},
		{"Aa", 2112},
		{"BB", 2112},
		{"hello", 99162322},
		{"polygenelubricants", -1 << 31},   // Utils.abs maps MinInt32 to 0
		{"\U0001F600", 0xD83D*31 + 0xDE00}, // one code point, two UTF-16 units
		{"é", 0xE9},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.hash, javaStringHashCode(tt.group), "%q", tt.group)
	}
	assert.Equal(t, int32(0), partitionFor("polygenelubricants", 50))
	assert.Equal(t, int32(99162322%50), partitionFor("hello", 50))
	// Values computed independently (Python, 32-bit wrapping arithmetic).
	assert.Equal(t, int32(-166239158), javaStringHashCode("consumer-a"))
	assert.Equal(t, int32(8), partitionFor("consumer-a", 50))
	assert.Equal(t, int32(13), partitionFor("my-consumer-group", 50))
	assert.Equal(t, int32(49), partitionFor("group-1", 50))
	c, err := New(testConfig(), NewPartlogOffsets(nil))
	require.NoError(t, err)
	assert.Equal(t, partitionFor("hello", 4), c.PartitionFor("hello"))
}

func TestConfigValidate(t *testing.T) {
	require.NoError(t, DefaultConfig().Validate())
	bad := DefaultConfig()
	bad.OffsetsTopicNumPartitions = 0
	bad.GroupMaxSessionTimeout = bad.GroupMinSessionTimeout - 1
	err := bad.Validate()
	require.ErrorIs(t, err, ErrInvalidConfig)
	assert.Contains(t, err.Error(), "offsets.topic.num.partitions=0")
	assert.Contains(t, err.Error(), "group.max.session.timeout.ms")
	_, err = New(bad, NewPartlogOffsets(nil))
	assert.ErrorIs(t, err, ErrInvalidConfig)
}
