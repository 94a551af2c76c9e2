package compat

// Bad group requests through the broker, at the wire level (raw kmsg
// requests): each gets the error code Kafka answers with, and none of them
// disturbs the group's member or its committed offsets.

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// rawMember is a group member driven by hand.
type rawMember struct {
	group, memberID string
	generation      int32
}

// consumerProtocol is a "range" protocol subscribing to topic, with
// metadata padded by pad bytes of user data.
func consumerProtocol(topic string, pad int) kmsg.JoinGroupRequestProtocol {
	meta := kmsg.NewConsumerMemberMetadata()
	meta.Topics = []string{topic}
	meta.UserData = make([]byte, pad)
	p := kmsg.NewJoinGroupRequestProtocol()
	p.Name = "range"
	p.Metadata = meta.AppendTo(nil)
	return p
}

// joinRequest is a JoinGroup of memberID ("" for a new member).
func joinRequest(group, memberID, topic string, pad int) *kmsg.JoinGroupRequest {
	req := kmsg.NewPtrJoinGroupRequest()
	req.Group = group
	req.MemberID = memberID
	req.SessionTimeoutMillis = 30000
	req.RebalanceTimeoutMillis = 30000
	req.ProtocolType = "consumer"
	req.Protocols = []kmsg.JoinGroupRequestProtocol{consumerProtocol(topic, pad)}
	return req
}

// joinAndSync makes a one-member group: join (answering MEMBER_ID_REQUIRED),
// then sync as leader assigning every partition of topic to itself.
func joinAndSync(t *testing.T, ctx context.Context, cl *kgo.Client, group, topic string, partitions int32) rawMember {
	t.Helper()
	resp, err := joinRequest(group, "", topic, 0).RequestWith(ctx, cl)
	require.NoError(t, err)
	require.Equal(t, kerr.MemberIDRequired.Code, resp.ErrorCode)
	resp, err = joinRequest(group, resp.MemberID, topic, 0).RequestWith(ctx, cl)
	require.NoError(t, err)
	require.NoError(t, kerr.ErrorForCode(resp.ErrorCode))
	require.Equal(t, resp.MemberID, resp.LeaderID)
	m := rawMember{group: group, memberID: resp.MemberID, generation: resp.Generation}

	a := kmsg.NewConsumerMemberAssignment()
	at := kmsg.NewConsumerMemberAssignmentTopic()
	at.Topic = topic
	for p := range partitions {
		at.Partitions = append(at.Partitions, p)
	}
	a.Topics = append(a.Topics, at)
	sync := kmsg.NewPtrSyncGroupRequest()
	sync.Group, sync.MemberID, sync.Generation = group, m.memberID, m.generation
	sync.ProtocolType, sync.Protocol = kmsg.StringPtr("consumer"), kmsg.StringPtr("range")
	sa := kmsg.NewSyncGroupRequestGroupAssignment()
	sa.MemberID = m.memberID
	sa.MemberAssignment = a.AppendTo(nil)
	sync.GroupAssignment = append(sync.GroupAssignment, sa)
	sresp, err := sync.RequestWith(ctx, cl)
	require.NoError(t, err)
	require.NoError(t, kerr.ErrorForCode(sresp.ErrorCode))
	return m
}

func heartbeat(t *testing.T, ctx context.Context, cl *kgo.Client, group, member string, gen int32) int16 {
	t.Helper()
	req := kmsg.NewPtrHeartbeatRequest()
	req.Group, req.MemberID, req.Generation = group, member, gen
	resp, err := req.RequestWith(ctx, cl)
	require.NoError(t, err)
	return resp.ErrorCode
}

