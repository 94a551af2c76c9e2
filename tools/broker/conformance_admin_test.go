package broker_test

// Regression tests for issue #12's admin items: each sends the exact
// request (kmsg, pinned version) to a real in-process broker and checks
// the answer Kafka gives.

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/net/client"
	"github.com/strom-broker/strom/tools/broker/brokertest"
)

// TestDeleteRecordsOnCompactedTopic (#12 item 13): DeleteRecords on a
// cleanup.policy=compact topic answers POLICY_VIOLATION and leaves the
// log start where it was; compact,delete allows it.
func TestDeleteRecordsOnCompactedTopic(t *testing.T) {
	b := brokertest.Start(t)
	createTopic(t, b, "compacted", 1, "cleanup.policy=compact")
	createTopic(t, b, "compact-delete", 1, "cleanup.policy=compact,delete")
	c := rawConn(t, b)
	for _, topic := range []string{"compacted", "compact-delete"} {
		for i := range 3 {
			require.Zero(t, produceOne(t, c, topic, 0, 1, rawBatch(1000, value(0, i))).ErrorCode)
		}
	}
	dr := deleteRecords(t, c, "compacted", 2)
	assertCode(t, kerr.PolicyViolation, dr.ErrorCode, "compact only")
	assert.Equal(t, int64(-1), dr.LowWatermark)
	dr = deleteRecords(t, c, "compacted", 100)
	assertCode(t, kerr.PolicyViolation, dr.ErrorCode, "the policy is checked before the offset")
	assert.Equal(t, int64(0), listOffset(t, c, "compacted", -2, -1).Offset, "log start unchanged")

	dr = deleteRecords(t, c, "compact-delete", 2)
	require.Zero(t, dr.ErrorCode, code(dr.ErrorCode))
	assert.Equal(t, int64(2), dr.LowWatermark)
}

// metadataByIDs sends Metadata v12 naming topics by id only.
func metadataByIDs(t *testing.T, c *client.Client, ids ...[16]byte) *kmsg.MetadataResponse {
	t.Helper()
	req := kmsg.NewPtrMetadataRequest()
	for _, id := range ids {
		mt := kmsg.NewMetadataRequestTopic()
		mt.TopicID = id
		req.Topics = append(req.Topics, mt)
	}
	return request[*kmsg.MetadataResponse](t, c, req, 12)
}

// metadataByNames sends Metadata at version v naming topics.
func metadataByNames(t *testing.T, c *client.Client, v int16, names ...string) *kmsg.MetadataResponse {
	t.Helper()
	req := kmsg.NewPtrMetadataRequest()
	for _, n := range names {
		mt := kmsg.NewMetadataRequestTopic()
		mt.Topic = kmsg.StringPtr(n)
		req.Topics = append(req.Topics, mt)
	}
	return request[*kmsg.MetadataResponse](t, c, req, v)
}

// deleteTopicsV6 sends DeleteTopics v6 with the given entries.
func deleteTopicsV6(t *testing.T, c *client.Client, entries ...kmsg.DeleteTopicsRequestTopic) *kmsg.DeleteTopicsResponse {
	t.Helper()
	req := kmsg.NewPtrDeleteTopicsRequest()
	req.TimeoutMillis = 30000
	req.Topics = entries
	resp := request[*kmsg.DeleteTopicsResponse](t, c, req, 6)
	require.Len(t, resp.Topics, len(entries))
	return resp
}

func byName(n string) kmsg.DeleteTopicsRequestTopic {
	return kmsg.DeleteTopicsRequestTopic{Topic: kmsg.StringPtr(n)}
}

func byID(id [16]byte) kmsg.DeleteTopicsRequestTopic {
	return kmsg.DeleteTopicsRequestTopic{TopicID: id}
}

