package broker_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/net/client"
	"github.com/strom-broker/strom/net/kerr"
	"github.com/strom-broker/strom/tools/broker/brokertest"
)

// Bad input to the replication protocol (issue #15, must-show): each
// request is refused with Kafka's error and leaves the broker's state as
// it was. See also TestFetchForgedReplicaID, TestAlterPartitionBadInput and
// TestControlRequestsOverTheWire.

// leadInEpoch makes b lead partition 0 of topic in leaderEpoch with
// replicas (a LeaderAndIsr from controller epoch 1000, above the local
// controller's).
func leadInEpoch(t *testing.T, c *client.Client, topic string, leaderEpoch int32, replicas ...int32) {
	t.Helper()
	resp := request[*kmsg.LeaderAndISRResponse](t, c, leaderAndIsr(1000, topic, 0, 0, leaderEpoch, replicas...), 7)
	require.Zero(t, resp.ErrorCode)
	require.Zero(t, resp.Topics[0].Partitions[0].ErrorCode)
}

// servedState is what a client sees of partition 0: its leader epoch
// check, log end, high watermark and records.
func servedState(t *testing.T, c *client.Client, topic string, epoch int32) (code int16, hw int64, records []byte) {
	t.Helper()
	req := fetchRequest(topic, 0, 0, 0, 0, 1<<20, 1<<20)
	req.Topics[0].Partitions[0].CurrentLeaderEpoch = epoch
	fp := fetchOne(t, c, req)
	return fp.ErrorCode, fp.HighWatermark, fp.RecordBatches
}

// TestLeaderAndIsrStaleEpochs: a LeaderAndIsr (and a StopReplica with
// delete) from an older controller epoch, or addressed to an older broker
// epoch, is refused at the top level (STALE_CONTROLLER_EPOCH,
// STALE_BROKER_EPOCH); the partition keeps its leader, leader epoch and
// records.
func TestLeaderAndIsrStaleEpochs(t *testing.T) {
	b := brokertest.Start(t)
	const topic = "fenced"
	createTopic(t, b, topic, 1)
	c := rawConn(t, b)
	leadInEpoch(t, c, topic, 5, 0)
	require.Zero(t, produceOne(t, c, topic, 0, 1, rawBatch(1, []byte("kept"))).ErrorCode)
	code, hw, before := servedState(t, c, topic, 5)
	require.Zero(t, code)
	require.Equal(t, int64(1), hw)

	staleController := leaderAndIsr(999, topic, 0, 7, 9, 7, 0)
	staleBroker := leaderAndIsr(1000, topic, 0, 7, 9, 7, 0)
	staleBroker.BrokerEpoch = 0 // this broker's epoch is 1 or more
	for _, tc := range []struct {
		name string
		req  *kmsg.LeaderAndISRRequest
		want *kerr.Error
	}{
		{"stale controller epoch", staleController, kerr.StaleControllerEpoch},
		{"stale broker epoch", staleBroker, kerr.StaleBrokerEpoch},
	} {
		resp := request[*kmsg.LeaderAndISRResponse](t, c, tc.req, 7)
		assert.Equal(t, tc.want.Code, resp.ErrorCode, tc.name)
	}
	sr := kmsg.NewPtrStopReplicaRequest()
	sr.ControllerID, sr.ControllerEpoch, sr.BrokerEpoch = 99, 1000, 0
	st := kmsg.NewStopReplicaRequestTopic()
	st.Topic = topic
	sp := kmsg.NewStopReplicaRequestTopicPartitionState()
	sp.Partition, sp.LeaderEpoch, sp.Delete = 0, 6, true
	st.PartitionStates = append(st.PartitionStates, sp)
	sr.Topics = append(sr.Topics, st)
	assert.Equal(t, kerr.StaleBrokerEpoch.Code, request[*kmsg.StopReplicaResponse](t, c, sr, 4).ErrorCode)

	code, hw, after := servedState(t, c, topic, 5)
	assert.Zero(t, code, "still the leader in epoch 5: %v", kerr.ForCode(code))
	assert.Equal(t, int64(1), hw)
	assert.Equal(t, before, after, "the records are still served")
	code, _, _ = servedState(t, c, topic, 9)
	assert.Equal(t, kerr.UnknownLeaderEpoch.Code, code, "epoch 9 never took effect")
	assert.Zero(t, produceOne(t, c, topic, 0, 1, rawBatch(2, []byte("more"))).ErrorCode, "and it still takes produce")
}

