package broker_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/net/kerr"
	"github.com/strom-broker/strom/tools/broker/brokertest"
)

// TestAlterPartitionBadInput: AlterPartition from an unknown broker or
// with a stale broker epoch is refused as a whole (STALE_BROKER_EPOCH) and
// the partition's ISR and epochs stay as they were.
func TestAlterPartitionBadInput(t *testing.T) {
	b := brokertest.Start(t)
	createTopic(t, b, "isr", 1)
	c := rawConn(t, b)
	before := metadataTopic(t, c, "isr")
	require.Len(t, before.Partitions, 1)

	for _, tc := range []struct {
		name   string
		broker int32
		epoch  int64
	}{
		{"unknown broker", 7, 1},
		{"stale broker epoch", 0, 1 << 40},
		{"no broker epoch", 0, -1},
	} {
		req := kmsg.NewPtrAlterPartitionRequest()
		req.BrokerID, req.BrokerEpoch = tc.broker, tc.epoch
		rt := kmsg.NewAlterPartitionRequestTopic()
		rt.Topic = "isr"
		rp := kmsg.NewAlterPartitionRequestTopicPartition()
		rp.Partition, rp.LeaderEpoch, rp.PartitionEpoch, rp.NewISR = 0, before.Partitions[0].LeaderEpoch, 0, []int32{0, 7}
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp := request[*kmsg.AlterPartitionResponse](t, c, req, 1)
		assert.Equal(t, kerr.StaleBrokerEpoch.Code, resp.ErrorCode, tc.name)
	}
	after := metadataTopic(t, c, "isr")
	assert.Equal(t, before.Partitions[0].ISR, after.Partitions[0].ISR)
	assert.Equal(t, before.Partitions[0].LeaderEpoch, after.Partitions[0].LeaderEpoch)
}

// TestFetchForgedReplicaID: a Fetch naming a replica id that is not an
// assigned follower is refused (Kafka's codes), reads nothing and changes
// neither the ISR nor the high watermark.
func TestFetchForgedReplicaID(t *testing.T) {
	b := brokertest.Start(t)
	createTopic(t, b, "forged", 1)
	c := rawConn(t, b)
	p := produceOne(t, c, "forged", 0, -1, rawBatch(1, []byte("a"), []byte("b")))
	require.Zero(t, p.ErrorCode)
	for _, id := range []int32{5, 1000, 0} { // 0 is the leader itself
		req := fetchRequest("forged", 0, 0, 0, 0, 1<<20, 1<<20)
		req.ReplicaID = id
		fp := fetchOne(t, c, req)
		assert.Equal(t, kerr.NotLeaderForPartition.Code, fp.ErrorCode, "replica %d", id)
		assert.Empty(t, fp.RecordBatches)
		req.Topics[0].Partitions[0].CurrentLeaderEpoch = 0
		fp = fetchOne(t, c, req)
		assert.Equal(t, kerr.UnknownLeaderEpoch.Code, fp.ErrorCode, "replica %d with a leader epoch", id)
		assert.Empty(t, fp.RecordBatches)
	}
	md := metadataTopic(t, c, "forged")
	assert.Equal(t, []int32{0}, md.Partitions[0].ISR, "the ISR is unchanged")
	p = produceOne(t, c, "forged", 0, -1, rawBatch(1, []byte("c")))
	require.Zero(t, p.ErrorCode, "acks=all still commits with the real ISR")
	fp := fetchOne(t, c, fetchRequest("forged", 0, 0, 0, 0, 1<<20, 1<<20))
	assert.Equal(t, int64(3), fp.HighWatermark)
}