// TestUnknownTopicIDAnswers (#12 item 3): Metadata v12 and DeleteTopics v6
// by an unknown topic id answer a null name, the requested id echoed and
// UNKNOWN_TOPIC_ID; a known id is resolved to its name.
func TestUnknownTopicIDAnswers(t *testing.T) {
	b := brokertest.Start(t, "auto.create.topics.enable=false")
	createTopic(t, b, "by-id", 2)
	c := rawConn(t, b)
	known := metadataTopic(t, c, "by-id").TopicID
	require.NotEqual(t, [16]byte{}, known)
	unknown := [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}

	md := metadataByIDs(t, c, unknown)
	require.Len(t, md.Topics, 1)
	assert.Nil(t, md.Topics[0].Topic, "null name")
	assert.Equal(t, unknown, md.Topics[0].TopicID, "the requested id echoed")
	assertCode(t, kerr.UnknownTopicID, md.Topics[0].ErrorCode, "Metadata by unknown id")

	md = metadataByIDs(t, c, unknown, known)
	require.Len(t, md.Topics, 2)
	got := map[[16]byte]kmsg.MetadataResponseTopic{}
	for _, mt := range md.Topics {
		got[mt.TopicID] = mt
	}
	assertCode(t, kerr.UnknownTopicID, got[unknown].ErrorCode, "unknown id beside a known one")
	require.Zero(t, got[known].ErrorCode, code(got[known].ErrorCode))
	assert.Equal(t, "by-id", deref(got[known].Topic))
	assert.Len(t, got[known].Partitions, 2)

	del := deleteTopicsV6(t, c, byID(unknown))
	assert.Nil(t, del.Topics[0].Topic, "null name")
	assert.Equal(t, unknown, del.Topics[0].TopicID, "the requested id echoed")
	assertCode(t, kerr.UnknownTopicID, del.Topics[0].ErrorCode, "DeleteTopics by unknown id")

	del = deleteTopicsV6(t, c, byID(known))
	require.Zero(t, del.Topics[0].ErrorCode, code(del.Topics[0].ErrorCode))
	assert.Equal(t, "by-id", deref(del.Topics[0].Topic))
	assert.Equal(t, known, del.Topics[0].TopicID)
	md = metadataByIDs(t, c, known)
	require.Len(t, md.Topics, 1)
	assertCode(t, kerr.UnknownTopicID, md.Topics[0].ErrorCode, "the deleted topic's id")
}

// TestDuplicateTopicsInRequests (#12 item 14): Metadata answers a topic
// listed twice once; DeleteTopics answers INVALID_REQUEST "Duplicate
// topic name." (or id) to each duplicate and deletes the rest.
func TestDuplicateTopicsInRequests(t *testing.T) {
	b := brokertest.Start(t, "auto.create.topics.enable=false")
	for _, n := range []string{"dup-a", "dup-b", "dup-c", "dup-d"} {
		createTopic(t, b, n, 1)
	}
	c := rawConn(t, b)
	for _, v := range []int16{1, 9, 12} {
		md := metadataByNames(t, c, v, "dup-a", "dup-b", "dup-a")
		var names []string
		for _, mt := range md.Topics {
			names = append(names, deref(mt.Topic))
		}
		assert.ElementsMatch(t, []string{"dup-a", "dup-b"}, names, "Metadata v%d", v)
	}
	idC := metadataTopic(t, c, "dup-c").TopicID

	req := kmsg.NewPtrDeleteTopicsRequest()
	req.TimeoutMillis = 30000
	req.TopicNames = []string{"dup-a", "dup-b", "dup-a"}
	resp := request[*kmsg.DeleteTopicsResponse](t, c, req, 5)
	require.Len(t, resp.Topics, 3)
	for _, rt := range resp.Topics {
		if deref(rt.Topic) == "dup-a" {
			assertCode(t, kerr.InvalidRequest, rt.ErrorCode, "duplicate name")
			assert.Equal(t, "Duplicate topic name.", deref(rt.ErrorMessage))
		} else {
			assert.Zero(t, rt.ErrorCode, "dup-b: %s", code(rt.ErrorCode))
		}
	}
	metadataTopic(t, c, "dup-a") // still there
	assertCode(t, kerr.UnknownTopicOrPartition, metadataByNames(t, c, 12, "dup-b").Topics[0].ErrorCode, "dup-b deleted")

	del := deleteTopicsV6(t, c, byID(idC), byName("dup-d"), byID(idC))
	for _, i := range []int{0, 2} {
		assertCode(t, kerr.InvalidRequest, del.Topics[i].ErrorCode, "duplicate id")
		assert.Equal(t, "Duplicate topic id.", deref(del.Topics[i].ErrorMessage))
		assert.Nil(t, del.Topics[i].Topic)
	}
	assert.Zero(t, del.Topics[1].ErrorCode, code(del.Topics[1].ErrorCode))
	metadataTopic(t, c, "dup-c") // still there

	del = deleteTopicsV6(t, c, kmsg.DeleteTopicsRequestTopic{Topic: kmsg.StringPtr("dup-c"), TopicID: idC}, byID([16]byte{}))
	assertCode(t, kerr.InvalidRequest, del.Topics[0].ErrorCode, "both a name and an id")
	assertCode(t, kerr.InvalidRequest, del.Topics[1].ErrorCode, "neither a name nor an id")
}

