package broker

import (
	"context"
	"errors"
	"math"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/engine/partlog"
	"github.com/strom-broker/strom/net/fetchwire"
	"github.com/strom-broker/strom/net/kerr"
	"github.com/strom-broker/strom/replication"
	"github.com/strom-broker/strom/tools/broker/fetchsession"
)

// Fetch (key 1). Record data is never copied: each partition's answer is a
// list of file slices of its segments, sent with sendfile by the server;
// the slices' segments stay pinned until the response is written.
//
// Consumers read committed records only (below the high watermark); there
// are no transactions yet, so the last stable offset is the high watermark
// for both isolation levels.
//
// Fetch sessions (KIP-227, v7+; package fetchsession has the rules): a
// full request (session epoch 0) gets a new session's id when the cache
// (max.incremental.fetch.session.cache.slots) has room; an incremental one
// names only changed partitions, and its answer carries only partitions
// with records, a new high watermark or log start offset, an error or a
// diverging epoch. Session errors (FETCH_SESSION_ID_NOT_FOUND,
// INVALID_FETCH_SESSION_EPOCH, FETCH_SESSION_TOPIC_ID_ERROR) are answered
// at the top level with no partitions. Followers' sessions are privileged.
//
// Truncation on fetch (v12+): a partition that names its LastFetchedEpoch
// is checked against the leader's epochs first; a diverged one is answered
// with DivergingEpoch and no records (replication.Partition.DivergingEpoch).
//
// Long polling: when fewer than min.bytes are available the request waits,
// up to max.wait.ms, for any of its partitions' high watermarks to advance,
// then reads again. As Kafka's ReplicaManager.fetchMessages, it answers at
// once when max.wait.ms <= 0, when min.bytes is satisfied (always with
// min.bytes <= 0), and when any partition has an error or a diverging
// epoch (unknown partition,
// NOT_LEADER_OR_FOLLOWER, FENCED_LEADER_EPOCH, OFFSET_OUT_OF_RANGE, ...):
// an error is news the client must act on, whatever max.wait.ms it sent.
//
// From v15 the fetching replica's id is ReplicaState's (the top-level
// replica id is -1 there). A follower fetch reads up to the log end and
// long-polls on appends; one naming a replica id that is not an assigned
// follower is refused (UNKNOWN_LEADER_EPOCH with a current leader epoch,
// else NOT_LEADER_OR_FOLLOWER) and changes nothing. From v16, partitions answered
// NOT_LEADER_OR_FOLLOWER or FENCED_LEADER_EPOCH carry the current leader,
// and the response its endpoint on the request's listener (KIP-951, as
// Kafka's KafkaApis.handleFetchRequest).
func (b *Broker) handleFetch(ctx context.Context, req *kmsg.FetchRequest, listener string) (*fetchwire.FetchResponse, error) {
	fc := b.sessions.NewContext(sessionRequest(req))
	if err := fc.Err(); err != nil {
		// The session's partitions are unknown: an error and nothing else.
		return &fetchwire.FetchResponse{ErrorCode: kerr.Code(err)}, nil
	}
	items := fc.Partitions()
	deadline := time.Now().Add(time.Duration(max(req.MaxWaitMillis, 0)) * time.Millisecond)
	for {
		r := b.fetchOnce(req, items)
		if r.bytes >= int64(req.MinBytes) || req.MaxWaitMillis <= 0 || len(r.changed) == 0 || r.failed {
			return b.answerFetch(ctx, req, listener, fc, items, r), nil
		}
		wait := time.Until(deadline)
		if wait <= 0 {
			return b.answerFetch(ctx, req, listener, fc, items, r), nil
		}
		r.release()
		if !waitAny(ctx, b.stopping, r.changed, wait) {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			// Timed out: answer with what there is now.
			return b.answerFetch(ctx, req, listener, fc, items, b.fetchOnce(req, items)), nil
		}
	}
}

// sessionRequest returns the fetch-session part of req (v0-6: sessionless).
func sessionRequest(req *kmsg.FetchRequest) fetchsession.Request {
	r := fetchsession.Request{SessionID: req.SessionID, Epoch: req.SessionEpoch, UsesTopicIDs: req.Version >= 13,
		Privileged: fetchReplicaID(req) >= 0}
	if req.Version < 7 {
		r.SessionID, r.Epoch = fetchsession.InvalidSessionID, fetchsession.FinalEpoch
	}
	key := func(topic string, id [16]byte, partition int32) fetchsession.Key {
		if r.UsesTopicIDs {
			return fetchsession.Key{TopicID: id, Partition: partition}
		}
		return fetchsession.Key{Topic: topic, Partition: partition}
	}
	for _, rt := range req.Topics {
		for _, rp := range rt.Partitions {
			lastFetched := int32(-1)
			if req.Version >= 12 {
				lastFetched = rp.LastFetchedEpoch
			}
			r.Partitions = append(r.Partitions, fetchsession.Wanted{Key: key(rt.Topic, rt.TopicID, rp.Partition),
				Params: fetchsession.Params{FetchOffset: rp.FetchOffset, LogStartOffset: rp.LogStartOffset,
					MaxBytes: rp.PartitionMaxBytes, CurrentLeaderEpoch: rp.CurrentLeaderEpoch, LastFetchedEpoch: lastFetched}})
		}
	}
	if req.Version >= 7 {
		for _, ft := range req.ForgottenTopics {
			for _, p := range ft.Partitions {
				r.Forgotten = append(r.Forgotten, key(ft.Topic, ft.TopicID, p))
			}
		}
	}
	return r
}

