package broker

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/coord/controller"
	"github.com/strom-broker/strom/coord/metacache"
	"github.com/strom-broker/strom/coord/store"
)

// wireRoundTrip encodes req at version v and decodes it again, as the
// receiving broker sees it.
func wireRoundTrip(t *testing.T, req kmsg.Request, v int16) kmsg.Request {
	t.Helper()
	req.SetVersion(v)
	b := req.AppendTo(nil)
	out := kmsg.RequestForKey(req.Key())
	out.SetVersion(v)
	require.NoError(t, out.ReadFrom(b))
	return out
}

func TestControlRequestsSurviveTheWire(t *testing.T) {
	id, err := store.NewUUID()
	require.NoError(t, err)
	lai := &controller.LeaderAndIsr{ControllerID: 2, ControllerEpoch: 7, BrokerEpoch: 4242,
		Partitions: []controller.LeaderAndIsrPartition{
			{Topic: "a", TopicID: id, Partition: 0, ControllerEpoch: 6, Leader: 2, LeaderEpoch: 3, ISR: []int32{2, 3},
				PartitionEpoch: 9, Replicas: []int32{2, 3, 1}, IsNew: true},
			{Topic: "a", TopicID: id, Partition: 1, ControllerEpoch: 7, Leader: 3, LeaderEpoch: 0, ISR: []int32{3},
				PartitionEpoch: 0, Replicas: []int32{3, 1}},
		},
		LiveLeaders: []store.BrokerInfo{{ID: 2, Endpoints: []store.Endpoint{{Host: "h2", Port: 9092}}}}}
	for _, v := range []int16{5, 6, 7} { // the versions with topic ids
		got := leaderAndIsrFromWire(wireRoundTrip(t, leaderAndIsrToWire(lai), v).(*kmsg.LeaderAndISRRequest))
		assert.Equal(t, lai, got, "LeaderAndIsr v%d", v)
	}

	um := &metacache.Update{ControllerID: 1, ControllerEpoch: 3, BrokerEpoch: -1,
		LiveBrokers: []store.BrokerInfo{
			{ID: 1, JMXPort: -1, Rack: "r1", Endpoints: []store.Endpoint{
				{Listener: "INTERNAL", SecurityProtocol: "PLAINTEXT", Host: "10.0.0.1", Port: 9093},
				{Listener: "EXTERNAL", SecurityProtocol: "SASL_SSL", Host: "pub.example", Port: 9094}}},
			{ID: 2, JMXPort: -1, Endpoints: []store.Endpoint{{Listener: "INTERNAL", SecurityProtocol: "PLAINTEXT", Host: "10.0.0.2", Port: 9093}}},
		},
		TopicIDs: map[string]store.UUID{"a": id},
		Partitions: []metacache.PartitionState{
			{Topic: "a", Partition: 0, ControllerEpoch: 3, Leader: 1, LeaderEpoch: 2, ISR: []int32{1}, PartitionEpoch: 5,
				Replicas: []int32{1, 2}, OfflineReplicas: []int32{2}},
			{Topic: "gone", Partition: 0, Leader: metacache.LeaderDuringDelete},
		}}
	for _, v := range []int16{7, 8} {
		got := updateMetadataFromWire(wireRoundTrip(t, updateMetadataToWire(um), v).(*kmsg.UpdateMetadataRequest))
		// Slices absent on the wire come back empty, not nil.
		for i := range got.Partitions {
			if len(got.Partitions[i].ISR) == 0 {
				got.Partitions[i].ISR = nil
			}
			if len(got.Partitions[i].Replicas) == 0 {
				got.Partitions[i].Replicas = nil
			}
			if len(got.Partitions[i].OfflineReplicas) == 0 {
				got.Partitions[i].OfflineReplicas = nil
			}
		}
		assert.Equal(t, um, got, "UpdateMetadata v%d", v)
	}

	sr := &controller.StopReplica{ControllerID: 1, ControllerEpoch: 3, BrokerEpoch: 77, Partitions: []controller.StopReplicaPartition{
		{Topic: "a", Partition: 0, LeaderEpoch: metacache.LeaderDuringDelete, Delete: true},
		{Topic: "b", Partition: 4, LeaderEpoch: 12},
	}}
	for _, v := range []int16{3, 4} {
		got := stopReplicaFromWire(wireRoundTrip(t, stopReplicaToWire(sr), v).(*kmsg.StopReplicaRequest))
		assert.Equal(t, sr, got, "StopReplica v%d", v)
	}
}
