package broker_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/tools/broker/brokertest"
)

// TestIdempotentProduce: a retried batch (same producer id, epoch and
// sequence) is acknowledged with its first offsets and stored once; a
// sequence gap is OUT_OF_ORDER_SEQUENCE_NUMBER; a stale epoch is refused.
func TestIdempotentProduce(t *testing.T) {
	b := brokertest.Start(t)
	const topic = "idempotent"
	createTopic(t, b, topic, 1)
	c := rawConn(t, b)
	ip := request[*kmsg.InitProducerIDResponse](t, c, kmsg.NewPtrInitProducerIDRequest(), 4)
	require.Zero(t, ip.ErrorCode)
	pid, epoch := ip.ProducerID, ip.ProducerEpoch

	first := idempotentBatch(1000, pid, epoch, 0, []byte("a"), []byte("b"))
	sp := produceOne(t, c, topic, 0, -1, first)
	require.Zero(t, sp.ErrorCode, code(sp.ErrorCode))
	assert.Equal(t, int64(0), sp.BaseOffset)

	again := produceOne(t, c, topic, 0, -1, idempotentBatch(1000, pid, epoch, 0, []byte("a"), []byte("b")))
	require.Zero(t, again.ErrorCode, "a duplicate is acknowledged: %s", code(again.ErrorCode))
	assert.Equal(t, int64(0), again.BaseOffset, "with the first append's offset")

	sp = produceOne(t, c, topic, 0, -1, idempotentBatch(1000, pid, epoch, 2, []byte("c")))
	require.Zero(t, sp.ErrorCode, code(sp.ErrorCode))
	assert.Equal(t, int64(2), sp.BaseOffset)

	gap := produceOne(t, c, topic, 0, -1, idempotentBatch(1000, pid, epoch, 7, []byte("gap")))
	assertCode(t, kerr.OutOfOrderSequenceNumber, gap.ErrorCode, "sequence gap")

	if epoch > 0 {
		stale := produceOne(t, c, topic, 0, -1, idempotentBatch(1000, pid, epoch-1, 3, []byte("stale")))
		assertCode(t, kerr.InvalidProducerEpoch, stale.ErrorCode, "stale epoch")
	}

	fp := fetchOne(t, c, fetchRequest(topic, 0, 0, 0, 1, 1<<20, 1<<20))
	require.Zero(t, fp.ErrorCode)
	_, vals, batches := batchValues(t, fp.RecordBatches)
	assert.Equal(t, [][]byte{[]byte("a"), []byte("b"), []byte("c")}, vals)
	assert.Equal(t, 2, batches)
}

// TestMinInsyncReplicas: acks=all to a topic whose min.insync.replicas
// exceeds its ISR is NOT_ENOUGH_REPLICAS and appends nothing; acks=1
// still works.
func TestMinInsyncReplicas(t *testing.T) {
	b := brokertest.Start(t)
	const topic = "min-isr"
	createTopic(t, b, topic, 1, "min.insync.replicas=2")
	c := rawConn(t, b)
	sp := produceOne(t, c, topic, 0, -1, rawBatch(1000, []byte("x")))
	assertCode(t, kerr.NotEnoughReplicas, sp.ErrorCode, "acks=all with ISR 1 < min.insync.replicas 2")
	sp = produceOne(t, c, topic, 0, 1, rawBatch(1000, []byte("y")))
	require.Zero(t, sp.ErrorCode, code(sp.ErrorCode))
	assert.Equal(t, int64(0), sp.BaseOffset, "the refused batch was not appended")
}

// TestLogAppendTime: a LogAppendTime topic answers the append time and
// stores it in the batch.
func TestLogAppendTime(t *testing.T) {
	b := brokertest.Start(t)
	const topic = "append-time"
	createTopic(t, b, topic, 1, "message.timestamp.type=LogAppendTime")
	c := rawConn(t, b)
	sp := produceOne(t, c, topic, 0, 1, rawBatch(1000, []byte("x"), []byte("y")))
	require.Zero(t, sp.ErrorCode, code(sp.ErrorCode))
	require.Greater(t, sp.LogAppendTime, int64(1001), "the broker's clock, not the producer's")

	fp := fetchOne(t, c, fetchRequest(topic, 0, 0, 0, 1, 1<<20, 1<<20))
	require.Zero(t, fp.ErrorCode)
	var rb kmsg.RecordBatch
	require.NoError(t, rb.ReadFrom(fp.RecordBatches))
	assert.Equal(t, int16(0x08), rb.Attributes&0x08, "timestamp type LogAppendTime")
	assert.Equal(t, sp.LogAppendTime, rb.MaxTimestamp)
}

