package broker_test

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/net/kerr"
	"github.com/strom-broker/strom/tools/broker/brokertest"
)

// sessionFetch builds a Fetch naming session id/epoch; offsets maps
// partition -> fetch offset of the partitions the request lists, forget
// the forgotten ones.
func sessionFetch(topic string, id, epoch int32, offsets map[int32]int64, forget ...int32) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID, req.MaxBytes, req.SessionID, req.SessionEpoch = -1, 1<<20, id, epoch
	if len(offsets) > 0 {
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic = topic
		for p, off := range offsets {
			rp := kmsg.NewFetchRequestTopicPartition()
			rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch, rp.LogStartOffset = p, off, 1<<20, -1, -1
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
	}
	if len(forget) > 0 {
		ft := kmsg.NewFetchRequestForgottenTopic()
		ft.Topic, ft.Partitions = topic, forget
		req.ForgottenTopics = append(req.ForgottenTopics, ft)
	}
	return req
}

// answered returns the partitions of resp, sorted, with whether each
// carried records.
func answered(resp *kmsg.FetchResponse) map[int32]bool {
	out := map[int32]bool{}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			out[p.Partition] = len(p.RecordBatches) > 0
		}
	}
	return out
}

// TestFetchSessionRules drives KIP-227 with kmsg against a real broker: a
// full request opens a session; incremental requests carry only changed
// partitions and get only partitions with news; a replayed epoch, an
// unknown id and a topic-id switch are refused at the top level with
// Kafka's codes and leave the session usable; forgotten partitions are
// not answered; the final epoch closes the session.
func TestFetchSessionRules(t *testing.T) {
	b := brokertest.Start(t)
	const topic = "sessions"
	createTopic(t, b, topic, 3)
	c := rawConn(t, b)
	require.Zero(t, produceOne(t, c, topic, 0, 1, rawBatch(1, []byte("a"), []byte("b"))).ErrorCode)
	fetch := func(req *kmsg.FetchRequest, v int16) *kmsg.FetchResponse {
		t.Helper()
		return request[*kmsg.FetchResponse](t, c, req, v)
	}

	// Full (epoch 0): every partition, a new session.
	resp := fetch(sessionFetch(topic, 0, 0, map[int32]int64{0: 0, 1: 0, 2: 0}), 12)
	require.Zero(t, resp.ErrorCode)
	id := resp.SessionID
	require.NotZero(t, id, "a session was created")
	assert.Equal(t, map[int32]bool{0: true, 1: false, 2: false}, answered(resp))
	st := b.FetchSessions()
	assert.Equal(t, 1, st.Sessions)
	assert.Equal(t, 3, st.Partitions)

	// Epoch 1: partition 0 moves past its records; nothing is news.
	resp = fetch(sessionFetch(topic, id, 1, map[int32]int64{0: 2}), 12)
	require.Zero(t, resp.ErrorCode)
	assert.Equal(t, id, resp.SessionID)
	assert.Empty(t, answered(resp), "no partition changed")

	// Epoch 2: records arrive on partition 2 only; the empty incremental
	// request reads the whole session and answers partition 2 alone.
	require.Zero(t, produceOne(t, c, topic, 2, 1, rawBatch(1, []byte("c"))).ErrorCode)
	resp = fetch(sessionFetch(topic, id, 2, nil), 12)
	require.Zero(t, resp.ErrorCode)
	assert.Equal(t, map[int32]bool{2: true}, answered(resp))
	assert.Equal(t, int64(1), resp.Topics[0].Partitions[0].HighWatermark)

	// Refusals, each at the top level with no partitions and session id 0,
	// and none of them moves the session on.
	for _, tc := range []struct {
		name string
		req  *kmsg.FetchRequest
		v    int16
		want *kerr.Error
	}{
		{"a replayed epoch", sessionFetch(topic, id, 2, nil), 12, kerr.InvalidFetchSessionEpoch},
		{"a future epoch", sessionFetch(topic, id, 9, nil), 12, kerr.InvalidFetchSessionEpoch},
		{"an unknown session", sessionFetch(topic, id+1, 3, nil), 12, kerr.FetchSessionIDNotFound},
		{"topic ids in a session by name", sessionFetch(topic, id, 3, nil), 13, kerr.FetchSessionTopicIDError},
	} {
		r := fetch(tc.req, tc.v)
		assert.Equal(t, tc.want.Code, r.ErrorCode, tc.name)
		assert.Empty(t, r.Topics, tc.name)
		assert.Zero(t, r.SessionID, tc.name)
	}

	// Epoch 3 (the session still expects it): partition 2 is forgotten,
	// so new records there are not answered; partition 1's are.
	require.Zero(t, produceOne(t, c, topic, 2, 1, rawBatch(1, []byte("d"))).ErrorCode)
	require.Zero(t, produceOne(t, c, topic, 1, 1, rawBatch(1, []byte("e"))).ErrorCode)
	resp = fetch(sessionFetch(topic, id, 3, nil, 2), 12)
	require.Zero(t, resp.ErrorCode)
	assert.Equal(t, map[int32]bool{1: true}, answered(resp))
	assert.Equal(t, 2, b.FetchSessions().Partitions)

	// An error is always news: a partition the broker does not have.
	resp = fetch(sessionFetch(topic, id, 4, map[int32]int64{7: 0}), 12)
	require.Zero(t, resp.ErrorCode)
	require.Contains(t, answered(resp), int32(7))
	for _, p := range resp.Topics[0].Partitions {
		if p.Partition == 7 {
			assert.Equal(t, kerr.UnknownTopicOrPartition.Code, p.ErrorCode)
		}
	}

	// The final epoch closes the session: a sessionless full answer.
	resp = fetch(sessionFetch(topic, id, -1, map[int32]int64{0: 0}), 12)
	require.Zero(t, resp.ErrorCode)
	assert.Zero(t, resp.SessionID)
	assert.Equal(t, map[int32]bool{0: true}, answered(resp))
	resp = fetch(sessionFetch(topic, id, 5, nil), 12)
	assert.Equal(t, kerr.FetchSessionIDNotFound.Code, resp.ErrorCode)
	assert.Zero(t, b.FetchSessions().Sessions)

	// Versions before 7 have no sessions.
	resp = fetch(sessionFetch(topic, 0, 0, map[int32]int64{0: 0}), 6)
	assert.Zero(t, resp.SessionID)
	assert.Zero(t, b.FetchSessions().Sessions)
}

