package broker_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/net/kerr"
	"github.com/strom-broker/strom/tools/broker/brokertest"
)

// TestElectLeaders: a preferred election where the preferred replica
// already leads needs none; unknown partitions are named; with null topics
// the partitions that need no election are left out; an unknown election
// type is refused.
func TestElectLeaders(t *testing.T) {
	b := brokertest.Start(t)
	createTopic(t, b, "elected", 2)
	c := rawConn(t, b)
	for _, v := range []int16{0, 1, 2} {
		req := kmsg.NewPtrElectLeadersRequest()
		req.TimeoutMillis = 10000
		rt := kmsg.NewElectLeadersRequestTopic()
		rt.Topic, rt.Partitions = "elected", []int32{0, 1, 7}
		req.Topics = append(req.Topics, rt)
		resp := request[*kmsg.ElectLeadersResponse](t, c, req, v)
		require.Len(t, resp.Topics, 1, "v%d", v)
		codes := map[int32]int16{}
		for _, p := range resp.Topics[0].Partitions {
			codes[p.Partition] = p.ErrorCode
		}
		assert.Equal(t, map[int32]int16{0: kerr.ElectionNotNeeded.Code, 1: kerr.ElectionNotNeeded.Code,
			7: kerr.UnknownTopicOrPartition.Code}, codes, "v%d", v)

		all := kmsg.NewPtrElectLeadersRequest()
		all.TimeoutMillis = 10000
		resp = request[*kmsg.ElectLeadersResponse](t, c, all, v)
		assert.Empty(t, resp.Topics, "v%d: partitions needing no election are not listed", v)
	}
	bad := kmsg.NewPtrElectLeadersRequest()
	bad.ElectionType = 5
	assert.Equal(t, kerr.InvalidRequest.Code, request[*kmsg.ElectLeadersResponse](t, c, bad, 1).ErrorCode)
}
