package broker_test

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"net"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/net/client"
	"github.com/strom-broker/strom/tools/broker/brokertest"
)

// advertised returns the broker's ApiVersions table.
func advertised(t *testing.T, b *brokertest.Broker) []kmsg.ApiVersionsResponseApiKey {
	t.Helper()
	c := rawConn(t, b)
	resp := request[*kmsg.ApiVersionsResponse](t, c, kmsg.NewPtrApiVersionsRequest(), 3)
	require.Zero(t, resp.ErrorCode)
	require.NotEmpty(t, resp.ApiKeys)
	return resp.ApiKeys
}

// TestEveryAdvertisedVersionAnswers sends every advertised API at every
// advertised version, with an empty (defaulted) body, on one connection:
// each gets a decodable answer and the connection stays open throughout.
func TestEveryAdvertisedVersionAnswers(t *testing.T) {
	b := brokertest.Start(t, "auto.create.topics.enable=false")
	c := rawConn(t, b)
	for _, k := range advertised(t, b) {
		for v := k.MinVersion; v <= k.MaxVersion; v++ {
			req := kmsg.RequestForKey(k.ApiKey)
			require.NotNil(t, req, "advertised key %d unknown to kmsg", k.ApiKey)
			if p, ok := req.(*kmsg.ProduceRequest); ok {
				p.Acks = -1 // acks=0 has no answer to check
			}
			req.SetVersion(v)
			resp, err := c.RequestVersion(testCtx(t), req)
			require.NoError(t, err, "%s v%d closed the connection", kmsg.NameForKey(k.ApiKey), v)
			require.NotNil(t, resp, "%s v%d", kmsg.NameForKey(k.ApiKey), v)
		}
	}
}

// TestVersionedRequestsWithData drives the data APIs at every version a
// current client uses, against a real topic with records.
func TestVersionedRequestsWithData(t *testing.T) {
	b := brokertest.Start(t)
	const topic = "versions"
	createTopic(t, b, topic, 1)
	c := rawConn(t, b)

	var next int64
	for v := int16(3); v <= 11; v++ {
		p := request[*kmsg.ProduceResponse](t, c, produceRequest(topic, 0, -1, rawBatch(1000+next, value(0, int(v)))), v)
		require.Len(t, p.Topics, 1)
		sp := p.Topics[0].Partitions[0]
		require.Zero(t, sp.ErrorCode, "Produce v%d", v)
		assert.Equal(t, next, sp.BaseOffset, "Produce v%d", v)
		next++
	}

	for v := int16(4); v <= 16; v++ {
		req := fetchRequest(topic, 0, 0, 0, 1, 1<<20, 1<<20)
		if v >= 13 {
			req.Topics[0].TopicID = topicID(t, c, topic)
		}
		resp := request[*kmsg.FetchResponse](t, c, req, v)
		require.Zero(t, resp.ErrorCode, "Fetch v%d", v)
		require.Len(t, resp.Topics, 1, "Fetch v%d", v)
		fp := resp.Topics[0].Partitions[0]
		require.Zero(t, fp.ErrorCode, "Fetch v%d", v)
		assert.Equal(t, next, fp.HighWatermark, "Fetch v%d", v)
		offs, _, _ := batchValues(t, fp.RecordBatches)
		assert.Len(t, offs, int(next), "Fetch v%d", v)
	}

	for v := int16(0); v <= 12; v++ {
		req := kmsg.NewPtrMetadataRequest()
		mt := kmsg.NewMetadataRequestTopic()
		name := topic
		mt.Topic = &name
		req.Topics = append(req.Topics, mt)
		resp := request[*kmsg.MetadataResponse](t, c, req, v)
		require.Len(t, resp.Brokers, 1, "Metadata v%d", v)
		require.Len(t, resp.Topics, 1, "Metadata v%d", v)
		require.Zero(t, resp.Topics[0].ErrorCode, "Metadata v%d", v)
		require.Len(t, resp.Topics[0].Partitions, 1, "Metadata v%d", v)
		assert.Equal(t, resp.Brokers[0].NodeID, resp.Topics[0].Partitions[0].Leader, "Metadata v%d", v)
	}

	for v := int16(0); v <= 9; v++ {
		for _, ts := range []int64{-2, -1} {
			req := kmsg.NewPtrListOffsetsRequest()
			req.ReplicaID = -1
			rt := kmsg.NewListOffsetsRequestTopic()
			rt.Topic = topic
			rp := kmsg.NewListOffsetsRequestTopicPartition()
			rp.Timestamp, rp.CurrentLeaderEpoch, rp.MaxNumOffsets = ts, -1, 1
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			resp := request[*kmsg.ListOffsetsResponse](t, c, req, v)
			sp := resp.Topics[0].Partitions[0]
			require.Zero(t, sp.ErrorCode, "ListOffsets v%d", v)
			want := int64(0)
			if ts == -1 {
				want = next
			}
			if v == 0 {
				assert.Equal(t, []int64{want}, sp.OldStyleOffsets, "ListOffsets v0 ts %d", ts)
			} else {
				assert.Equal(t, want, sp.Offset, "ListOffsets v%d ts %d", v, ts)
			}
		}
	}

	for v := int16(0); v <= 4; v++ {
		req := kmsg.NewPtrDescribeConfigsRequest()
		r := kmsg.NewDescribeConfigsRequestResource()
		r.ResourceType, r.ResourceName = kmsg.ConfigResourceTypeTopic, topic
		req.Resources = append(req.Resources, r)
		resp := request[*kmsg.DescribeConfigsResponse](t, c, req, v)
		require.Len(t, resp.Resources, 1)
		require.Zero(t, resp.Resources[0].ErrorCode, "DescribeConfigs v%d", v)
		assert.NotEmpty(t, resp.Resources[0].Configs, "DescribeConfigs v%d", v)
	}

	for v := int16(0); v <= 7; v++ {
		req := kmsg.NewPtrCreateTopicsRequest()
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = fmt.Sprintf("created-v%d", v), 2, 1
		req.Topics = append(req.Topics, rt)
		req.TimeoutMillis = 30000
		resp := request[*kmsg.CreateTopicsResponse](t, c, req, v)
		require.Len(t, resp.Topics, 1)
		require.Zero(t, resp.Topics[0].ErrorCode, "CreateTopics v%d: %s", v, deref(resp.Topics[0].ErrorMessage))
		if v >= 5 {
			assert.Equal(t, int32(2), resp.Topics[0].NumPartitions)
		}
	}
}

