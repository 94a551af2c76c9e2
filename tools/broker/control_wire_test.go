package broker_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/net/kerr"
	"github.com/strom-broker/strom/tools/broker/brokertest"
)

// These tests send the controller's requests to a broker over the wire, as
// another broker's controller does, and check Kafka's answers and their
// effect on what the broker serves.

// leaderAndIsr builds a LeaderAndIsr for one partition of topic.
func leaderAndIsr(controllerEpoch int32, topic string, partition, leader, leaderEpoch int32, replicas ...int32) *kmsg.LeaderAndISRRequest {
	req := kmsg.NewPtrLeaderAndISRRequest()
	req.ControllerID, req.ControllerEpoch, req.BrokerEpoch = 99, controllerEpoch, -1
	ts := kmsg.NewLeaderAndISRRequestTopicState()
	ts.Topic = topic
	ps := kmsg.NewLeaderAndISRRequestTopicPartition()
	ps.Topic, ps.Partition, ps.ControllerEpoch = topic, partition, controllerEpoch
	ps.Leader, ps.LeaderEpoch, ps.ISR, ps.Replicas = leader, leaderEpoch, replicas, replicas
	ts.PartitionStates = append(ts.PartitionStates, ps)
	req.TopicStates = append(req.TopicStates, ts)
	return req
}

func TestControlRequestsOverTheWire(t *testing.T) {
	b := brokertest.Start(t)
	createTopic(t, b, "moved", 2)
	c := rawConn(t, b)
	const newer = 1000 // a controller epoch above the local controller's
	self := b.Config.BrokerID

	// A version below the advertised minimum (no per-topic states) is
	// refused by closing that connection, as for any unsupported version.
	oldConn := rawConn(t, b)
	oldReq := leaderAndIsr(newer, "moved", 0, 1, 1, self)
	oldReq.SetVersion(1)
	_, err := oldConn.RequestVersion(testCtx(t), oldReq)
	require.Error(t, err)

	// Same leader epoch as the local one (0): stale, nothing changes;
	// a partition this broker does not host among its replicas: unknown.
	req := leaderAndIsr(newer, "moved", 0, 7, 0, 7, self)
	other := kmsg.NewLeaderAndISRRequestTopicPartition()
	other.Partition, other.Leader, other.LeaderEpoch, other.Replicas, other.ISR = 1, 7, 5, []int32{7}, []int32{7}
	req.TopicStates[0].PartitionStates = append(req.TopicStates[0].PartitionStates, other)
	resp := request[*kmsg.LeaderAndISRResponse](t, c, req, 7)
	require.Equal(t, int16(0), resp.ErrorCode)
	require.Len(t, resp.Topics, 1)
	codes := map[int32]int16{}
	for _, p := range resp.Topics[0].Partitions {
		codes[p.Partition] = p.ErrorCode
	}
	assert.Equal(t, map[int32]int16{0: kerr.StaleControllerEpoch.Code, 1: kerr.UnknownTopicOrPartition.Code}, codes)
	assert.Equal(t, int16(0), produceOne(t, c, "moved", 0, 1, rawBatch(1, []byte("still leader"))).ErrorCode)

	// A newer leader epoch naming broker 7 as leader: this broker follows,
	// and producers are sent away.
	resp = request[*kmsg.LeaderAndISRResponse](t, c, leaderAndIsr(newer, "moved", 0, 7, 1, 7, self), 7)
	require.Equal(t, int16(0), resp.Topics[0].Partitions[0].ErrorCode)
	assert.Equal(t, kerr.NotLeaderForPartition.Code, produceOne(t, c, "moved", 0, 1, rawBatch(1, []byte("x"))).ErrorCode)

	// A controller older than the newest one seen is stale for every kind.
	staleUM := kmsg.NewPtrUpdateMetadataRequest()
	staleUM.ControllerEpoch, staleUM.BrokerEpoch = newer-1, -1
	assert.Equal(t, kerr.StaleControllerEpoch.Code, request[*kmsg.UpdateMetadataResponse](t, c, staleUM, 8).ErrorCode)
	staleSR := kmsg.NewPtrStopReplicaRequest()
	staleSR.ControllerEpoch, staleSR.BrokerEpoch = newer-1, -1
	assert.Equal(t, kerr.StaleControllerEpoch.Code, request[*kmsg.StopReplicaResponse](t, c, staleSR, 4).ErrorCode)

	// StopReplica with delete: the replica is gone.
	sr := kmsg.NewPtrStopReplicaRequest()
	sr.ControllerID, sr.ControllerEpoch, sr.BrokerEpoch = 99, newer, -1
	st := kmsg.NewStopReplicaRequestTopic()
	st.Topic = "moved"
	sp := kmsg.NewStopReplicaRequestTopicPartitionState()
	sp.Partition, sp.LeaderEpoch, sp.Delete = 1, -2, true
	st.PartitionStates = append(st.PartitionStates, sp)
	sr.Topics = append(sr.Topics, st)
	srResp := request[*kmsg.StopReplicaResponse](t, c, sr, 4)
	require.Equal(t, int16(0), srResp.ErrorCode)
	require.Len(t, srResp.Partitions, 1)
	assert.Equal(t, int16(0), srResp.Partitions[0].ErrorCode)
	// The replica is gone but the metadata still lists the partition (no
	// UpdateMetadata removed it): the client is sent to look again.
	assert.Equal(t, kerr.NotLeaderForPartition.Code, produceOne(t, c, "moved", 1, 1, rawBatch(1, []byte("x"))).ErrorCode)
}