// fetchReplicaID is the fetching replica's id (-1 for a consumer); from
// v15 it is ReplicaState's (the top-level replica id is -1 there).
func fetchReplicaID(req *kmsg.FetchRequest) int32 {
	if req.Version >= 15 {
		return req.ReplicaState.ID
	}
	return req.ReplicaID
}

// waitAny waits until one of chans (at least one) is closed (true), or d
// passes, stop is closed or ctx ends (false).
func waitAny(ctx context.Context, stop <-chan struct{}, chans []<-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	wake := chans[0] // one partition, the common consumer: no watcher hop
	if len(chans) > 1 {
		merged := make(chan struct{}, 1)
		done := make(chan struct{}) // ends the watchers below
		defer close(done)
		for _, ch := range chans {
			go func() {
				select {
				case <-ch:
					select {
					case merged <- struct{}{}:
					default:
					}
				case <-done:
				}
			}()
		}
		wake = merged
	}
	select {
	case <-wake:
		return true
	case <-t.C:
		return false
	case <-stop:
		return false
	case <-ctx.Done():
		return false
	}
}

// fetchRound is one read of every partition of a request.
type fetchRound struct {
	parts   []fetchwire.Partition // parts[i] answers items[i]
	reads   []*partlog.ReadResult // pinned until the response is written
	bytes   int64                 // record bytes held
	changed []<-chan struct{}     // the read partitions' change channels, for long polling
	failed  bool                  // a partition answers an error or a diverging epoch
}

func (r *fetchRound) release() {
	for _, rr := range r.reads {
		rr.Release()
	}
	r.reads = nil
}

// fetchOnce reads every partition of items once.
func (b *Broker) fetchOnce(req *kmsg.FetchRequest, items []fetchsession.Wanted) *fetchRound {
	r := &fetchRound{parts: make([]fetchwire.Partition, len(items))}
	remaining := int64(math.MaxInt32)
	if req.Version >= 3 {
		remaining = int64(req.MaxBytes)
	}
	replicaID := fetchReplicaID(req)
	follower := replicaID >= 0
	for i, it := range items {
		topic := it.Topic
		if req.Version >= 13 {
			topic = b.parts.topicName(it.TopicID)
		}
		op := &r.parts[i]
		*op = fetchwire.Partition{Partition: it.Partition, HighWatermark: -1, LastStableOffset: -1, LogStartOffset: -1, PreferredReadReplica: -1}
		p, ok := b.parts.get(topic, it.Partition)
		switch {
		case topic == "" && req.Version >= 13:
			op.ErrorCode = kerr.UnknownTopicID.Code
		case !ok:
			op.ErrorCode = kerr.Code(b.parts.notHosted(topic, it.Partition))
		case !p.IsLeader():
			op.ErrorCode = kerr.NotLeaderForPartition.Code
		default:
			n := b.readPartition(r, op, p, it, follower, replicaID, remaining)
			remaining -= n
		}
		r.failed = r.failed || op.ErrorCode != 0 || op.DivergingEpoch != nil
	}
	return r
}

