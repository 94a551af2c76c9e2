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
)

// Fetch (key 1). Record data is never copied: each partition's answer is a
// list of file slices of its segments, sent with sendfile by the server;
// the slices' segments stay pinned until the response is written.
//
// Consumers read committed records only (below the high watermark); there
// are no transactions yet, so the last stable offset is the high watermark
// for both isolation levels. Fetch sessions (v7+) are not kept: every
// response has session id 0, which clients treat as "sessionless" and keep
// sending full fetch requests.
//
// Long polling: when fewer than min.bytes are available the request waits,
// up to max.wait.ms, for any of its partitions' high watermarks to advance,
// then reads again. As Kafka's ReplicaManager.fetchMessages, it answers at
// once when max.wait.ms <= 0, when min.bytes is satisfied (always with
// min.bytes <= 0), and when any partition has an error (unknown partition,
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
	deadline := time.Now().Add(time.Duration(max(req.MaxWaitMillis, 0)) * time.Millisecond)
	for {
		resp, bytes, changed, failed := b.fetchOnce(req)
		if bytes >= int64(req.MinBytes) || req.MaxWaitMillis <= 0 || len(changed) == 0 || failed {
			b.addLeaderHints(ctx, req, resp, listener)
			return resp, nil
		}
		wait := time.Until(deadline)
		if wait <= 0 {
			return resp, nil
		}
		resp.Release()
		if !waitAny(ctx, b.stopping, changed, wait) {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			// Timed out: answer with what there is now.
			resp, _, _, _ = b.fetchOnce(req)
			b.addLeaderHints(ctx, req, resp, listener)
			return resp, nil
		}
	}
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

// fetchOnce reads every requested partition once. It returns the response
// (its Release unpins what was read), the record bytes it holds, and the
// change channels of the partitions that were read, for long polling, and
// whether any partition answers an error.
func (b *Broker) fetchOnce(req *kmsg.FetchRequest) (*fetchwire.FetchResponse, int64, []<-chan struct{}, bool) {
	resp := &fetchwire.FetchResponse{}
	var reads []*partlog.ReadResult
	resp.Release = func() {
		for _, r := range reads {
			r.Release()
		}
		reads = nil
	}
	remaining := int64(math.MaxInt32)
	if req.Version >= 3 {
		remaining = int64(req.MaxBytes)
	}
	var total int64
	var changed []<-chan struct{}
	failed := false
	replicaID := req.ReplicaID
	if req.Version >= 15 {
		replicaID = req.ReplicaState.ID
	}
	follower := replicaID >= 0
	for _, rt := range req.Topics {
		topic := rt.Topic
		if req.Version >= 13 {
			topic = b.parts.topicName(rt.TopicID)
		}
		ot := fetchwire.Topic{Topic: rt.Topic, TopicID: rt.TopicID}
		for _, rp := range rt.Partitions {
			op := fetchwire.Partition{Partition: rp.Partition, HighWatermark: -1, LastStableOffset: -1, LogStartOffset: -1, PreferredReadReplica: -1}
			p, ok := b.parts.get(topic, rp.Partition)
			switch {
			case topic == "" && req.Version >= 13:
				op.ErrorCode = kerr.UnknownTopicID.Code
			case !ok:
				op.ErrorCode = kerr.Code(b.parts.notHosted(topic, rp.Partition))
			case !p.IsLeader():
				op.ErrorCode = kerr.NotLeaderForPartition.Code
			default:
				if err := p.CheckEpoch(rp.CurrentLeaderEpoch); err != nil {
					op.ErrorCode = errorCode(err)
					break
				}
				if follower {
					// A follower waits for data, not for the high
					// watermark (which its own next fetch moves).
					changed = append(changed, p.Log().AppendNotify())
				} else {
					changed = append(changed, p.Changed())
				}
				limit := min(int64(rp.PartitionMaxBytes), remaining)
				if total == 0 {
					limit = max(limit, 1) // the first data returned may exceed the limits
				}
				var res *partlog.ReadResult
				var err error
				if follower {
					res, _, err = p.FollowerFetch(replicaID, rp.FetchOffset, int(limit))
				} else {
					res, err = p.ReadCommitted(rp.FetchOffset, int(max(limit, 0)))
				}
				hw := p.HighWatermark()
				op.HighWatermark, op.LastStableOffset, op.LogStartOffset = hw, hw, p.Log().LogStartOffset()
				switch {
				case errors.Is(err, replication.ErrNotAssignedReplica) && rp.CurrentLeaderEpoch >= 0:
					// Kafka's Partition.followerReplicaOrThrow.
					op.ErrorCode = kerr.UnknownLeaderEpoch.Code
				case errors.Is(err, replication.ErrNotAssignedReplica):
					op.ErrorCode = kerr.NotLeaderForPartition.Code
				case err != nil:
					op.ErrorCode = errorCode(err)
				}
				if err != nil {
					break
				}
				if total > 0 && res.Size() > limit {
					// The engine returns at least one whole batch; only
					// the response's first data may exceed the limits.
					res.Release()
					break
				}
				reads = append(reads, res)
				for _, s := range res.Slices {
					op.Records = append(op.Records, fetchwire.FileSlice(s.File, s.Pos, s.Len))
				}
				n := res.Size()
				total += n
				remaining -= n
			}
			failed = failed || op.ErrorCode != 0
			ot.Partitions = append(ot.Partitions, op)
		}
		resp.Topics = append(resp.Topics, ot)
	}
	return resp, total, changed, failed
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