// commit commits offset to each (topic, partition) and returns the codes.
func commit(t *testing.T, ctx context.Context, cl *kgo.Client, group, member string, gen int32, offset int64, tps map[string][]int32) map[string]map[int32]int16 {
	t.Helper()
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Group, req.MemberID, req.Generation = group, member, gen
	for topic, ps := range tps {
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic = topic
		for _, p := range ps {
			rp := kmsg.NewOffsetCommitRequestTopicPartition()
			rp.Partition, rp.Offset, rp.LeaderEpoch = p, offset, -1
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(ctx, cl)
	require.NoError(t, err)
	out := map[string]map[int32]int16{}
	for _, rt := range resp.Topics {
		out[rt.Topic] = map[int32]int16{}
		for _, rp := range rt.Partitions {
			out[rt.Topic][rp.Partition] = rp.ErrorCode
		}
	}
	return out
}

func TestGroupBadRequests(t *testing.T) {
	b := startGroupBroker(t)
	bs := b.Addr()
	topic := topicFor(t)
	createTopic(t, bs, topic, 2)
	ctx := caseContext(t)
	cl := newKgo(t, bs)
	code := func(c int16) string { // names codes in failure messages
		if err := kerr.ErrorForCode(c); err != nil {
			return err.Error()
		}
		return "NONE"
	}

	// An unknown group is Dead (GROUP_ID_NOT_FOUND from DescribeGroups v6).
	for _, c := range []*kgo.Client{newKgo(t, bs, kgo.MaxVersions(kversion.V3_0_0())), cl} {
		req := kmsg.NewPtrDescribeGroupsRequest()
		req.Groups = []string{"no-such-group"}
		resp, err := req.RequestWith(ctx, c)
		require.NoError(t, err)
		require.Len(t, resp.Groups, 1)
		g := resp.Groups[0]
		assert.Equal(t, "Dead", g.State, "v%d", resp.Version)
		assert.Empty(t, g.Members)
		want := int16(0)
		if resp.Version >= 6 {
			want = kerr.GroupIDNotFound.Code
		}
		assert.Equal(t, code(want), code(g.ErrorCode), "DescribeGroups v%d", resp.Version)
	}
	assert.Equal(t, code(kerr.UnknownMemberID.Code), code(heartbeat(t, ctx, cl, "no-such-group", "m", 1)), "heartbeat to an unknown group")

	group := "bad-requests"
	m := joinAndSync(t, ctx, cl, group, topic, 2)
	all := map[string][]int32{topic: {0, 1}}
	require.Equal(t, map[string]map[int32]int16{topic: {0: 0, 1: 0}}, commit(t, ctx, cl, group, m.memberID, m.generation, 7, all))

	// Wrong generation, never-issued member id.
	assert.Equal(t, code(kerr.IllegalGeneration.Code), code(heartbeat(t, ctx, cl, group, m.memberID, m.generation+1)))
	assert.Equal(t, code(kerr.UnknownMemberID.Code), code(heartbeat(t, ctx, cl, group, "never-issued", m.generation)))
	for p, c := range commit(t, ctx, cl, group, m.memberID, m.generation+1, 99, all)[topic] {
		assert.Equal(t, code(kerr.IllegalGeneration.Code), code(c), "commit with a wrong generation, partition %d", p)
	}
	for p, c := range commit(t, ctx, cl, group, "never-issued", m.generation, 99, all)[topic] {
		assert.Equal(t, code(kerr.UnknownMemberID.Code), code(c), "commit by an unknown member, partition %d", p)
	}
	sync := kmsg.NewPtrSyncGroupRequest()
	sync.Group, sync.MemberID, sync.Generation = group, m.memberID, m.generation+5
	sresp, err := sync.RequestWith(ctx, cl)
	require.NoError(t, err)
	assert.Equal(t, code(kerr.IllegalGeneration.Code), code(sresp.ErrorCode), "SyncGroup with a wrong generation")

	// Commits to a partition or topic that does not exist fail alone.
	got := commit(t, ctx, cl, group, m.memberID, m.generation, 9, map[string][]int32{topic: {1, 5}, "no-such-topic": {0}})
	assert.Equal(t, code(0), code(got[topic][1]))
	assert.Equal(t, code(kerr.UnknownTopicOrPartition.Code), code(got[topic][5]))
	assert.Equal(t, code(kerr.UnknownTopicOrPartition.Code), code(got["no-such-topic"][0]))

	// A partition added to the topic takes commits at once (the broker
	// caches partition counts, but not misses).
	adm := kadm.NewClient(cl)
	_, err = adm.CreatePartitions(ctx, 3, topic)
	require.NoError(t, err)
	got = commit(t, ctx, cl, group, m.memberID, m.generation, 4, map[string][]int32{topic: {2}})
	assert.Equal(t, code(0), code(got[topic][2]), "commit to a new partition")

	// Oversized protocol metadata from a new member is refused (Strom
	// bounds it; see coord/group) without touching the group.
	big := joinRequest(group, "", topic, 1<<20)
	jresp, err := big.RequestWith(ctx, cl)
	require.NoError(t, err)
	assert.Equal(t, code(kerr.InvalidRequest.Code), code(jresp.ErrorCode), "oversized protocol metadata")

	// Nothing was lost: the member is still in generation m.generation and
	// the offsets are the ones the valid commits wrote.
	assert.Equal(t, code(0), code(heartbeat(t, ctx, cl, group, m.memberID, m.generation)))
	fetch := kmsg.NewPtrOffsetFetchRequest()
	fetch.Group = group
	fresp, err := fetch.RequestWith(ctx, cl)
	require.NoError(t, err)
	require.NoError(t, kerr.ErrorForCode(fresp.ErrorCode))
	offsets := map[string]map[int32]int64{}
	for _, rt := range fresp.Topics {
		for _, rp := range rt.Partitions {
			require.NoError(t, kerr.ErrorForCode(rp.ErrorCode))
			if offsets[rt.Topic] == nil {
				offsets[rt.Topic] = map[int32]int64{}
			}
			offsets[rt.Topic][rp.Partition] = rp.Offset
		}
	}
	assert.Equal(t, map[string]map[int32]int64{topic: {0: 7, 1: 9, 2: 4}}, offsets)
	dreq := kmsg.NewPtrDescribeGroupsRequest()
	dreq.Groups = []string{group}
	dresp, err := dreq.RequestWith(ctx, cl)
	require.NoError(t, err)
	require.Len(t, dresp.Groups, 1)
	assert.Equal(t, "Stable", dresp.Groups[0].State)
	require.Len(t, dresp.Groups[0].Members, 1)
	assert.Equal(t, m.memberID, dresp.Groups[0].Members[0].MemberID)
}