// readPartition fills op with p's answer to it (p leads) and returns the
// record bytes it holds.
func (b *Broker) readPartition(r *fetchRound, op *fetchwire.Partition, p *replication.Partition, it fetchsession.Wanted,
	follower bool, replicaID int32, remaining int64) int64 {
	if err := p.CheckEpoch(it.CurrentLeaderEpoch); err != nil {
		op.ErrorCode = errorCode(err)
		return 0
	}
	if follower {
		// A follower waits for data, not for the high
		// watermark (which its own next fetch moves).
		r.changed = append(r.changed, p.Log().AppendNotify())
	} else {
		r.changed = append(r.changed, p.Changed())
	}
	hw := p.HighWatermark()
	op.HighWatermark, op.LastStableOffset, op.LogStartOffset = hw, hw, p.Log().LogStartOffset()
	if it.LastFetchedEpoch >= 0 {
		// Truncation on fetch (v12+): a diverged log gets where its last
		// epoch ends here instead of records, and the fetch changes no
		// follower state.
		end, diverged, err := p.DivergingEpoch(it.LastFetchedEpoch, it.FetchOffset)
		switch {
		case err != nil:
			op.ErrorCode = errorCode(err)
			return 0
		case diverged:
			op.DivergingEpoch = &fetchwire.EpochEndOffset{Epoch: end.Epoch, EndOffset: end.EndOffset}
			return 0
		}
	}
	limit := min(int64(it.MaxBytes), remaining)
	if r.bytes == 0 {
		limit = max(limit, 1) // the first data returned may exceed the limits
	}
	var res *partlog.ReadResult
	var err error
	if follower {
		res, _, err = p.FollowerFetch(replicaID, it.FetchOffset, int(limit))
	} else {
		res, err = p.ReadCommitted(it.FetchOffset, int(max(limit, 0)))
	}
	hw = p.HighWatermark()
	op.HighWatermark, op.LastStableOffset, op.LogStartOffset = hw, hw, p.Log().LogStartOffset()
	switch {
	case errors.Is(err, replication.ErrNotAssignedReplica) && it.CurrentLeaderEpoch >= 0:
		// Kafka's Partition.followerReplicaOrThrow.
		op.ErrorCode = kerr.UnknownLeaderEpoch.Code
	case errors.Is(err, replication.ErrNotAssignedReplica):
		op.ErrorCode = kerr.NotLeaderForPartition.Code
	case err != nil:
		op.ErrorCode = errorCode(err)
	}
	if err != nil {
		return 0
	}
	if r.bytes > 0 && res.Size() > limit {
		// The engine returns at least one whole batch; only
		// the response's first data may exceed the limits.
		res.Release()
		return 0
	}
	r.reads = append(r.reads, res)
	for _, s := range res.Slices {
		op.Records = append(op.Records, fetchwire.FileSlice(s.File, s.Pos, s.Len))
	}
	n := res.Size()
	r.bytes += n
	return n
}

// answerFetch turns a round into the response: the session decides which
// partitions it carries (all, or for an incremental fetch the changed
// ones) and its session id. Partitions of one topic read one after the
// other share a topic entry (Kafka's FetchResponse.of).
func (b *Broker) answerFetch(ctx context.Context, req *kmsg.FetchRequest, listener string, fc *fetchsession.Context,
	items []fetchsession.Wanted, r *fetchRound) *fetchwire.FetchResponse {
	results := make([]fetchsession.Result, len(items))
	for i := range r.parts {
		op := &r.parts[i]
		results[i] = fetchsession.Result{HighWatermark: op.HighWatermark, LogStartOffset: op.LogStartOffset,
			HasRecords: op.RecordsLen() > 0, HasError: op.ErrorCode != 0, DivergingEpoch: op.DivergingEpoch != nil,
			PreferredReadReplica: op.PreferredReadReplica >= 0}
	}
	sessionID, include, err := fc.Respond(results)
	resp := &fetchwire.FetchResponse{SessionID: sessionID, Release: r.release}
	if err != nil {
		resp.ErrorCode = kerr.Code(err)
		return resp
	}
	for i, it := range items {
		if !include[i] {
			continue
		}
		if n := len(resp.Topics); n == 0 || resp.Topics[n-1].Topic != it.Topic || resp.Topics[n-1].TopicID != it.TopicID {
			resp.Topics = append(resp.Topics, fetchwire.Topic{Topic: it.Topic, TopicID: it.TopicID})
		}
		t := &resp.Topics[len(resp.Topics)-1]
		t.Partitions = append(t.Partitions, r.parts[i])
	}
	b.addLeaderHints(ctx, req, resp, listener)
	return resp
}

// addLeaderHints fills KIP-951's current leader and node endpoints into a
// v16+ answer (see handleFetch).
func (b *Broker) addLeaderHints(ctx context.Context, req *kmsg.FetchRequest, resp *fetchwire.FetchResponse, listener string) {
	if req.Version < 16 {
		return
	}
	var nodes nodeSet
	for i := range resp.Topics {
		ot := &resp.Topics[i]
		topic := b.parts.topicName(ot.TopicID)
		for j := range ot.Partitions {
			op := &ot.Partitions[j]
			if op.ErrorCode != kerr.NotLeaderForPartition.Code && op.ErrorCode != kerr.FencedLeaderEpoch.Code {
				continue
			}
			h := b.currentLeader(ctx, topic, op.Partition, listener)
			op.CurrentLeader = &fetchwire.LeaderIDAndEpoch{LeaderID: h.leaderID, LeaderEpoch: h.leaderEpoch}
			nodes.add(h)
		}
	}
	for _, n := range nodes.nodes {
		resp.NodeEndpoints = append(resp.NodeEndpoints, fetchwire.NodeEndpoint{NodeID: n.id, Host: n.host, Port: n.port, Rack: n.rack})
	}
}

// FetchSessions returns the figures of the broker's fetch sessions.
func (b *Broker) FetchSessions() fetchsession.Stats { return b.sessions.Stats() }