// TestFetchSessionCacheSlots: with max.incremental.fetch.session.cache.slots=1
// the second consumer's full fetch gets no session (session id 0, still a
// full answer), and with 0 nobody gets one.
func TestFetchSessionCacheSlots(t *testing.T) {
	for _, slots := range []int{0, 1} {
		t.Run(fmt.Sprint("slots=", slots), func(t *testing.T) {
			b := brokertest.Start(t, fmt.Sprint("max.incremental.fetch.session.cache.slots=", slots))
			createTopic(t, b, "slots", 1)
			var ids []int32
			for range 2 {
				c := rawConn(t, b)
				resp := request[*kmsg.FetchResponse](t, c, sessionFetch("slots", 0, 0, map[int32]int64{0: 0}), 12)
				require.Zero(t, resp.ErrorCode)
				require.Len(t, answered(resp), 1, "a full answer either way")
				ids = append(ids, resp.SessionID)
			}
			if slots == 0 {
				assert.Equal(t, []int32{0, 0}, ids)
			} else {
				assert.NotZero(t, ids[0])
				assert.Zero(t, ids[1], "no room, and the first session is too recent to evict")
			}
		})
	}
}

// TestFranzGoUsesFetchSessions: franz-go's consumer opens a fetch session
// and then fetches incrementally; every record of several produce waves on
// four partitions arrives once and in order.
func TestFranzGoUsesFetchSessions(t *testing.T) {
	b := brokertest.Start(t)
	const topic, waves, perWave = "franz-sessions", 5, 40
	createTopic(t, b, topic, 4)
	prod := newClient(t, b, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	cons := newClient(t, b, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(50*time.Millisecond))
	ctx := testCtx(t)
	got := map[int32][]string{}
	n := 0
	for w := range waves {
		var recs []*kgo.Record
		for i := range perWave {
			recs = append(recs, &kgo.Record{Value: fmt.Appendf(nil, "w%d-%03d", w, i)})
		}
		produceAll(t, prod, recs...)
		for n < (w+1)*perWave {
			fs := cons.PollFetches(ctx)
			require.NoError(t, ctx.Err(), "consumed %d", n)
			fs.EachError(func(_ string, p int32, err error) { t.Fatalf("fetch %d: %v", p, err) })
			fs.EachRecord(func(r *kgo.Record) {
				got[r.Partition] = append(got[r.Partition], string(r.Value))
				n++
			})
		}
		st := b.FetchSessions()
		assert.Equal(t, 1, st.Sessions, "wave %d: the consumer keeps one session", w)
		assert.Equal(t, int64(1), st.Created, "wave %d: and fetches in it incrementally", w)
	}
	assert.Equal(t, waves*perWave, n, "nothing twice")
	for p, vs := range got {
		assert.True(t, sort.StringsAreSorted(vs), "partition %d in order", p)
	}
}
