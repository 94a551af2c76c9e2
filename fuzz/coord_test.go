package fuzz

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strom-broker/strom/coord/group"
	"github.com/strom-broker/strom/coord/znode"
)

// FuzzGroupDecodeKey: a __consumer_offsets key that decodes re-encodes
// (offset keys at version 1, group keys at version 2) to one that decodes
// to the same key.
func FuzzGroupDecodeKey(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := group.DecodeKey(data)
		if err != nil {
			return
		}
		var enc []byte
		if k.IsGroup {
			enc = group.EncodeGroupKey(k.Group)
		} else {
			enc = group.EncodeOffsetKey(k.Group, k.Topic, k.Partition)
		}
		again, err := group.DecodeKey(enc)
		require.NoError(t, err)
		require.Equal(t, k, again)
	})
}

// FuzzGroupDecodeOffsetValue: decode -> encode -> decode identity for
// OffsetCommitValue (any of versions 0-4 in, version 1 or 3 out), except
// that a negative expire timestamp reads back as -1 (no expiry): the
// encoder writes version 1 only for a real one.
func FuzzGroupDecodeOffsetValue(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := group.DecodeOffsetValue(data)
		if err != nil {
			return
		}
		again, err := group.DecodeOffsetValue(group.EncodeOffsetValue(v))
		require.NoError(t, err)
		if v.ExpireTimestamp < 0 {
			v.ExpireTimestamp = -1
		}
		require.Equal(t, v, again)
	})
}

// FuzzGroupDecodeGroupValue: decode -> encode -> decode identity for
// GroupMetadataValue (any of versions 0-4 in, version 3 out).
func FuzzGroupDecodeGroupValue(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := group.DecodeGroupValue(data)
		if err != nil {
			return
		}
		again, err := group.DecodeGroupValue(group.EncodeGroupValue(v))
		require.NoError(t, err)
		require.Equal(t, normalizeGroup(v), normalizeGroup(again))
	})
}

// normalizeGroup treats empty and nil byte slices (and member lists) alike.
func normalizeGroup(v group.GroupValue) group.GroupValue {
	if len(v.Members) == 0 {
		v.Members = nil
	}
	for i := range v.Members {
		m := &v.Members[i]
		if len(m.Subscription) == 0 {
			m.Subscription = nil
		}
		if len(m.Assignment) == 0 {
			m.Assignment = nil
		}
	}
	return v
}

// znodeCodecs are the znode decoders FuzzZnodeDecode picks from, each with
// the encoder that inverts it: decode(data) -> encode -> decode must give the
// same value.
func znodeCodecs() []func(data []byte) (first, second any, err error) {
	return []func(data []byte) (first, second any, err error){
		func(data []byte) (any, any, error) {
			v, err := znode.DecodeClusterID(data)
			if err != nil {
				return nil, nil, err
			}
			again, err := znode.DecodeClusterID(znode.EncodeClusterID(v))
			return v, again, err
		},
		func(data []byte) (any, any, error) {
			v, err := znode.DecodeBroker(1, data)
			if err != nil {
				return nil, nil, err
			}
			again, err := znode.DecodeBroker(1, znode.EncodeBroker(v))
			return v, again, err
		},
		func(data []byte) (any, any, error) {
			v, err := znode.DecodeController(data)
			if err != nil {
				return nil, nil, err
			}
			again, err := znode.DecodeController(znode.EncodeController(v, 1))
			return v, again, err
		},
		func(data []byte) (any, any, error) {
			v, err := znode.DecodeControllerEpoch(data)
			if err != nil {
				return nil, nil, err
			}
			again, err := znode.DecodeControllerEpoch(znode.EncodeControllerEpoch(v))
			return v, again, err
		},
		func(data []byte) (any, any, error) {
			v, err := znode.DecodeTopicAssignment("t", data, 3)
			if err != nil {
				return nil, nil, err
			}
			again, err := znode.DecodeTopicAssignment("t", znode.EncodeTopicAssignment(v), 3)
			return v, again, err
		},
		func(data []byte) (any, any, error) {
			v, err := znode.DecodePartitionState(data, 3)
			if err != nil {
				return nil, nil, err
			}
			again, err := znode.DecodePartitionState(znode.EncodePartitionState(v), 3)
			return v, again, err
		},
		func(data []byte) (any, any, error) {
			v, err := znode.DecodeTopicConfig(data)
			if err != nil {
				return nil, nil, err
			}
			again, err := znode.DecodeTopicConfig(znode.EncodeTopicConfig(v))
			return v, again, err
		},
		func(data []byte) (any, any, error) {
			v, err := znode.DecodeProducerIDBlock(data)
			if err != nil {
				return nil, nil, err
			}
			again, err := znode.DecodeProducerIDBlock(znode.EncodeProducerIDBlock(v))
			return v, again, err
		},
	}
}

// FuzzZnodeDecode runs the znode decoder picked by which on data: no panic,
// and decode -> encode -> decode identity.
func FuzzZnodeDecode(f *testing.F) {
	codecs := znodeCodecs()
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		codec := codecs[int(which)%len(codecs)]
		first, second, err := codec(data)
		if first == nil {
			return
		}
		require.NoError(t, err, "re-encoded znode does not decode")
		require.Equal(t, first, second)
	})
}
