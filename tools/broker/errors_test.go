package broker_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/net/client"
	"github.com/strom-broker/strom/tools/broker/brokertest"
)

// code names a Kafka error code in failure messages.
func code(c int16) string {
	if c == 0 {
		return "NONE"
	}
	if err := kerr.ErrorForCode(c); err != nil {
		return err.Error()
	}
	return "?"
}

// assertCode checks an error code, naming both sides.
func assertCode(t *testing.T, want *kerr.Error, got int16, what string) {
	t.Helper()
	assert.Equal(t, code(want.Code), code(got), what)
}

// TestProduceErrors sends well-formed bad Produce requests; each gets its
// error code on one connection that stays open, and a rejected batch
// leaves the log unchanged.
func TestProduceErrors(t *testing.T) {
	b := brokertest.Start(t, "auto.create.topics.enable=false")
	const topic = "produce-errors"
	createTopic(t, b, topic, 1, "max.message.bytes=300")
	c := rawConn(t, b)

	good := produceOne(t, c, topic, 0, 1, rawBatch(1000, []byte("first")))
	require.Zero(t, good.ErrorCode)

	sp := produceOne(t, c, "no-such-topic", 0, 1, rawBatch(1000, []byte("x")))
	assertCode(t, kerr.UnknownTopicOrPartition, sp.ErrorCode, "unknown topic")
	sp = produceOne(t, c, topic, 7, 1, rawBatch(1000, []byte("x")))
	assertCode(t, kerr.UnknownTopicOrPartition, sp.ErrorCode, "unknown partition")

	bad := rawBatch(1000, []byte("corrupt me"))
	bad[len(bad)-3] ^= 0xff // a value byte: the CRC no longer matches
	sp = produceOne(t, c, topic, 0, 1, bad)
	assertCode(t, kerr.CorruptMessage, sp.ErrorCode, "bad CRC")

	truncated := rawBatch(1000, []byte("truncated"))
	sp = produceOne(t, c, topic, 0, 1, truncated[:len(truncated)-4])
	assertCode(t, kerr.CorruptMessage, sp.ErrorCode, "batch shorter than its length")

	sp = produceOne(t, c, topic, 0, 1, rawBatch(1000, make([]byte, 400)))
	assertCode(t, kerr.MessageTooLarge, sp.ErrorCode, "batch over max.message.bytes")

	for _, acks := range []int16{2, -2, 5} {
		sp = produceOne(t, c, topic, 0, acks, rawBatch(1000, []byte("x")))
		assertCode(t, kerr.InvalidRequiredAcks, sp.ErrorCode, "acks")
	}

	// One request, three partitions: a partition's error never affects
	// another's append.
	mixed := produceRequest(topic, 0, 1, rawBatch(1000, []byte("mixed-good")))
	bad2 := rawBatch(1000, []byte("mixed-bad"))
	bad2[len(bad2)-2] ^= 0x55
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition, rp.Records = 5, rawBatch(1000, []byte("x"))
	mixed.Topics[0].Partitions = append(mixed.Topics[0].Partitions, rp)
	mt := kmsg.NewProduceRequestTopic()
	mt.Topic = topic
	mt.Partitions = []kmsg.ProduceRequestTopicPartition{{Partition: 0, Records: bad2}}
	mixed.Topics = append(mixed.Topics, mt)
	mr := request[*kmsg.ProduceResponse](t, c, mixed, 9)
	require.Len(t, mr.Topics, 2)
	require.Len(t, mr.Topics[0].Partitions, 2)
	assert.Zero(t, mr.Topics[0].Partitions[0].ErrorCode, code(mr.Topics[0].Partitions[0].ErrorCode))
	assert.Equal(t, int64(1), mr.Topics[0].Partitions[0].BaseOffset)
	assertCode(t, kerr.UnknownTopicOrPartition, mr.Topics[0].Partitions[1].ErrorCode, "mixed: unknown partition")
	assertCode(t, kerr.CorruptMessage, mr.Topics[1].Partitions[0].ErrorCode, "mixed: corrupt batch")

	// The log holds the good batches only.
	fp := fetchOne(t, c, fetchRequest(topic, 0, 0, 0, 1, 1<<20, 1<<20))
	require.Zero(t, fp.ErrorCode)
	assert.Equal(t, int64(2), fp.HighWatermark)
	_, vals, _ := batchValues(t, fp.RecordBatches)
	assert.Equal(t, [][]byte{[]byte("first"), []byte("mixed-good")}, vals)
	sp = produceOne(t, c, topic, 0, 1, rawBatch(1000, []byte("second")))
	require.Zero(t, sp.ErrorCode)
	assert.Equal(t, int64(2), sp.BaseOffset, "next offset continues after the rejected batches")
}

