package broker_test

// Regression tests for issue #12's group coordinator items, on a real
// in-process broker with exact kmsg requests.

import (
	"context"
	"errors"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/net/client"
	"github.com/strom-broker/strom/tools/broker/brokertest"
)

// findCoordinator sends FindCoordinator for one key at version v (v4+
// batched) and returns the one coordinator answered.
// waitCoordinatorLoaded waits until group's coordinator is found and has
// loaded the group's partition (an OffsetFetch answers without
// COORDINATOR_LOAD_IN_PROGRESS), as a client's retries would.
func waitCoordinatorLoaded(t *testing.T, c *client.Client, group string) {
	t.Helper()
	waitFor(t, "the group coordinator of "+group, func() bool {
		if findCoordinator(t, c, 3, 0, group).ErrorCode != 0 {
			return false
		}
		req := kmsg.NewPtrOffsetFetchRequest()
		rg := kmsg.NewOffsetFetchRequestGroup()
		rg.Group = group
		req.Groups = append(req.Groups, rg)
		resp := request[*kmsg.OffsetFetchResponse](t, c, req, 8)
		return len(resp.Groups) == 1 && resp.Groups[0].ErrorCode == 0
	})
}

func findCoordinator(t *testing.T, c *client.Client, v int16, keyType int8, key string) kmsg.FindCoordinatorResponseCoordinator {
	t.Helper()
	req := kmsg.NewPtrFindCoordinatorRequest()
	req.CoordinatorType = keyType
	if v >= 4 {
		req.CoordinatorKeys = []string{key}
	} else {
		req.CoordinatorKey = key
	}
	resp := request[*kmsg.FindCoordinatorResponse](t, c, req, v)
	if v >= 4 {
		require.Len(t, resp.Coordinators, 1)
		return resp.Coordinators[0]
	}
	return kmsg.FindCoordinatorResponseCoordinator{Key: key, NodeID: resp.NodeID, Host: resp.Host, Port: resp.Port,
		ErrorCode: resp.ErrorCode, ErrorMessage: resp.ErrorMessage}
}

// TestFindCoordinatorPerListener (#12 item 2): with two listeners,
// FindCoordinator names the coordinator by its endpoint on the listener
// the request came in on, and a group consumes through the second one.
func TestFindCoordinatorPerListener(t *testing.T) {
	b, external := startTwoListeners(t)
	for _, addr := range []string{b.Addr(), external} {
		c, err := client.Dial(testCtx(t), addr, "listener-test")
		require.NoError(t, err)
		for _, v := range []int16{0, 3, 4, 6} {
			fc := findCoordinator(t, c, v, 0, "per-listener")
			require.Zero(t, fc.ErrorCode, code(fc.ErrorCode))
			assert.Equal(t, addr, net.JoinHostPort(fc.Host, strconv.Itoa(int(fc.Port))), "FindCoordinator v%d via %s", v, addr)
		}
		c.Close()
	}

	createTopic(t, b, "via-external", 1)
	produceAll(t, newClient(t, b), &kgo.Record{Topic: "via-external", Value: []byte("hello")})
	cl, err := kgo.NewClient(kgo.SeedBrokers(external), kgo.ConsumerGroup("external-group"),
		kgo.ConsumeTopics("via-external"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	require.NoError(t, err)
	defer cl.Close()
	ctx := testCtx(t)
	var got []*kgo.Record
	for len(got) == 0 {
		fs := cl.PollFetches(ctx)
		require.NoError(t, ctx.Err())
		got = append(got, fs.Records()...)
	}
	require.NoError(t, cl.CommitUncommittedOffsets(ctx), "the coordinator is reached through the second listener")
}

// TestTransactionalFindCoordinatorFailsFast (#12 item 5): FindCoordinator
// for a transactional id answers a non-retriable error (UNSUPPORTED_VERSION,
// with a message), so a transactional franz-go producer fails at once
// instead of retrying forever.
func TestTransactionalFindCoordinatorFailsFast(t *testing.T) {
	b := brokertest.Start(t)
	c := rawConn(t, b)
	for _, v := range []int16{1, 3, 4, 6} {
		fc := findCoordinator(t, c, v, 1, "my-txn")
		assertCode(t, kerr.UnsupportedVersion, fc.ErrorCode, "transaction key, v"+strconv.Itoa(int(v)))
		assert.False(t, kerr.IsRetriable(kerr.ErrorForCode(fc.ErrorCode)))
		assert.Equal(t, int32(-1), fc.NodeID)
		assert.Contains(t, deref(fc.ErrorMessage), "transactions are not supported")
	}

	createTopic(t, b, "txn-topic", 1)
	cl := newClient(t, b, kgo.TransactionalID("my-txn"), kgo.DefaultProduceTopic("txn-topic"))
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	err := cl.BeginTransaction()
	if err == nil {
		err = cl.ProduceSync(ctx, &kgo.Record{Value: []byte("x")}).FirstErr()
	}
	require.Error(t, err)
	assert.NoError(t, ctx.Err(), "failed before the hang guard: %v", err)
	assert.False(t, errors.Is(err, context.DeadlineExceeded), "%v", err)
	t.Logf("franz-go: %v", err)
}

// joinStable makes one member join group (JoinGroup v9, subscribing to
// topic) and sync; it returns the member id and generation.
func joinStable(t *testing.T, c *client.Client, group, topic string) (string, int32) {
	t.Helper()
	join := kmsg.NewPtrJoinGroupRequest()
	join.Group, join.SessionTimeoutMillis, join.RebalanceTimeoutMillis = group, 30000, 30000
	join.ProtocolType = "consumer"
	meta := kmsg.NewConsumerMemberMetadata()
	meta.Topics = []string{topic}
	join.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: meta.AppendTo(nil)}}
	jr := request[*kmsg.JoinGroupResponse](t, c, join, 9)
	assertCode(t, kerr.MemberIDRequired, jr.ErrorCode, "first join")
	join.MemberID = jr.MemberID
	jr = request[*kmsg.JoinGroupResponse](t, c, join, 9)
	require.Zero(t, jr.ErrorCode, code(jr.ErrorCode))
	sync := kmsg.NewPtrSyncGroupRequest()
	sync.Group, sync.MemberID, sync.Generation = group, jr.MemberID, jr.Generation
	sync.ProtocolType, sync.Protocol = kmsg.StringPtr("consumer"), kmsg.StringPtr("range")
	sync.GroupAssignment = []kmsg.SyncGroupRequestGroupAssignment{{MemberID: jr.MemberID, MemberAssignment: []byte{}}}
	sr := request[*kmsg.SyncGroupResponse](t, c, sync, 5)
	require.Zero(t, sr.ErrorCode, code(sr.ErrorCode))
	return jr.MemberID, jr.Generation
}

