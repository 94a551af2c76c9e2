// Package apis holds the table of Kafka API keys and version ranges a broker
// serves, and Strom's default table.
//
// The table is what the server advertises in ApiVersions and what it checks
// every request against: a request whose key is not in the table, or whose
// version is outside the key's [Min, Max], closes the connection (as Kafka
// does). A Table is immutable after construction and safe for concurrent use.
//
// Why the default minimums are low: librdkafka enables features only when
// the broker advertises specific old versions (message format v2 needs
// Produce 3 and Fetch 4; groups need FindCoordinator 0, OffsetCommit 1-2,
// OffsetFetch 1, Join/Sync/Heartbeat/Leave 0; idempotence InitProducerId 0;
// zstd Produce 7 and Fetch 10), and it quietly disables gzip, snappy and lz4
// unless Produce v0 is advertised. So Produce is advertised from v0 although
// Produce v0-v2 carry message sets v0/v1 (magic 0/1), which Strom does not
// store: the broker answers such produce requests per partition with
// UNSUPPORTED_FOR_MESSAGE_FORMAT (43) or CORRUPT_MESSAGE rather than
// refusing the version. Likewise Fetch v0-v3 are advertised; a broker serves
// them only v2 record batches.
package apis

import (
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Range is the inclusive version range served for one API key.
type Range struct {
	// Key is the API key; Min and Max bound the versions served.
	Key, Min, Max int16
}

// Table maps API keys to served version ranges. The zero Table serves
// nothing.
type Table struct {
	ranges []Range // sorted by Key, unique keys, Min <= Max
}

// NewTable builds a table from ranges. It fails if a key is repeated, a
// range is empty or negative, or a key or version is unknown to the kmsg
// codec (the server could not decode it).
func NewTable(ranges []Range) (Table, error) {
	rs := slices.Clone(ranges)
	slices.SortFunc(rs, func(a, b Range) int { return int(a.Key) - int(b.Key) })
	for i, r := range rs {
		if i > 0 && rs[i-1].Key == r.Key {
			return Table{}, fmt.Errorf("apis: key %d listed twice", r.Key)
		}
		if r.Min < 0 || r.Min > r.Max {
			return Table{}, fmt.Errorf("apis: key %d: bad range %d-%d", r.Key, r.Min, r.Max)
		}
		req := kmsg.RequestForKey(r.Key)
		if req == nil {
			return Table{}, fmt.Errorf("apis: key %d unknown to the codec", r.Key)
		}
		if r.Max > req.MaxVersion() {
			return Table{}, fmt.Errorf("apis: key %d (%s): max %d beyond the codec's %d", r.Key, kmsg.NameForKey(r.Key), r.Max, req.MaxVersion())
		}
	}
	return Table{ranges: rs}, nil
}

// Lookup returns the range served for key.
func (t Table) Lookup(key int16) (Range, bool) {
	i, ok := slices.BinarySearchFunc(t.ranges, key, func(r Range, k int16) int { return int(r.Key) - int(k) })
	if !ok {
		return Range{}, false
	}
	return t.ranges[i], true
}

// Supports reports whether key at version is served.
func (t Table) Supports(key, version int16) bool {
	r, ok := t.Lookup(key)
	return ok && version >= r.Min && version <= r.Max
}

// Ranges returns a copy of the table's ranges, sorted by key.
func (t Table) Ranges() []Range { return slices.Clone(t.ranges) }

// Key constants of the APIs in the default table (Kafka's numbering).
const (
	Produce              int16 = 0
	Fetch                int16 = 1
	ListOffsets          int16 = 2
	Metadata             int16 = 3
	OffsetCommit         int16 = 8
	OffsetFetch          int16 = 9
	FindCoordinator      int16 = 10
	JoinGroup            int16 = 11
	Heartbeat            int16 = 12
	LeaveGroup           int16 = 13
	SyncGroup            int16 = 14
	DescribeGroups       int16 = 15
	ListGroups           int16 = 16
	SaslHandshake        int16 = 17
	ApiVersions          int16 = 18
	CreateTopics         int16 = 19
	DeleteTopics         int16 = 20
	DeleteRecords        int16 = 21
	InitProducerID       int16 = 22
	OffsetForLeaderEpoch int16 = 23
	DescribeConfigs      int16 = 32
	SaslAuthenticate     int16 = 36
	CreatePartitions     int16 = 37
	DeleteGroups         int16 = 42
	IncrementalAlter     int16 = 44
)

// Default returns the APIs and version ranges Strom intends to serve
// (Kafka 3.9's ranges, see KAFKA-FACTS): every call returns a fresh slice.
// SASL is not listed; a broker that implements it adds SaslHandshake 0-1
// and SaslAuthenticate 0-2.
func Default() []Range {
	return []Range{
		{Produce, 0, 11},
		{Fetch, 0, 17},
		{ListOffsets, 0, 10},
		{Metadata, 0, 12},
		{OffsetCommit, 0, 9},
		{OffsetFetch, 0, 9},
		{FindCoordinator, 0, 6},
		{JoinGroup, 0, 9},
		{Heartbeat, 0, 4},
		{LeaveGroup, 0, 5},
		{SyncGroup, 0, 5},
		{DescribeGroups, 0, 5},
		{ListGroups, 0, 5},
		{ApiVersions, 0, 4},
		{CreateTopics, 0, 7},
		{DeleteTopics, 0, 6},
		{DeleteRecords, 0, 2},
		{InitProducerID, 0, 5},
		{OffsetForLeaderEpoch, 0, 4},
		{DescribeConfigs, 0, 4},
		{CreatePartitions, 0, 3},
		{DeleteGroups, 0, 2},
		{IncrementalAlter, 0, 1},
	}
}

// DefaultTable is NewTable(Default()); the default table is valid, so it
// cannot fail.
func DefaultTable() Table {
	t, err := NewTable(Default())
	if err != nil {
		panic(err) // a bug in Default, caught by the package tests
	}
	return t
}
