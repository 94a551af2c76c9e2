package group

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/strom-broker/strom/engine/partlog"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// fakeClock is the injected clock; tests advance it and call Tick.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeClock) Advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

// logs is a set of partlog logs under one directory, one per
// __consumer_offsets partition, opened on demand.
type logs struct {
	t   testing.TB
	dir string
	mu  sync.Mutex
	m   map[int32]*partlog.Log
}

func (l *logs) get(p int32) (*partlog.Log, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if lg, ok := l.m[p]; ok {
		return lg, nil
	}
	cfg := partlog.DefaultConfig()
	cfg.CleanupPolicy = partlog.CleanupCompact
	lg, err := partlog.Open(filepath.Join(l.dir, fmt.Sprintf("%s-%d", OffsetsTopic, p)), cfg)
	if err != nil {
		return nil, err
	}
	l.m[p] = lg
	return lg, nil
}

func (l *logs) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for p, lg := range l.m {
		require.NoError(l.t, lg.Close())
		delete(l.m, p)
	}
}

// harness drives one coordinator with deterministic time over real logs.
type harness struct {
	t      testing.TB
	clock  *fakeClock
	logs   *logs
	cfg    Config
	c      *Coordinator
	exists func(string, int32) bool
}

func testConfig() Config {
	cfg := DefaultConfig()
	cfg.OffsetsTopicNumPartitions = 4
	cfg.GroupInitialRebalanceDelay = 0
	return cfg
}

func newHarness(t testing.TB, cfg Config) *harness {
	t.Helper()
	h := &harness{
		t:     t,
		clock: &fakeClock{now: time.UnixMilli(1_700_000_000_000)},
		logs:  &logs{t: t, dir: t.TempDir(), m: make(map[int32]*partlog.Log)},
		cfg:   cfg,
	}
	h.open()
	t.Cleanup(func() { h.c.Close(); h.logs.close() })
	return h
}

// open creates the coordinator and loads every partition.
func (h *harness) open() {
	h.t.Helper()
	c, err := New(h.cfg, NewPartlogOffsets(h.logs.get), WithClock(h.clock.Now),
		WithLogger(slog.New(slog.DiscardHandler)),
		WithPartitionExists(func(topic string, p int32) bool {
			if h.exists != nil {
				return h.exists(topic, p)
			}
			return true
		}))
	require.NoError(h.t, err)
	h.c = c
	for p := int32(0); p < h.cfg.OffsetsTopicNumPartitions; p++ {
		require.NoError(h.t, c.LoadPartition(context.Background(), p))
	}
}

// reopen closes the coordinator and the logs, reopens both from disk.
func (h *harness) reopen() {
	h.t.Helper()
	h.c.Close()
	h.logs.close()
	h.open()
}

func (h *harness) advance(d time.Duration) {
	h.clock.Advance(d)
	h.c.Tick()
}

// consumerMeta is a consumer-protocol subscription (version 0) of topics.
func consumerMeta(topics ...string) []byte {
	b := binary.BigEndian.AppendUint16(nil, 0)
	b = binary.BigEndian.AppendUint32(b, uint32(len(topics)))
	for _, t := range topics {
		b = appendString(b, t)
	}
	return binary.BigEndian.AppendUint32(b, 0xffffffff) // null user data
}

type joinOpt func(*kmsg.JoinGroupRequest)

func withInstance(id string) joinOpt {
	return func(r *kmsg.JoinGroupRequest) { r.InstanceID = &id }
}

func withProtocols(ps ...kmsg.JoinGroupRequestProtocol) joinOpt {
	return func(r *kmsg.JoinGroupRequest) { r.Protocols = ps }
}

func withVersion(v int16) joinOpt { return func(r *kmsg.JoinGroupRequest) { r.Version = v } }

func withSession(d time.Duration) joinOpt {
	return func(r *kmsg.JoinGroupRequest) { r.SessionTimeoutMillis = int32(d.Milliseconds()) }
}

func joinReq(group, memberID string, opts ...joinOpt) *kmsg.JoinGroupRequest {
	r := kmsg.NewPtrJoinGroupRequest()
	r.Version = 9
	r.Group = group
	r.MemberID = memberID
	r.SessionTimeoutMillis = 10_000
	r.RebalanceTimeoutMillis = 30_000
	r.ProtocolType = ConsumerProtocolType
	r.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: consumerMeta("t")}}
	for _, o := range opts {
		o(r)
	}
	return r
}

// joinCall is a JoinGroup in flight.
type joinCall struct {
	t    testing.TB
	resp *kmsg.JoinGroupResponse
	wait <-chan *kmsg.JoinGroupResponse
}

// poll returns the answer if there is one yet.
func (j *joinCall) poll() (*kmsg.JoinGroupResponse, bool) {
	if j.resp != nil {
		return j.resp, true
	}
	select {
	case r := <-j.wait:
		j.resp = r
		return r, true
	default:
		return nil, false
	}
}