// commitRequest is an OffsetCommit of offset 1 to each topic's partitions.
func commitRequest(group, member string, gen int32, topics map[string][]int32) *kmsg.OffsetCommitRequest {
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Group, req.MemberID, req.Generation = group, member, gen
	for topic, ps := range topics {
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic = topic
		for _, p := range ps {
			rp := kmsg.NewOffsetCommitRequestTopicPartition()
			rp.Partition, rp.Offset, rp.LeaderEpoch = p, 1, -1
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
	}
	return req
}

// commitCodes maps "topic/partition" to the error code answered.
func commitCodes(resp *kmsg.OffsetCommitResponse) map[string]int16 {
	out := map[string]int16{}
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			out[rt.Topic+"/"+strconv.Itoa(int(rp.Partition))] = rp.ErrorCode
		}
	}
	return out
}

// TestOffsetCommitErrorPrecedence (#12 item 12): a commit naming a
// generation to a group that does not exist is GROUP_ID_NOT_FOUND from
// v9, ILLEGAL_GENERATION before; an unknown topic or partition answers
// UNKNOWN_TOPIC_OR_PARTITION even when the member is unknown too, while
// the request's known partitions get UNKNOWN_MEMBER_ID.
func TestOffsetCommitErrorPrecedence(t *testing.T) {
	b := brokertest.Start(t, "auto.create.topics.enable=false", "group.initial.rebalance.delay.ms=0")
	createTopic(t, b, "committed", 2)
	c := rawConn(t, b)
	waitCoordinatorLoaded(t, c, "no-such-group")

	for v, want := range map[int16]*kerr.Error{2: kerr.IllegalGeneration, 8: kerr.IllegalGeneration, 9: kerr.GroupIDNotFound} {
		got := commitCodes(request[*kmsg.OffsetCommitResponse](t, c, commitRequest("no-such-group", "m", 1, map[string][]int32{"committed": {0}}), v))
		assertCode(t, want, got["committed/0"], "v"+strconv.Itoa(int(v))+": a generation for a group that does not exist")
	}

	member, gen := joinStable(t, c, "precedence", "committed")
	topics := map[string][]int32{"committed": {0, 7}, "no-such-topic": {0}}
	for _, v := range []int16{2, 7, 9} {
		got := commitCodes(request[*kmsg.OffsetCommitResponse](t, c, commitRequest("precedence", "nobody", gen, topics), v))
		assertCode(t, kerr.UnknownMemberID, got["committed/0"], "known partition, unknown member")
		assertCode(t, kerr.UnknownTopicOrPartition, got["committed/7"], "unknown partition wins over the member check")
		assertCode(t, kerr.UnknownTopicOrPartition, got["no-such-topic/0"], "unknown topic wins over the member check")
	}
	got := commitCodes(request[*kmsg.OffsetCommitResponse](t, c, commitRequest("precedence", member, gen, topics), 9))
	assert.Zero(t, got["committed/0"], code(got["committed/0"]))
	assertCode(t, kerr.UnknownTopicOrPartition, got["committed/7"], "member's commit, unknown partition")
}