// TestDeleteInternalTopicRefused (#13 item 2, broker side): DeleteTopics of
// __consumer_offsets or __transaction_state, by name at any version or by
// id, answers INVALID_REQUEST and deletes nothing.
func TestDeleteInternalTopicRefused(t *testing.T) {
	b := brokertest.Start(t)
	c := rawConn(t, b)
	fc := kmsg.NewPtrFindCoordinatorRequest()
	fc.CoordinatorKey = "g"
	require.Zero(t, request[*kmsg.FindCoordinatorResponse](t, c, fc, 3).ErrorCode) // creates __consumer_offsets
	id := metadataTopic(t, c, "__consumer_offsets").TopicID

	for _, v := range []int16{0, 3, 5} {
		req := kmsg.NewPtrDeleteTopicsRequest()
		req.TimeoutMillis = 30000
		req.TopicNames = []string{"__consumer_offsets", "__transaction_state"}
		resp := request[*kmsg.DeleteTopicsResponse](t, c, req, v)
		require.Len(t, resp.Topics, 2)
		for _, rt := range resp.Topics {
			assertCode(t, kerr.InvalidRequest, rt.ErrorCode, "v"+strconv.Itoa(int(v))+" "+deref(rt.Topic))
		}
	}
	del := deleteTopicsV6(t, c, byID(id))
	assertCode(t, kerr.InvalidRequest, del.Topics[0].ErrorCode, "by id")
	assert.Equal(t, "Topic __consumer_offsets is a kafka internal topic and is not allowed to be marked for deletion.", deref(del.Topics[0].ErrorMessage))
	mt := metadataTopic(t, c, "__consumer_offsets")
	assert.True(t, mt.IsInternal)
	assert.Equal(t, id, mt.TopicID, "not deleted")
}

// listOffsetsAt sends ListOffsets at version v for partition 0 of topic,
// once per timestamp in tss, and returns the partitions answered.
func listOffsetsAt(t *testing.T, c *client.Client, v int16, topic string, tss ...int64) []kmsg.ListOffsetsResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	for _, ts := range tss {
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Timestamp, rp.CurrentLeaderEpoch, rp.MaxNumOffsets = ts, -1, 1
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	resp := request[*kmsg.ListOffsetsResponse](t, c, req, v)
	require.Len(t, resp.Topics, 1)
	require.Len(t, resp.Topics[0].Partitions, len(tss))
	return resp.Topics[0].Partitions
}