// get returns the answer, failing the test when there is none yet.
func (j *joinCall) get() *kmsg.JoinGroupResponse {
	j.t.Helper()
	r, ok := j.poll()
	if !ok {
		j.t.Fatalf("join has no answer yet")
	}
	return r
}

// join starts a join; a join answered at once (an error,
// MEMBER_ID_REQUIRED) has its answer available immediately.
func (h *harness) join(req *kmsg.JoinGroupRequest, clientID string) *joinCall {
	resp, wait := h.c.joinGroup(req, Client{ID: clientID, Host: "/127.0.0.1"})
	return &joinCall{t: h.t, resp: resp, wait: wait}
}

// joinNew performs a v9 join with the MEMBER_ID_REQUIRED round trip and
// returns the pending second join.
func (h *harness) joinNew(group, clientID string, opts ...joinOpt) (string, *joinCall) {
	h.t.Helper()
	first := h.join(joinReq(group, "", opts...), clientID).get()
	require.Equal(h.t, ErrorName(errMemberIDRequired), ErrorName(first.ErrorCode))
	return first.MemberID, h.join(joinReq(group, first.MemberID, opts...), clientID)
}

func syncReq(group, memberID string, gen int32, assign map[string][]byte) *kmsg.SyncGroupRequest {
	r := kmsg.NewPtrSyncGroupRequest()
	r.Version = 5
	r.Group = group
	r.MemberID = memberID
	r.Generation = gen
	pt, p := ConsumerProtocolType, "range"
	r.ProtocolType, r.Protocol = &pt, &p
	ids := make([]string, 0, len(assign))
	for id := range assign {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		r.GroupAssignment = append(r.GroupAssignment, kmsg.SyncGroupRequestGroupAssignment{MemberID: id, MemberAssignment: assign[id]})
	}
	return r
}

// syncCall is a SyncGroup in flight.
type syncCall struct {
	t    testing.TB
	resp *kmsg.SyncGroupResponse
	wait <-chan *kmsg.SyncGroupResponse
}

func (c *syncCall) poll() (*kmsg.SyncGroupResponse, bool) {
	if c.resp != nil {
		return c.resp, true
	}
	select {
	case r := <-c.wait:
		c.resp = r
		return r, true
	default:
		return nil, false
	}
}

func (c *syncCall) get() *kmsg.SyncGroupResponse {
	c.t.Helper()
	r, ok := c.poll()
	if !ok {
		c.t.Fatalf("sync has no answer yet")
	}
	return r
}

func (h *harness) sync(req *kmsg.SyncGroupRequest) *syncCall {
	resp, wait := h.c.syncGroup(context.Background(), req)
	return &syncCall{t: h.t, resp: resp, wait: wait}
}

func (h *harness) heartbeat(group, memberID string, gen int32) int16 {
	r := kmsg.NewPtrHeartbeatRequest()
	r.Version = 4
	r.Group, r.MemberID, r.Generation = group, memberID, gen
	return h.c.Heartbeat(r).ErrorCode
}

func (h *harness) commit(group, memberID string, gen int32, topic string, offsets map[int32]int64) *kmsg.OffsetCommitResponse {
	r := kmsg.NewPtrOffsetCommitRequest()
	r.Version = 9
	r.Group, r.MemberID, r.Generation = group, memberID, gen
	t := kmsg.OffsetCommitRequestTopic{Topic: topic}
	ps := make([]int32, 0, len(offsets))
	for p := range offsets {
		ps = append(ps, p)
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
	for _, p := range ps {
		pp := kmsg.NewOffsetCommitRequestTopicPartition()
		pp.Partition, pp.Offset = p, offsets[p]
		md := fmt.Sprintf("md-%d", p)
		pp.Metadata = &md
		t.Partitions = append(t.Partitions, pp)
	}
	r.Topics = append(r.Topics, t)
	return h.c.OffsetCommit(context.Background(), r)
}

// fetch returns the committed offsets of group (all partitions) as a map.
func (h *harness) fetch(group string) map[topicPartition]int64 {
	h.t.Helper()
	r := kmsg.NewPtrOffsetFetchRequest()
	r.Version = 8
	r.Groups = []kmsg.OffsetFetchRequestGroup{{Group: group}}
	resp := h.c.OffsetFetch(r)
	require.Len(h.t, resp.Groups, 1)
	require.Equal(h.t, "NONE", ErrorName(resp.Groups[0].ErrorCode))
	out := make(map[topicPartition]int64)
	for _, t := range resp.Groups[0].Topics {
		for _, p := range t.Partitions {
			require.Equal(h.t, "NONE", ErrorName(p.ErrorCode))
			out[topicPartition{t.Topic, p.Partition}] = p.Offset
		}
	}
	return out
}

func (h *harness) describe(group string) kmsg.DescribeGroupsResponseGroup {
	r := kmsg.NewPtrDescribeGroupsRequest()
	r.Version = 5
	r.Groups = []string{group}
	return h.c.DescribeGroups(r).Groups[0]
}

func codeName(c int16) string { return ErrorName(c) }

// nowNanos is the wall clock for benchmark baselines only.
func nowNanos() int64 { return time.Now().UnixNano() }