// TestFetchOutOfRange fetches below the log start and above the log end:
// OFFSET_OUT_OF_RANGE with the log start and high watermark filled in.
func TestFetchOutOfRange(t *testing.T) {
	b := brokertest.Start(t)
	const topic = "fetch-range"
	createTopic(t, b, topic, 1)
	c := rawConn(t, b)
	for i := range 5 {
		require.Zero(t, produceOne(t, c, topic, 0, 1, rawBatch(1000, value(0, i))).ErrorCode)
	}
	dr := deleteRecords(t, c, topic, 2)
	require.Zero(t, dr.ErrorCode)
	assert.Equal(t, int64(2), dr.LowWatermark)

	for _, off := range []int64{0, 1, 6, 100} {
		fp := fetchOne(t, c, fetchRequest(topic, 0, off, 0, 1, 1<<20, 1<<20))
		assertCode(t, kerr.OffsetOutOfRange, fp.ErrorCode, "fetch offset")
		assert.Equal(t, int64(5), fp.HighWatermark, "offset %d", off)
		assert.Equal(t, int64(2), fp.LogStartOffset, "offset %d", off)
		assert.Empty(t, fp.RecordBatches)
	}
	fp := fetchOne(t, c, fetchRequest(topic, 0, 5, 0, 1, 1<<20, 1<<20))
	assert.Zero(t, fp.ErrorCode, "fetching at the log end is in range")
	fp = fetchOne(t, c, fetchRequest(topic, 0, 2, 0, 1, 1<<20, 1<<20))
	require.Zero(t, fp.ErrorCode)
	offs, _, _ := batchValues(t, fp.RecordBatches)
	assert.Equal(t, []int64{2, 3, 4}, offs)
}

// deleteRecords moves partition 0's log start to off.
func deleteRecords(t testing.TB, c *client.Client, topic string, off int64) kmsg.DeleteRecordsResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrDeleteRecordsRequest()
	req.TimeoutMillis = 30000
	rt := kmsg.NewDeleteRecordsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewDeleteRecordsRequestTopicPartition()
	rp.Partition, rp.Offset = 0, off
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	req.SetVersion(2)
	resp, err := c.RequestVersion(testCtx(t), req)
	require.NoError(t, err)
	r := resp.(*kmsg.DeleteRecordsResponse)
	require.Len(t, r.Topics, 1)
	require.Len(t, r.Topics[0].Partitions, 1)
	return r.Topics[0].Partitions[0]
}

