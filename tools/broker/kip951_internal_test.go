package broker

// #12 item 15 needs a second broker in the metadata (a leader elsewhere,
// a follower fetching): this internal test registers one in the broker's
// own metadata store, with an endpoint, and drives the controller, then
// sends the exact requests over the wire with net/client.

import (
	"context"
	"encoding/binary"
	"hash/crc32"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/coord/controller"
	"github.com/strom-broker/strom/coord/store"
	"github.com/strom-broker/strom/net/client"
	"github.com/strom-broker/strom/tools/config"
)

// startInternal starts a broker on 127.0.0.1:0 in a temp dir, shut down
// when t ends.
func startInternal(t *testing.T) *Broker {
	t.Helper()
	cfg, err := config.Load("", []string{"listeners=PLAINTEXT://127.0.0.1:0", "log.dirs=" + t.TempDir()})
	require.NoError(t, err)
	b, err := New(cfg, WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- b.Serve() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		assert.NoError(t, b.Shutdown(ctx))
		<-served
	})
	return b
}

// send sends req at version v on c and returns the answer.
func send[R kmsg.Response](t *testing.T, c *client.Client, req kmsg.Request, v int16) R {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	req.SetVersion(v)
	resp, err := c.RequestVersion(ctx, req)
	require.NoError(t, err)
	return resp.(R)
}

// eventually polls cond (a hang guard, not a timing assertion).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	require.Eventually(t, cond, 90*time.Second, 5*time.Millisecond, what)
}