// fetchCommitted returns the group's committed offset of partition 0 of
// topic (OffsetFetch v8), -1 when there is none.
func fetchCommitted(t *testing.T, c *client.Client, group, topic string) int64 {
	t.Helper()
	req := kmsg.NewPtrOffsetFetchRequest()
	rg := kmsg.NewOffsetFetchRequestGroup()
	rg.Group = group
	rt := kmsg.NewOffsetFetchRequestGroupTopic()
	rt.Topic, rt.Partitions = topic, []int32{0}
	rg.Topics = append(rg.Topics, rt)
	req.Groups = append(req.Groups, rg)
	resp := request[*kmsg.OffsetFetchResponse](t, c, req, 8)
	require.Len(t, resp.Groups, 1)
	require.Zero(t, resp.Groups[0].ErrorCode, code(resp.Groups[0].ErrorCode))
	require.Len(t, resp.Groups[0].Topics, 1)
	p := resp.Groups[0].Topics[0].Partitions[0]
	require.Zero(t, p.ErrorCode, code(p.ErrorCode))
	return p.Offset
}

// TestCommittedOffsetsDieWithTheirTopic (#12 item 1): a group commits
// offset 5; the topic is deleted: OffsetFetch answers -1 at once (also
// after a restart: the tombstones are in __consumer_offsets), a commit to
// the deleted topic is refused at once, and after the topic is created
// again the group consumes its new records from offset 0 (reset to
// earliest), none skipped.
func TestCommittedOffsetsDieWithTheirTopic(t *testing.T) {
	dir := t.TempDir()
	b := brokertest.StartIn(t, dir, "auto.create.topics.enable=false", "group.initial.rebalance.delay.ms=0")
	const topic, grp = "reborn", "reborn-group"
	createTopic(t, b, topic, 1)
	c := rawConn(t, b)
	for i := range 5 {
		require.Zero(t, produceOne(t, c, topic, 0, 1, rawBatch(1000, value(0, i))).ErrorCode)
	}
	waitCoordinatorLoaded(t, c, grp)
	commit := commitRequest(grp, "", -1, map[string][]int32{topic: {0}})
	commit.Topics[0].Partitions[0].Offset = 5
	require.Zero(t, commitCodes(request[*kmsg.OffsetCommitResponse](t, c, commit, 8))[topic+"/0"])
	require.Equal(t, int64(5), fetchCommitted(t, c, grp, topic))

	del := deleteTopicsV6(t, c, byName(topic))
	require.Zero(t, del.Topics[0].ErrorCode, code(del.Topics[0].ErrorCode))
	assert.Equal(t, int64(-1), fetchCommitted(t, c, grp, topic), "offsets of a deleted topic are gone")
	got := commitCodes(request[*kmsg.OffsetCommitResponse](t, c, commit, 8))
	assertCode(t, kerr.UnknownTopicOrPartition, got[topic+"/0"], "a commit to the topic just deleted")

	b.Stop()
	b = brokertest.StartIn(t, dir, "auto.create.topics.enable=false", "group.initial.rebalance.delay.ms=0")
	c = rawConn(t, b)
	waitCoordinatorLoaded(t, c, grp)
	assert.Equal(t, int64(-1), fetchCommitted(t, c, grp, topic), "the tombstones survive a restart")

	createTopic(t, b, topic, 1)
	for i := range 8 {
		require.Zero(t, produceOne(t, c, topic, 0, 1, rawBatch(1000, value(1, i))).ErrorCode)
	}
	cl := newClient(t, b, kgo.ConsumerGroup(grp), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))
	ctx := testCtx(t)
	var offsets []int64
	for len(offsets) < 8 {
		fs := cl.PollFetches(ctx)
		require.NoError(t, ctx.Err(), "consumed %v", offsets)
		fs.EachRecord(func(r *kgo.Record) { offsets = append(offsets, r.Offset) })
	}
	assert.Equal(t, []int64{0, 1, 2, 3, 4, 5, 6, 7}, offsets, "the recreated topic is consumed from its start")
}
