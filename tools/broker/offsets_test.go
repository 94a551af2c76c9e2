package broker_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/net/client"
	"github.com/strom-broker/strom/tools/broker/brokertest"
)

// listOffset asks partition 0 of topic for timestamp ts (ListOffsets v9).
func listOffset(t *testing.T, c *client.Client, topic string, ts int64, currentEpoch int32) kmsg.ListOffsetsResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Timestamp, rp.CurrentLeaderEpoch = ts, currentEpoch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := request[*kmsg.ListOffsetsResponse](t, c, req, 9)
	require.Len(t, resp.Topics, 1)
	require.Len(t, resp.Topics[0].Partitions, 1)
	return resp.Topics[0].Partitions[0]
}

// leaderEpoch returns partition 0's leader epoch from Metadata.
func leaderEpoch(t *testing.T, c *client.Client, topic string) int32 {
	t.Helper()
	mt := metadataTopic(t, c, topic)
	require.NotEmpty(t, mt.Partitions)
	return mt.Partitions[0].LeaderEpoch
}

// TestListOffsets: earliest, latest, by timestamp and max timestamp,
// before and after DeleteRecords moves the log start.
func TestListOffsets(t *testing.T) {
	b := brokertest.Start(t)
	const topic = "list-offsets"
	createTopic(t, b, topic, 1)
	c := rawConn(t, b)
	// Batch k holds offsets 2k, 2k+1 with timestamps 10000+100k, +1.
	for k := range int64(5) {
		require.Zero(t, produceOne(t, c, topic, 0, 1, rawBatch(10000+100*k, value(0, int(2*k)), value(0, int(2*k+1)))).ErrorCode)
	}
	epoch := leaderEpoch(t, c, topic)

	type want struct{ offset, ts int64 }
	check := func(stage string, cases map[int64]want) {
		t.Helper()
		for ts, w := range cases {
			sp := listOffset(t, c, topic, ts, epoch)
			require.Zero(t, sp.ErrorCode, "%s ts %d: %s", stage, ts, code(sp.ErrorCode))
			assert.Equal(t, w.offset, sp.Offset, "%s: offset for ts %d", stage, ts)
			if ts >= 0 || ts == -3 {
				assert.Equal(t, w.ts, sp.Timestamp, "%s: timestamp for ts %d", stage, ts)
			}
			if w.offset >= 0 {
				assert.Equal(t, epoch, sp.LeaderEpoch, "%s: leader epoch for ts %d", stage, ts)
			}
		}
	}
	check("full log", map[int64]want{
		-2:    {0, -1},
		-1:    {10, -1},
		-3:    {9, 10401},
		0:     {0, 10000},
		10000: {0, 10000},
		10001: {1, 10001},
		10002: {2, 10100},
		10300: {6, 10300},
		10401: {9, 10401},
		10402: {-1, -1},
	})

	dr := deleteRecords(t, c, topic, 5)
	require.Zero(t, dr.ErrorCode)
	check("after DeleteRecords to 5", map[int64]want{
		-2:    {5, -1},
		-1:    {10, -1},
		-3:    {9, 10401},
		0:     {5, 10201},
		10201: {5, 10201},
		10300: {6, 10300},
	})

	sp := listOffset(t, c, topic, -1, epoch+1)
	assert.Equal(t, code(kerr.UnknownLeaderEpoch.Code), code(sp.ErrorCode), "a newer current leader epoch than the broker's")
	sp = listOffset(t, c, "no-such-topic", -1, -1)
	assert.Equal(t, code(kerr.UnknownTopicOrPartition.Code), code(sp.ErrorCode))
}

// TestOffsetForLeaderEpoch: the current epoch ends at the log end; an
// unknown current epoch is refused.
func TestOffsetForLeaderEpoch(t *testing.T) {
	b := brokertest.Start(t)
	const topic = "epochs"
	createTopic(t, b, topic, 1)
	c := rawConn(t, b)
	for i := range 3 {
		require.Zero(t, produceOne(t, c, topic, 0, 1, rawBatch(1000, value(0, i))).ErrorCode)
	}
	epoch := leaderEpoch(t, c, topic)

	ask := func(current, leaderEpoch int32) kmsg.OffsetForLeaderEpochResponseTopicPartition {
		t.Helper()
		req := kmsg.NewPtrOffsetForLeaderEpochRequest()
		req.ReplicaID = -1
		rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
		rp.Partition, rp.CurrentLeaderEpoch, rp.LeaderEpoch = 0, current, leaderEpoch
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp := request[*kmsg.OffsetForLeaderEpochResponse](t, c, req, 4)
		require.Len(t, resp.Topics, 1)
		require.Len(t, resp.Topics[0].Partitions, 1)
		return resp.Topics[0].Partitions[0]
	}
	fp := fetchOne(t, c, fetchRequest(topic, 0, 0, 0, 1, 1<<20, 1<<20))
	var rb kmsg.RecordBatch
	require.NoError(t, rb.ReadFrom(fp.RecordBatches))
	assert.Equal(t, epoch, rb.PartitionLeaderEpoch, "batches carry the leader epoch")

	sp := ask(epoch, epoch)
	require.Zero(t, sp.ErrorCode, code(sp.ErrorCode))
	assert.Equal(t, epoch, sp.LeaderEpoch)
	assert.Equal(t, int64(3), sp.EndOffset)

	sp = ask(-1, epoch)
	require.Zero(t, sp.ErrorCode, "no current epoch given")
	assert.Equal(t, int64(3), sp.EndOffset)

	sp = ask(epoch+1, epoch)
	assert.Equal(t, code(kerr.UnknownLeaderEpoch.Code), code(sp.ErrorCode))
}