// fetchV is a Fetch of partition p of the topic with id at offset, with
// the given replica id (ReplicaState from v15) and current leader epoch.
func fetchV(id [16]byte, p int32, offset int64, replica, epoch int32) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID, req.ReplicaState.ID, req.ReplicaState.Epoch = replica, replica, -1
	req.MaxWaitMillis, req.MinBytes, req.MaxBytes = 0, 1, 1<<20
	rt := kmsg.NewFetchRequestTopic()
	rt.TopicID = id
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch, rp.LogStartOffset = p, offset, 1<<20, epoch, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// TestKIP951AndReplicaState (#12 item 15): with a second broker (2,
// registered in the metadata with an endpoint) leading partition 0 and
// this broker (1) leading partition 1 with 2 as follower:
//   - Produce v10 to partition 0 is NOT_LEADER_OR_FOLLOWER with
//     CurrentLeader {2, epoch} and broker 2's endpoint in the response;
//   - Fetch v16 likewise (in NodeEndpoints); Fetch v15 is not told;
//   - Fetch v15 by follower 2 (ReplicaState.ID, the top-level id being -1)
//     is a follower fetch: it reads past the high watermark and moves it;
//   - once the controller shrinks the ISR (epoch bump), Fetch v16 with the
//     old epoch is FENCED_LEADER_EPOCH with CurrentLeader {1, new epoch}
//     and this broker's endpoint;
//   - a deleted topic's id is UNKNOWN_TOPIC_ID in Fetch v13+.
func TestKIP951AndReplicaState(t *testing.T) {
	b := startInternal(t)
	ctx := context.Background()
	me := b.cfg.BrokerID
	other := store.Endpoint{Listener: "PLAINTEXT", SecurityProtocol: "PLAINTEXT", Host: "broker-two.example", Port: 19092}
	require.NoError(t, b.store.RegisterBroker(ctx, store.BrokerInfo{ID: 2, Endpoints: []store.Endpoint{other}, Rack: "r2", JMXPort: -1}))
	_, err := b.ctrl.CreateTopic(ctx, controller.TopicSpec{Name: "kip951", NumPartitions: -1, ReplicationFactor: -1,
		Assignment: map[int32][]int32{0: {2, me}, 1: {me, 2}}}, false)
	require.NoError(t, err)
	a, err := b.store.Topic(ctx, "kip951")
	require.NoError(t, err)
	id := [16]byte(a.ID)

	c, err := client.Dial(ctx, b.Addr(), "kip951-test")
	require.NoError(t, err)
	defer c.Close()
	self := b.endpoints[0]

	// Produce v10 to partition 0, led by broker 2.
	preq := kmsg.NewPtrProduceRequest()
	preq.Acks, preq.TimeoutMillis = 1, 30000
	pt := kmsg.NewProduceRequestTopic()
	pt.Topic = "kip951"
	pp := kmsg.NewProduceRequestTopicPartition()
	pp.Partition, pp.Records = 0, testBatch("to broker two")
	pt.Partitions = append(pt.Partitions, pp)
	preq.Topics = append(preq.Topics, pt)
	presp := send[*kmsg.ProduceResponse](t, c, preq, 10)
	sp := presp.Topics[0].Partitions[0]
	assert.Equal(t, kerr.NotLeaderForPartition.Code, sp.ErrorCode)
	assert.Equal(t, int32(2), sp.CurrentLeader.LeaderID)
	assert.Equal(t, int32(0), sp.CurrentLeader.LeaderEpoch)
	require.Len(t, presp.Brokers, 1)
	assert.Equal(t, kmsg.ProduceResponseBroker{NodeID: 2, Host: other.Host, Port: other.Port, Rack: kmsg.StringPtr("r2")}, presp.Brokers[0])

	// Fetch v16 from partition 0 (consumer): the same hints.
	fresp := send[*kmsg.FetchResponse](t, c, fetchV(id, 0, 0, -1, -1), 16)
	fp := fresp.Topics[0].Partitions[0]
	assert.Equal(t, kerr.NotLeaderForPartition.Code, fp.ErrorCode)
	assert.Equal(t, int32(2), fp.CurrentLeader.LeaderID)
	assert.Equal(t, int32(0), fp.CurrentLeader.LeaderEpoch)
	require.Len(t, fresp.Brokers, 1)
	assert.Equal(t, int32(2), fresp.Brokers[0].NodeID)
	assert.Equal(t, other.Host, fresp.Brokers[0].Host)
	fresp = send[*kmsg.FetchResponse](t, c, fetchV(id, 0, 0, -1, -1), 15)
	assert.Equal(t, int32(-1), fresp.Topics[0].Partitions[0].CurrentLeader.LeaderID, "v15: no hint (Kafka sets it from v16)")

	// Partition 1 is led here, ISR {1, 2}: a produce is stored but not
	// committed until follower 2 has it.
	pp.Partition = 1
	preq.Topics[0].Partitions[0] = pp
	require.Zero(t, send[*kmsg.ProduceResponse](t, c, preq, 10).Topics[0].Partitions[0].ErrorCode)
	r, ok := b.parts.get("kip951", 1)
	require.True(t, ok)
	assert.Equal(t, int64(0), r.HighWatermark(), "not committed: follower 2 has not fetched")

	fresp = send[*kmsg.FetchResponse](t, c, fetchV(id, 1, 0, 2, -1), 15)
	fp = fresp.Topics[0].Partitions[0]
	require.Zero(t, fp.ErrorCode, kerr.ErrorForCode(fp.ErrorCode))
	assert.NotEmpty(t, fp.RecordBatches, "a follower (ReplicaState.ID 2) reads past the high watermark")
	send[*kmsg.FetchResponse](t, c, fetchV(id, 1, 1, 2, -1), 15)
	assert.Equal(t, int64(1), r.HighWatermark(), "follower 2 at offset 1 moved the high watermark")

	// The controller loses broker 2: partition 1's ISR shrinks to {1}, a
	// new leader epoch. A fetch with the old epoch is fenced.
	require.NoError(t, b.ctrl.OnBrokerGone(ctx, 2))
	eventually(t, "the new epoch applied", func() bool { return r.State().LeaderEpoch > 0 })
	epoch := r.State().LeaderEpoch
	fresp = send[*kmsg.FetchResponse](t, c, fetchV(id, 1, 0, -1, 0), 16)
	fp = fresp.Topics[0].Partitions[0]
	assert.Equal(t, kerr.FencedLeaderEpoch.Code, fp.ErrorCode)
	assert.Equal(t, me, fp.CurrentLeader.LeaderID)
	assert.Equal(t, epoch, fp.CurrentLeader.LeaderEpoch)
	require.Len(t, fresp.Brokers, 1)
	assert.Equal(t, me, fresp.Brokers[0].NodeID)
	assert.Equal(t, self.Host, fresp.Brokers[0].Host)
	assert.Equal(t, self.Port, fresp.Brokers[0].Port)

	// A deleted topic's id is forgotten.
	require.NoError(t, b.ctrl.DeleteTopic(ctx, "kip951"))
	for _, v := range []int16{13, 16} {
		fresp = send[*kmsg.FetchResponse](t, c, fetchV(id, 1, 0, -1, -1), v)
		assert.Equal(t, kerr.UnknownTopicID.Code, fresp.Topics[0].Partitions[0].ErrorCode, "v%d", v)
	}
	// (An explicit assignment: broker 2 has a rack and this one none, so
	// Kafka's placement would refuse to choose.)
	_, err = b.ctrl.CreateTopic(ctx, controller.TopicSpec{Name: "kip951", NumPartitions: -1, ReplicationFactor: -1,
		Assignment: map[int32][]int32{0: {me}, 1: {me}}}, false)
	require.NoError(t, err)
	fresp = send[*kmsg.FetchResponse](t, c, fetchV(id, 1, 0, -1, -1), 13)
	assert.Equal(t, kerr.UnknownTopicID.Code, fresp.Topics[0].Partitions[0].ErrorCode, "the old id, after the name is reused")
}

// testBatch is one uncompressed record batch of value, built with kmsg.
func testBatch(value string) []byte {
	body := []byte{0, 0, 0, 1} // attributes, timestamp delta, offset delta, key length -1 (zigzag)
	body = binary.AppendVarint(body, int64(len(value)))
	body = append(body, value...)
	body = append(body, 0) // no headers
	raw := binary.AppendVarint(nil, int64(len(body)))
	raw = append(raw, body...)
	rb := kmsg.RecordBatch{
		FirstOffset: 0, PartitionLeaderEpoch: -1, Magic: 2, LastOffsetDelta: 0,
		FirstTimestamp: 1000, MaxTimestamp: 1000, ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1,
		NumRecords: 1, Records: raw,
	}
	out := rb.AppendTo(nil)
	binary.BigEndian.PutUint32(out[8:], uint32(len(out)-12))
	binary.BigEndian.PutUint32(out[17:], crc32.Checksum(out[21:], crc32.MakeTable(crc32.Castagnoli)))
	return out
}