// TestAdminErrors sends well-formed bad admin requests on one connection.
func TestAdminErrors(t *testing.T) {
	b := brokertest.Start(t, "auto.create.topics.enable=false")
	createTopic(t, b, "exists", 3)
	c := rawConn(t, b)

	create := func(validateOnly bool, topics ...kmsg.CreateTopicsRequestTopic) []kmsg.CreateTopicsResponseTopic {
		t.Helper()
		req := kmsg.NewPtrCreateTopicsRequest()
		req.TimeoutMillis, req.ValidateOnly, req.Topics = 30000, validateOnly, topics
		resp := request[*kmsg.CreateTopicsResponse](t, c, req, 7)
		require.Len(t, resp.Topics, len(topics))
		return resp.Topics
	}
	topic := func(name string, parts int32, rf int16, configs ...string) kmsg.CreateTopicsRequestTopic {
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, parts, rf
		for _, kv := range configs {
			k, v, _ := cut(kv)
			cfg := kmsg.NewCreateTopicsRequestTopicConfig()
			cfg.Name, cfg.Value = k, &v
			rt.Configs = append(rt.Configs, cfg)
		}
		return rt
	}
	for _, tc := range []struct {
		name string
		spec kmsg.CreateTopicsRequestTopic
		want *kerr.Error
	}{
		{"empty name", topic("", 1, 1), kerr.InvalidTopicException},
		{"slash in name", topic("a/b", 1, 1), kerr.InvalidTopicException},
		{"dot", topic(".", 1, 1), kerr.InvalidTopicException},
		{"dotdot", topic("..", 1, 1), kerr.InvalidTopicException},
		{"name too long", topic(strings.Repeat("x", 250), 1, 1), kerr.InvalidTopicException},
		{"zero partitions", topic("zero-parts", 0, 1), kerr.InvalidPartitions},
		{"negative partitions", topic("neg-parts", -5, 1), kerr.InvalidPartitions},
		{"rf above brokers", topic("rf3", 1, 3), kerr.InvalidReplicationFactor},
		{"rf zero", topic("rf0", 1, 0), kerr.InvalidReplicationFactor},
		{"unknown config", topic("bad-key", 1, 1, "no.such.config=1"), kerr.InvalidConfig},
		{"bad config value", topic("bad-value", 1, 1, "retention.ms=soon"), kerr.InvalidConfig},
		{"bad cleanup policy", topic("bad-policy", 1, 1, "cleanup.policy=forever"), kerr.InvalidConfig},
		{"existing topic", topic("exists", 1, 1), kerr.TopicAlreadyExists},
	} {
		got := create(false, tc.spec)[0]
		assertCode(t, tc.want, got.ErrorCode, tc.name)
	}

	dup := create(false, topic("twice", 1, 1), topic("twice", 1, 1))
	for _, r := range dup {
		assertCode(t, kerr.InvalidRequest, r.ErrorCode, "topic listed twice")
	}

	vo := create(true, topic("validate-only", 4, 1, "retention.ms=1000"))[0]
	require.Zero(t, vo.ErrorCode, deref(vo.ErrorMessage))
	assert.Equal(t, int32(4), vo.NumPartitions)

	// None of the failed or validate-only topics exists.
	md := kmsg.NewPtrMetadataRequest()
	md.Topics = nil
	all := request[*kmsg.MetadataResponse](t, c, md, 12)
	var names []string
	for _, mt := range all.Topics {
		names = append(names, deref(mt.Topic))
	}
	assert.ElementsMatch(t, []string{"exists"}, names)

	dt := kmsg.NewPtrDeleteTopicsRequest()
	dt.TimeoutMillis = 30000
	name := "no-such-topic"
	dtt := kmsg.NewDeleteTopicsRequestTopic()
	dtt.Topic = &name
	dt.Topics = append(dt.Topics, dtt)
	dresp := request[*kmsg.DeleteTopicsResponse](t, c, dt, 6)
	require.Len(t, dresp.Topics, 1)
	assertCode(t, kerr.UnknownTopicOrPartition, dresp.Topics[0].ErrorCode, "delete unknown topic")

	for _, count := range []int32{1, 2, 3} {
		cp := kmsg.NewPtrCreatePartitionsRequest()
		cp.TimeoutMillis = 30000
		cpt := kmsg.NewCreatePartitionsRequestTopic()
		cpt.Topic, cpt.Count = "exists", count
		cp.Topics = append(cp.Topics, cpt)
		cresp := request[*kmsg.CreatePartitionsResponse](t, c, cp, 3)
		require.Len(t, cresp.Topics, 1)
		assertCode(t, kerr.InvalidPartitions, cresp.Topics[0].ErrorCode, "create partitions not growing")
	}

	for _, tc := range []struct {
		name       string
		topic      string
		count      int32
		assignment [][]int32
		want       *kerr.Error
	}{
		{"unknown topic", "no-such-topic", 5, nil, kerr.UnknownTopicOrPartition},
		{"assignment to an unknown broker", "exists", 4, [][]int32{{7}}, kerr.InvalidReplicaAssignment},
		{"assignment of the wrong length", "exists", 5, [][]int32{{0}}, kerr.InvalidReplicaAssignment},
	} {
		cp := kmsg.NewPtrCreatePartitionsRequest()
		cp.TimeoutMillis = 30000
		cpt := kmsg.NewCreatePartitionsRequestTopic()
		cpt.Topic, cpt.Count = tc.topic, tc.count
		for _, r := range tc.assignment {
			a := kmsg.NewCreatePartitionsRequestTopicAssignment()
			a.Replicas = r
			cpt.Assignment = append(cpt.Assignment, a)
		}
		cp.Topics = append(cp.Topics, cpt)
		cresp := request[*kmsg.CreatePartitionsResponse](t, c, cp, 3)
		require.Len(t, cresp.Topics, 1)
		assertCode(t, tc.want, cresp.Topics[0].ErrorCode, "create partitions: "+tc.name)
	}
	assert.Len(t, metadataTopic(t, c, "exists").Partitions, 3, "failed CreatePartitions change nothing")

	ac := kmsg.NewPtrAlterConfigsRequest()
	for _, r := range []struct {
		typ  kmsg.ConfigResourceType
		name string
	}{{kmsg.ConfigResourceTypeTopic, "no-such-topic"}, {kmsg.ConfigResourceTypeBroker, "0"}} {
		ar := kmsg.NewAlterConfigsRequestResource()
		ar.ResourceType, ar.ResourceName = r.typ, r.name
		ac.Resources = append(ac.Resources, ar)
	}
	acr := request[*kmsg.AlterConfigsResponse](t, c, ac, 2)
	require.Len(t, acr.Resources, 2)
	assertCode(t, kerr.UnknownTopicOrPartition, acr.Resources[0].ErrorCode, "alter configs of an unknown topic")
	assertCode(t, kerr.InvalidRequest, acr.Resources[1].ErrorCode, "alter static broker configs")

	require.Zero(t, produceOne(t, c, "exists", 0, 1, rawBatch(1000, []byte("a"), []byte("b"))).ErrorCode)
	dr := deleteRecords(t, c, "exists", 3)
	assertCode(t, kerr.OffsetOutOfRange, dr.ErrorCode, "delete records above the high watermark")
	dr = deleteRecords(t, c, "exists", -7)
	assertCode(t, kerr.OffsetOutOfRange, dr.ErrorCode, "delete records at a negative offset")
	dr = deleteRecords(t, c, "exists", 2)
	require.Zero(t, dr.ErrorCode)
	assert.Equal(t, int64(2), dr.LowWatermark)

	txn := kmsg.NewPtrInitProducerIDRequest()
	txnID := "my-txn"
	txn.TransactionalID, txn.TransactionTimeoutMillis = &txnID, 60000
	ip := request[*kmsg.InitProducerIDResponse](t, c, txn, 4)
	assert.NotZero(t, ip.ErrorCode, "transactions are not supported")
	assert.False(t, kerr.IsRetriable(kerr.ErrorForCode(ip.ErrorCode)), "the error is final: %s", code(ip.ErrorCode))
	assert.Equal(t, int64(-1), ip.ProducerID)
	idem := request[*kmsg.InitProducerIDResponse](t, c, kmsg.NewPtrInitProducerIDRequest(), 4)
	require.Zero(t, idem.ErrorCode)
	assert.GreaterOrEqual(t, idem.ProducerID, int64(0))

	dc := kmsg.NewPtrDescribeConfigsRequest()
	for _, rt := range []kmsg.ConfigResourceType{kmsg.ConfigResourceType(99), kmsg.ConfigResourceTypeBrokerLogger} {
		r := kmsg.NewDescribeConfigsRequestResource()
		r.ResourceType, r.ResourceName = rt, "x"
		dc.Resources = append(dc.Resources, r)
	}
	unknown := kmsg.NewDescribeConfigsRequestResource()
	unknown.ResourceType, unknown.ResourceName = kmsg.ConfigResourceTypeTopic, "no-such-topic"
	dc.Resources = append(dc.Resources, unknown)
	dcr := request[*kmsg.DescribeConfigsResponse](t, c, dc, 4)
	require.Len(t, dcr.Resources, 3)
	assertCode(t, kerr.InvalidRequest, dcr.Resources[0].ErrorCode, "unknown resource type")
	assert.Contains(t, deref(dcr.Resources[0].ErrorMessage), "resource type", "the error says why")
	assertCode(t, kerr.InvalidRequest, dcr.Resources[1].ErrorCode, "broker logger resource")
	assertCode(t, kerr.UnknownTopicOrPartition, dcr.Resources[2].ErrorCode, "describe configs of unknown topic")

	for _, tc := range []struct {
		name, key, value string
		op               kmsg.IncrementalAlterConfigOp
		want             *kerr.Error
	}{
		{"retention.ms=-5", "retention.ms", "-5", kmsg.IncrementalAlterConfigOpSet, kerr.InvalidConfig},
		{"unknown key", "no.such.config", "1", kmsg.IncrementalAlterConfigOpSet, kerr.InvalidConfig},
		{"unknown operation", "retention.ms", "1000", kmsg.IncrementalAlterConfigOp(9), kerr.InvalidRequest},
	} {
		ia := kmsg.NewPtrIncrementalAlterConfigsRequest()
		r := kmsg.NewIncrementalAlterConfigsRequestResource()
		r.ResourceType, r.ResourceName = kmsg.ConfigResourceTypeTopic, "exists"
		cfg := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		v := tc.value
		cfg.Name, cfg.Op, cfg.Value = tc.key, tc.op, &v
		r.Configs = append(r.Configs, cfg)
		ia.Resources = append(ia.Resources, r)
		iar := request[*kmsg.IncrementalAlterConfigsResponse](t, c, ia, 1)
		require.Len(t, iar.Resources, 1)
		assertCode(t, tc.want, iar.Resources[0].ErrorCode, tc.name)
	}
	assertConfig(t, describeTopic(t, c, "exists"), "retention.ms", "604800000", kmsg.ConfigSourceDefaultConfig)
}