// TestListOffsetsSpecialTimestamps (#12 item 10): -4 (earliest local)
// answers the log start, -5 (latest tiered) offset -1 with no error; an
// unknown negative timestamp or a special one below its minimum version is
// UNSUPPORTED_VERSION per partition; a partition listed twice is
// INVALID_REQUEST; latest carries the current leader epoch (0 on a new
// topic).
func TestListOffsetsSpecialTimestamps(t *testing.T) {
	b := brokertest.Start(t)
	createTopic(t, b, "special", 1)
	c := rawConn(t, b)

	latest := listOffsetsAt(t, c, 9, "special", -1)[0]
	require.Zero(t, latest.ErrorCode, code(latest.ErrorCode))
	assert.Equal(t, int64(0), latest.Offset)
	assert.Equal(t, int32(0), latest.LeaderEpoch, "latest on a new topic: the current leader epoch")

	for i := range 5 {
		require.Zero(t, produceOne(t, c, "special", 0, 1, rawBatch(int64(1000+i), value(0, i))).ErrorCode)
	}
	require.Zero(t, deleteRecords(t, c, "special", 2).ErrorCode)

	got := listOffsetsAt(t, c, 9, "special", -4)[0]
	require.Zero(t, got.ErrorCode, code(got.ErrorCode))
	assert.Equal(t, int64(2), got.Offset, "earliest local: the log start")
	assert.Equal(t, int64(-1), got.Timestamp)
	got = listOffsetsAt(t, c, 9, "special", -5)[0]
	require.Zero(t, got.ErrorCode, code(got.ErrorCode))
	assert.Equal(t, int64(-1), got.Offset, "latest tiered: nothing is tiered")
	assert.Equal(t, int32(-1), got.LeaderEpoch)
	latest = listOffsetsAt(t, c, 9, "special", -1)[0]
	assert.Equal(t, int64(5), latest.Offset)
	assert.Equal(t, int32(0), latest.LeaderEpoch)

	unsupported := []struct {
		v  int16
		ts int64
	}{{6, -3}, {7, -4}, {8, -5}, {9, -6}, {9, -100}, {1, -3}}
	for _, u := range unsupported {
		got := listOffsetsAt(t, c, u.v, "special", u.ts)[0]
		assertCode(t, kerr.UnsupportedVersion, got.ErrorCode, "v"+strconv.Itoa(int(u.v))+" timestamp "+strconv.Itoa(int(u.ts)))
		assert.Equal(t, int64(-1), got.Offset)
	}
	got = listOffsetsAt(t, c, 7, "special", -3)[0]
	assert.Zero(t, got.ErrorCode, "max timestamp from v7: %s", code(got.ErrorCode))
	assert.Equal(t, int64(4), got.Offset)

	dup := listOffsetsAt(t, c, 9, "special", -1, -2)
	for _, p := range dup {
		assertCode(t, kerr.InvalidRequest, p.ErrorCode, "partition listed twice")
	}
}

// TestTopicChangesVisibleWhenAnswered (#12 item 6): once CreateTopics
// answers, Metadata (on another connection) shows every partition with a
// leader and a produce to each succeeds; once DeleteTopics answers,
// Metadata no longer shows the topic and a produce to it is
// UNKNOWN_TOPIC_OR_PARTITION. Repeated, with many partitions.
func TestTopicChangesVisibleWhenAnswered(t *testing.T) {
	b := brokertest.Start(t, "auto.create.topics.enable=false")
	admin, other := rawConn(t, b), rawConn(t, b)
	const partitions = 24
	for round := range 5 {
		topic := "visible-" + strconv.Itoa(round)
		req := kmsg.NewPtrCreateTopicsRequest()
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, partitions, 1
		req.Topics = append(req.Topics, rt)
		req.TimeoutMillis = 30000
		cr := request[*kmsg.CreateTopicsResponse](t, admin, req, 7)
		require.Zero(t, cr.Topics[0].ErrorCode, code(cr.Topics[0].ErrorCode))

		mt := metadataByNames(t, other, 12, topic).Topics[0]
		require.Zero(t, mt.ErrorCode, "round %d: Metadata right after CreateTopics: %s", round, code(mt.ErrorCode))
		require.Len(t, mt.Partitions, partitions)
		for _, p := range mt.Partitions {
			assert.Zero(t, p.ErrorCode, code(p.ErrorCode))
			assert.Equal(t, int32(b.Config.BrokerID), p.Leader)
		}
		for p := range int32(partitions) {
			sp := produceOne(t, other, topic, p, 1, rawBatch(1000, value(round, int(p))))
			require.Zero(t, sp.ErrorCode, "round %d partition %d: %s", round, p, code(sp.ErrorCode))
		}

		del := deleteTopicsV6(t, admin, byName(topic))
		require.Zero(t, del.Topics[0].ErrorCode, code(del.Topics[0].ErrorCode))
		mt = metadataByNames(t, other, 12, topic).Topics[0]
		assertCode(t, kerr.UnknownTopicOrPartition, mt.ErrorCode, "Metadata right after DeleteTopics")
		sp := produceOne(t, other, topic, 0, 1, rawBatch(1000, value(round, 0)))
		assertCode(t, kerr.UnknownTopicOrPartition, sp.ErrorCode, "produce right after DeleteTopics")
	}
}