// TestOffsetForLeaderEpochUnknownEpochs: OffsetForLeaderEpoch for epochs
// the leader does not have gets Kafka's answers (LeaderEpochFileCache
// .endOffsetFor: UNDEFINED -1/-1 above the latest epoch or for -1; the
// largest epoch below with the start of the next one in between), a stale
// or future current leader epoch is refused (FENCED_LEADER_EPOCH,
// UNKNOWN_LEADER_EPOCH), an unknown partition gets
// UNKNOWN_TOPIC_OR_PARTITION; none of it changes the log.
func TestOffsetForLeaderEpochUnknownEpochs(t *testing.T) {
	b := brokertest.Start(t)
	const topic = "epochs-unknown"
	createTopic(t, b, topic, 1)
	c := rawConn(t, b)
	require.Zero(t, produceOne(t, c, topic, 0, 1, rawBatch(1, []byte("a"), []byte("b"), []byte("c"))).ErrorCode)
	first := leaderEpoch(t, c, topic)
	leadInEpoch(t, c, topic, first+3, 0)
	require.Zero(t, produceOne(t, c, topic, 0, 1, rawBatch(2, []byte("d"), []byte("e"))).ErrorCode)
	_, _, before := servedState(t, c, topic, first+3)

	ask := func(partition, current, epoch int32) kmsg.OffsetForLeaderEpochResponseTopicPartition {
		t.Helper()
		req := kmsg.NewPtrOffsetForLeaderEpochRequest()
		req.ReplicaID = -1
		rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
		rp.Partition, rp.CurrentLeaderEpoch, rp.LeaderEpoch = partition, current, epoch
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp := request[*kmsg.OffsetForLeaderEpochResponse](t, c, req, 4)
		require.Len(t, resp.Topics, 1)
		require.Len(t, resp.Topics[0].Partitions, 1)
		return resp.Topics[0].Partitions[0]
	}
	type answer struct {
		code  int16
		epoch int32
		end   int64
	}
	got := func(sp kmsg.OffsetForLeaderEpochResponseTopicPartition) answer {
		return answer{sp.ErrorCode, sp.LeaderEpoch, sp.EndOffset}
	}
	cur := first + 3
	assert.Equal(t, answer{0, cur, 5}, got(ask(0, cur, cur)), "the latest epoch ends at the log end")
	assert.Equal(t, answer{0, first, 3}, got(ask(0, cur, first+1)), "an epoch in between: the one below, ended by the next")
	assert.Equal(t, answer{0, -1, -1}, got(ask(0, cur, cur+50)), "above the latest epoch: undefined")
	assert.Equal(t, answer{0, -1, -1}, got(ask(0, -1, -1)), "epoch -1: undefined")
	assert.Equal(t, kerr.FencedLeaderEpoch.Code, ask(0, cur-1, cur).ErrorCode)
	assert.Equal(t, kerr.UnknownLeaderEpoch.Code, ask(0, cur+1, cur).ErrorCode)
	assert.Equal(t, kerr.UnknownTopicOrPartition.Code, ask(4, -1, cur).ErrorCode)

	code, hw, after := servedState(t, c, topic, cur)
	assert.Zero(t, code)
	assert.Equal(t, int64(5), hw)
	assert.Equal(t, before, after, "the log is unchanged")
}

// TestFetchBadReplicaAndEpochs: a v15 Fetch whose ReplicaState names a
// replica that is not assigned is refused like a v12 one; a LastFetchedEpoch
// the leader never had is OFFSET_OUT_OF_RANGE; a fetch offset past the end
// of its last fetched epoch gets DivergingEpoch and no records. None of
// them changes the ISR or the high watermark.
func TestFetchBadReplicaAndEpochs(t *testing.T) {
	b := brokertest.Start(t)
	const topic = "bad-replica"
	createTopic(t, b, topic, 1)
	c := rawConn(t, b)
	require.Zero(t, produceOne(t, c, topic, 0, 1, rawBatch(1, []byte("a"), []byte("b"))).ErrorCode)
	epoch := leaderEpoch(t, c, topic)
	fetch := func(v int16, mutate func(*kmsg.FetchRequest)) kmsg.FetchResponseTopicPartition {
		t.Helper()
		req := fetchRequest(topic, 0, 0, 0, 0, 1<<20, 1<<20)
		req.Topics[0].Partitions[0].CurrentLeaderEpoch = epoch
		mutate(req)
		if v >= 13 {
			req.Topics[0].TopicID = metadataTopic(t, c, topic).TopicID
		}
		resp := request[*kmsg.FetchResponse](t, c, req, v)
		require.Zero(t, resp.ErrorCode)
		require.Len(t, resp.Topics, 1)
		require.Len(t, resp.Topics[0].Partitions, 1)
		return resp.Topics[0].Partitions[0]
	}

	fp := fetch(15, func(r *kmsg.FetchRequest) { r.ReplicaID, r.ReplicaState.ID, r.ReplicaState.Epoch = -1, 5, 1 })
	assert.Equal(t, kerr.UnknownLeaderEpoch.Code, fp.ErrorCode, "v15 ReplicaState of an unassigned replica")
	assert.Empty(t, fp.RecordBatches)

	fp = fetch(12, func(r *kmsg.FetchRequest) { r.Topics[0].Partitions[0].LastFetchedEpoch = epoch + 7 })
	assert.Equal(t, kerr.OffsetOutOfRange.Code, fp.ErrorCode, "a last fetched epoch the leader never had")
	assert.Empty(t, fp.RecordBatches)

	fp = fetch(12, func(r *kmsg.FetchRequest) {
		r.Topics[0].Partitions[0].LastFetchedEpoch = epoch
		r.Topics[0].Partitions[0].FetchOffset = 9 // past the end of that epoch here (2)
	})
	assert.Zero(t, fp.ErrorCode)
	assert.Equal(t, epoch, fp.DivergingEpoch.Epoch)
	assert.Equal(t, int64(2), fp.DivergingEpoch.EndOffset)
	assert.Empty(t, fp.RecordBatches)

	fp = fetch(12, func(r *kmsg.FetchRequest) { r.Topics[0].Partitions[0].LastFetchedEpoch = epoch })
	assert.Zero(t, fp.ErrorCode)
	assert.Equal(t, int64(-1), fp.DivergingEpoch.EndOffset, "no divergence at offset 0")
	assert.NotEmpty(t, fp.RecordBatches)

	md := metadataTopic(t, c, topic)
	assert.Equal(t, []int32{0}, md.Partitions[0].ISR, "the ISR is unchanged")
	assert.Equal(t, int64(2), fp.HighWatermark)
}