// topicID returns a topic's id from Metadata.
func topicID(t testing.TB, c *client.Client, topic string) [16]byte {
	t.Helper()
	id := metadataTopic(t, c, topic).TopicID
	require.NotEqual(t, [16]byte{}, id)
	return id
}

// messageSet returns a one-message message set of the given magic (0 or 1).
func messageSet(magic byte, v []byte) []byte {
	var m []byte
	m = append(m, magic, 0) // magic, attributes
	if magic == 1 {
		m = binary.BigEndian.AppendUint64(m, 1000) // timestamp
	}
	m = binary.BigEndian.AppendUint32(m, 0xffffffff) // key: null
	m = binary.BigEndian.AppendUint32(m, uint32(len(v)))
	m = append(m, v...)
	crc := crc32.ChecksumIEEE(m)
	var s []byte
	s = binary.BigEndian.AppendUint64(s, 0)
	s = binary.BigEndian.AppendUint32(s, uint32(4+len(m)))
	s = binary.BigEndian.AppendUint32(s, crc)
	return append(s, m...)
}

// TestOldProduceVersions sends Produce v0-v2 with magic-0/1 message sets:
// each partition answers UNSUPPORTED_FOR_MESSAGE_FORMAT (43), the
// connection stays open and nothing is appended.
func TestOldProduceVersions(t *testing.T) {
	b := brokertest.Start(t)
	const topic = "old-produce"
	createTopic(t, b, topic, 1)
	c := rawConn(t, b)
	for v := int16(0); v <= 2; v++ {
		for _, magic := range []byte{0, 1} {
			resp := request[*kmsg.ProduceResponse](t, c, produceRequest(topic, 0, 1, messageSet(magic, []byte("old"))), v)
			require.Len(t, resp.Topics, 1)
			require.Len(t, resp.Topics[0].Partitions, 1)
			assert.Equal(t, int16(43), resp.Topics[0].Partitions[0].ErrorCode, "Produce v%d magic %d", v, magic)
		}
	}
	fp := fetchOne(t, c, fetchRequest(topic, 0, 0, 0, 1, 1<<20, 1<<20))
	assert.Zero(t, fp.HighWatermark, "nothing appended")
}

// startTwoListeners starts a broker with listeners PLAINTEXT and EXTERNAL
// and returns it with EXTERNAL's address.
func startTwoListeners(t *testing.T) (*brokertest.Broker, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	external := ln.Addr().String()
	require.NoError(t, ln.Close())
	return brokertest.Start(t,
		"listeners=PLAINTEXT://127.0.0.1:0,EXTERNAL://"+external,
		"listener.security.protocol.map=PLAINTEXT:PLAINTEXT,EXTERNAL:PLAINTEXT"), external
}

// TestMetadataPerListener: Metadata and DescribeCluster answer with the
// brokers' endpoints on the listener the request came in on.
func TestMetadataPerListener(t *testing.T) {
	b, external := startTwoListeners(t)
	for _, addr := range []string{b.Addr(), external} {
		c, err := client.Dial(testCtx(t), addr, "listener-test")
		require.NoError(t, err)
		md := request[*kmsg.MetadataResponse](t, c, kmsg.NewPtrMetadataRequest(), 12)
		require.Len(t, md.Brokers, 1)
		assert.Equal(t, addr, net.JoinHostPort(md.Brokers[0].Host, strconv.Itoa(int(md.Brokers[0].Port))), "Metadata via %s", addr)
		dc := request[*kmsg.DescribeClusterResponse](t, c, kmsg.NewPtrDescribeClusterRequest(), 1)
		require.Len(t, dc.Brokers, 1)
		assert.Equal(t, addr, net.JoinHostPort(dc.Brokers[0].Host, strconv.Itoa(int(dc.Brokers[0].Port))), "DescribeCluster via %s", addr)
		c.Close()
	}
}

// TestProduceShapeRules: Produce v3+ must carry exactly one magic-2 batch
// per partition; two batches, or an old-format message set, answer
// INVALID_RECORD (87) as Kafka does, and nothing is appended.
func TestProduceShapeRules(t *testing.T) {
	b := brokertest.Start(t)
	const topic = "shape"
	createTopic(t, b, topic, 1)
	c := rawConn(t, b)
	two := append(rawBatch(1000, []byte("a")), rawBatch(1000, []byte("b"))...)
	assert.Equal(t, int16(87), produceOne(t, c, topic, 0, 1, two).ErrorCode, "two batches")
	assert.Equal(t, int16(87), produceOne(t, c, topic, 0, 1, messageSet(1, []byte("old"))).ErrorCode, "magic 1 in v9")
	fp := fetchOne(t, c, fetchRequest(topic, 0, 0, 0, 1, 1<<20, 1<<20))
	assert.Zero(t, fp.HighWatermark, "nothing appended")
	assert.Zero(t, produceOne(t, c, topic, 0, 1, rawBatch(1000, []byte("ok"))).ErrorCode, "one batch is fine")
}