// TestDeleteAndRecreateTopic: a deleted topic's logs leave the disk, and a
// new topic of the same name starts empty at offset 0.
func TestDeleteAndRecreateTopic(t *testing.T) {
	b := brokertest.Start(t, "auto.create.topics.enable=false")
	const topic = "phoenix"
	createTopic(t, b, topic, 2)
	c := rawConn(t, b)
	for range 3 {
		require.Zero(t, produceOne(t, c, topic, 1, 1, rawBatch(1000, []byte("old"))).ErrorCode)
	}
	oldID := topicID(t, c, topic)

	dt := kmsg.NewPtrDeleteTopicsRequest()
	dt.TimeoutMillis = 30000
	dt.TopicNames = []string{topic}
	dresp := request[*kmsg.DeleteTopicsResponse](t, c, dt, 3)
	require.Len(t, dresp.Topics, 1)
	require.Zero(t, dresp.Topics[0].ErrorCode, code(dresp.Topics[0].ErrorCode))

	sp := produceOne(t, c, topic, 1, 1, rawBatch(1000, []byte("into the void")))
	assertCode(t, kerr.UnknownTopicOrPartition, sp.ErrorCode, "produce to a deleted topic")
	waitFor(t, "the deleted topic's logs to leave the disk", func() bool {
		for _, p := range []string{"0", "1"} {
			if _, err := os.Stat(filepath.Join(b.Dir, topic+"-"+p)); !os.IsNotExist(err) {
				return false
			}
		}
		return true
	})

	createTopic(t, b, topic, 2)
	assert.NotEqual(t, oldID, topicID(t, c, topic), "a new topic id")
	sp = produceOne(t, c, topic, 1, 1, rawBatch(1000, []byte("new")))
	require.Zero(t, sp.ErrorCode, code(sp.ErrorCode))
	assert.Equal(t, int64(0), sp.BaseOffset, "the new topic starts empty")
	fp := fetchOne(t, c, fetchRequest(topic, 1, 0, 0, 1, 1<<20, 1<<20))
	_, vals, _ := batchValues(t, fp.RecordBatches)
	assert.Equal(t, [][]byte{[]byte("new")}, vals)
}

// TestMetadataAutoCreate: Metadata for an unknown topic creates it with
// num.partitions when auto.create.topics.enable is on (and the client
// allows it), and reports UNKNOWN_TOPIC_OR_PARTITION otherwise.
func TestMetadataAutoCreate(t *testing.T) {
	for _, on := range []bool{true, false} {
		name := map[bool]string{true: "on", false: "off"}[on]
		t.Run(name, func(t *testing.T) {
			b := brokertest.Start(t, "num.partitions=3", "auto.create.topics.enable="+name2bool(on))
			c := rawConn(t, b)
			for _, allow := range []bool{false, true} {
				topic := "auto-" + map[bool]string{true: "allowed", false: "refused"}[allow]
				req := kmsg.NewPtrMetadataRequest()
				mt := kmsg.NewMetadataRequestTopic()
				mt.Topic = &topic
				req.Topics = append(req.Topics, mt)
				req.AllowAutoTopicCreation = allow
				resp := request[*kmsg.MetadataResponse](t, c, req, 9)
				require.Len(t, resp.Topics, 1)
				if on && allow {
					require.Zero(t, resp.Topics[0].ErrorCode, code(resp.Topics[0].ErrorCode))
					assert.Len(t, resp.Topics[0].Partitions, 3)
					sp := produceOne(t, c, topic, 2, 1, rawBatch(1000, []byte("x")))
					assert.Zero(t, sp.ErrorCode, code(sp.ErrorCode))
				} else {
					assertCode(t, kerr.UnknownTopicOrPartition, resp.Topics[0].ErrorCode, topic)
				}
			}
		})
	}
}

