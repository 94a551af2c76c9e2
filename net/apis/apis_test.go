package apis

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDefaultTable(t *testing.T) {
	tab := DefaultTable()
	// librdkafka's feature probes need these old versions advertised.
	for _, need := range []struct{ key, v int16 }{
		{Produce, 0}, {Produce, 3}, {Produce, 7}, {Fetch, 4}, {Fetch, 10},
		{FindCoordinator, 0}, {OffsetCommit, 1}, {OffsetCommit, 2}, {OffsetFetch, 1},
		{JoinGroup, 0}, {SyncGroup, 0}, {Heartbeat, 0}, {LeaveGroup, 0}, {InitProducerID, 0},
		{Metadata, 0}, {ApiVersions, 0}, {ApiVersions, 4}, {Fetch, 17}, {Produce, 11},
	} {
		assert.True(t, tab.Supports(need.key, need.v), "key %d v%d", need.key, need.v)
	}
	assert.False(t, tab.Supports(Fetch, 18))
	assert.False(t, tab.Supports(60, 0))
	rs := tab.Ranges()
	for i := 1; i < len(rs); i++ {
		assert.Less(t, rs[i-1].Key, rs[i].Key)
	}
	rs[0].Max = 99 // a copy
	assert.False(t, tab.Supports(rs[0].Key, 99))
}

func TestNewTableRejects(t *testing.T) {
	for name, rs := range map[string][]Range{
		"duplicate":    {{3, 0, 1}, {3, 0, 2}},
		"empty range":  {{3, 2, 1}},
		"negative":     {{3, -1, 1}},
		"unknown key":  {{999, 0, 0}},
		"beyond codec": {{3, 0, 99}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := NewTable(rs)
			require.Error(t, err)
		})
	}
	var zero Table
	assert.False(t, zero.Supports(3, 0))
}
