package controller

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strom-broker/strom/coord/metacache"
	"github.com/strom-broker/strom/coord/store"
)

// recordingSender records what each broker was sent, in order.
type recordingSender struct{ got map[int32][]any }

func (r *recordingSender) Send(to store.BrokerInfo, req any) {
	if r.got == nil {
		r.got = map[int32][]any{}
	}
	r.got[to.ID] = append(r.got[to.ID], req)
}

// kinds names the request kinds a broker received, in order.
func (r *recordingSender) kinds(id int32) []string {
	var out []string
	for _, req := range r.got[id] {
		switch req.(type) {
		case *LeaderAndIsr:
			out = append(out, "LeaderAndIsr")
		case *metacache.Update:
			out = append(out, "UpdateMetadata")
		case *StopReplica:
			out = append(out, "StopReplica")
		default:
			out = append(out, fmt.Sprintf("%T", req))
		}
	}
	return out
}

func liveBrokers(ids ...int32) []store.BrokerInfo {
	var out []store.BrokerInfo
	for _, id := range ids {
		out = append(out, store.BrokerInfo{ID: id, Endpoints: []store.Endpoint{{Listener: "PLAINTEXT", Host: "127.0.0.1", Port: 9000 + id}}})
	}
	return out
}

func TestBatchLeaderAndIsrAlsoUpdatesEveryLiveBroker(t *testing.T) {
	b := newBatch()
	id, err := store.NewUUID()
	require.NoError(t, err)
	p := LeaderAndIsrPartition{Topic: "t", TopicID: id, Partition: 0, ControllerEpoch: 3, Leader: 2,
		LeaderEpoch: 1, ISR: []int32{2, 3}, PartitionEpoch: 4, Replicas: []int32{1, 2, 3}, IsNew: true}
	b.addLeaderAndIsr([]int32{2, 3}, p, []int32{1}, []int32{2, 3, 4})
	b.addStopReplica(3, StopReplicaPartition{Topic: "u", Partition: 1, LeaderEpoch: 7})

	var s recordingSender
	b.send(&s, 2, 5, liveBrokers(2, 3, 4), map[int32]int64{2: 100, 3: 300})

	assert.Equal(t, []string{"LeaderAndIsr", "UpdateMetadata"}, s.kinds(2))
	assert.Equal(t, []string{"LeaderAndIsr", "UpdateMetadata", "StopReplica"}, s.kinds(3), "per broker: LeaderAndIsr, UpdateMetadata, StopReplica")
	assert.Equal(t, []string{"UpdateMetadata"}, s.kinds(4), "a live broker that hosts no replica still learns the leader")
	assert.Empty(t, s.kinds(1), "a dead replica gets nothing")

	lai := s.got[3][0].(*LeaderAndIsr)
	assert.Equal(t, int32(2), lai.ControllerID)
	assert.Equal(t, int32(5), lai.ControllerEpoch)
	assert.Equal(t, int64(300), lai.BrokerEpoch, "each request carries the receiver's epoch")
	require.Len(t, lai.Partitions, 1)
	assert.Equal(t, p, lai.Partitions[0])
	require.Len(t, lai.LiveLeaders, 1)
	assert.Equal(t, int32(2), lai.LiveLeaders[0].ID)

	um := s.got[4][0].(*metacache.Update)
	assert.Equal(t, int64(-1), um.BrokerEpoch, "unknown broker epoch is sent as -1")
	assert.Len(t, um.LiveBrokers, 3)
	require.Len(t, um.Partitions, 1)
	assert.Equal(t, metacache.PartitionState{Topic: "t", Partition: 0, ControllerEpoch: 3, Leader: 2, LeaderEpoch: 1,
		ISR: []int32{2, 3}, PartitionEpoch: 4, Replicas: []int32{1, 2, 3}, OfflineReplicas: []int32{1}}, um.Partitions[0])
	assert.Equal(t, map[string]store.UUID{"t": id}, um.TopicIDs)

	// Applied to a cache, the update makes the leader reachable.
	c := metacache.New()
	c.Apply(*um)
	n, ok := c.Snapshot().Node(2, "PLAINTEXT")
	require.True(t, ok)
	assert.Equal(t, int32(9002), n.Port)
}

func TestBatchKeepsNewAndDeletion(t *testing.T) {
	b := newBatch()
	p := LeaderAndIsrPartition{Topic: "t", Partition: 0, Leader: 1, ISR: []int32{1}, Replicas: []int32{1}, IsNew: true}
	b.addLeaderAndIsr([]int32{1}, p, nil, []int32{1})
	p.IsNew, p.LeaderEpoch = false, 1
	b.addLeaderAndIsr([]int32{1}, p, nil, []int32{1})

	b.addStopReplica(1, StopReplicaPartition{Topic: "d", Partition: 0, LeaderEpoch: metacache.LeaderDuringDelete, Delete: true})
	b.addStopReplica(1, StopReplicaPartition{Topic: "d", Partition: 0, LeaderEpoch: 4})

	var s recordingSender
	b.send(&s, 1, 1, liveBrokers(1), nil)
	lai := s.got[1][0].(*LeaderAndIsr)
	require.Len(t, lai.Partitions, 1)
	assert.True(t, lai.Partitions[0].IsNew, "a partition queued as new stays new")
	assert.Equal(t, int32(1), lai.Partitions[0].LeaderEpoch, "the later state wins")
	sr := s.got[1][2].(*StopReplica)
	require.Len(t, sr.Partitions, 1)
	assert.True(t, sr.Partitions[0].Delete, "a deletion is not downgraded to a stop")
}

func TestBatchEmpty(t *testing.T) {
	b := newBatch()
	assert.True(t, b.empty())
	var s recordingSender
	b.send(&s, 1, 1, liveBrokers(1, 2), nil)
	assert.Empty(t, s.got)
	b.addUpdateMetadata([]int32{1}, metacache.PartitionState{}, store.UUID{})
	assert.False(t, b.empty())
	b.send(&s, 1, 1, liveBrokers(1, 2), nil)
	assert.Equal(t, []string{"UpdateMetadata"}, s.kinds(1), "a broker-set-only update (no partitions) is sent")
	assert.Empty(t, s.got[1][0].(*metacache.Update).Partitions)
}