func name2bool(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// TestDeleteTopicUnderLoad deletes a topic while producers and fetchers
// hammer it: every answer is success or a retriable "not here" code
// (UNKNOWN_TOPIC_OR_PARTITION, NOT_LEADER_OR_FOLLOWER), never a closed
// connection or UNKNOWN_SERVER_ERROR.
func TestDeleteTopicUnderLoad(t *testing.T) {
	b := brokertest.Start(t, "auto.create.topics.enable=false")
	c := rawConn(t, b)
	allowed := map[int16]bool{0: true, kerr.UnknownTopicOrPartition.Code: true, kerr.NotLeaderForPartition.Code: true}
	for round := range 5 {
		createTopic(t, b, "churn", 2)
		var wg sync.WaitGroup
		stop := make(chan struct{})
		errs := make(chan error, 8)
		ctx := testCtx(t)
		hammer := func(send func() (int16, error)) {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				ec, err := send()
				if err == nil && !allowed[ec] {
					err = fmt.Errorf("round %d: %s", round, code(ec))
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}
		for range 3 {
			pc, fc := rawConn(t, b), rawConn(t, b)
			wg.Add(2)
			go hammer(func() (int16, error) {
				req := produceRequest("churn", 0, 1, rawBatch(1000, []byte("x")))
				req.SetVersion(9)
				resp, err := pc.RequestVersion(ctx, req)
				if err != nil {
					return 0, err
				}
				return resp.(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode, nil
			})
			go hammer(func() (int16, error) {
				req := fetchRequest("churn", 0, 0, 0, 1, 1<<20, 1<<20)
				req.SetVersion(11)
				resp, err := fc.RequestVersion(ctx, req)
				if err != nil {
					return 0, err
				}
				return resp.(*kmsg.FetchResponse).Topics[0].Partitions[0].ErrorCode, nil
			})
		}
		dt := kmsg.NewPtrDeleteTopicsRequest()
		dt.TimeoutMillis, dt.TopicNames = 30000, []string{"churn"}
		require.Zero(t, request[*kmsg.DeleteTopicsResponse](t, c, dt, 3).Topics[0].ErrorCode)
		close(stop)
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
	}
}

// TestProduceToInternalTopicRefused: clients cannot append to
// __consumer_offsets (only the group coordinator writes there).
func TestProduceToInternalTopicRefused(t *testing.T) {
	b := brokertest.Start(t, "offsets.topic.num.partitions=1")
	c := rawConn(t, b)
	waitFor(t, "the group coordinator", func() bool {
		fc := kmsg.NewPtrFindCoordinatorRequest()
		fc.CoordinatorKey = "g"
		return request[*kmsg.FindCoordinatorResponse](t, c, fc, 3).ErrorCode == 0
	})
	before := listOffset(t, c, "__consumer_offsets", -1, -1).Offset
	sp := produceOne(t, c, "__consumer_offsets", 0, 1, rawBatch(1000, []byte("garbage")))
	assertCode(t, kerr.InvalidTopicException, sp.ErrorCode, "produce to __consumer_offsets")
	assert.Equal(t, before, listOffset(t, c, "__consumer_offsets", -1, -1).Offset, "nothing appended")
}

// TestConcurrentTopicCreation: 8 CreateTopics and 8 auto-creating
// Metadata requests for one topic at once create it exactly once: at most
// one CreateTopics succeeds, the rest see TOPIC_ALREADY_EXISTS, every
// Metadata answer has the topic with its 4 partitions.
func TestConcurrentTopicCreation(t *testing.T) {
	b := brokertest.Start(t, "num.partitions=4")
	const topic = "race"
	var wg sync.WaitGroup
	var mu sync.Mutex
	var created, exists int
	var problems []string
	ctx := testCtx(t)
	for i := range 16 {
		c := rawConn(t, b)
		wg.Add(1)
		go func() {
			defer wg.Done()
			var req kmsg.Request
			if i%2 == 0 {
				ct := kmsg.NewPtrCreateTopicsRequest()
				rt := kmsg.NewCreateTopicsRequestTopic()
				rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, 4, 1
				ct.Topics, ct.Version = append(ct.Topics, rt), 5
				req = ct
			} else {
				md := kmsg.NewPtrMetadataRequest()
				mt := kmsg.NewMetadataRequestTopic()
				name := topic
				mt.Topic = &name
				md.Topics, md.AllowAutoTopicCreation, md.Version = append(md.Topics, mt), true, 9
				req = md
			}
			resp, err := c.RequestVersion(ctx, req)
			mu.Lock()
			defer mu.Unlock()
			switch r := resp.(type) {
			case nil:
				problems = append(problems, err.Error())
			case *kmsg.CreateTopicsResponse:
				switch r.Topics[0].ErrorCode {
				case 0:
					created++
				case kerr.TopicAlreadyExists.Code:
					exists++
				default:
					problems = append(problems, "create: "+code(r.Topics[0].ErrorCode))
				}
			case *kmsg.MetadataResponse:
				if r.Topics[0].ErrorCode != 0 || len(r.Topics[0].Partitions) != 4 {
					problems = append(problems, fmt.Sprintf("metadata: %s, %d partitions", code(r.Topics[0].ErrorCode), len(r.Topics[0].Partitions)))
				}
			}
		}()
	}
	wg.Wait()
	assert.Empty(t, problems)
	assert.LessOrEqual(t, created, 1)
	assert.Equal(t, 8, created+exists)
	c := rawConn(t, b)
	assert.Len(t, metadataTopic(t, c, topic).Partitions, 4)
	for p := range int32(4) {
		waitFor(t, "the partition to open", func() bool {
			return produceOne(t, c, topic, p, 1, rawBatch(1000, []byte("x"))).ErrorCode == 0
		})
	}
}
