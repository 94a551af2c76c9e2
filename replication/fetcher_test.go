package replication

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/engine/partlog"
	"github.com/strom-broker/strom/net/apis"
	"github.com/strom-broker/strom/net/kerr"
	"github.com/strom-broker/strom/net/server"
)

// leaderServer serves one leader Partition over a real net/server the way
// the broker's handlers do (tools/broker: 01_fetch.go,
// 23_offset_for_leader_epoch.go, 02_list_offsets.go), reduced to what a
// follower sends. The broker itself cannot be imported here (it imports
// this module); tools/clustertest runs the fetchers against real brokers.
type leaderServer struct {
	p *Partition
	// diverged and asked count DivergingEpoch answers and
	// OffsetForLeaderEpoch requests; behind counts fetches answered
	// UNKNOWN_LEADER_EPOCH (the follower names an epoch the leader has not
	// reached).
	diverged, asked, behind atomic.Int32
}

func (h *leaderServer) APIVersions() []apis.Range {
	return []apis.Range{{Key: 1, Min: 12, Max: 12}, {Key: 2, Min: 1, Max: 7}, {Key: 18, Min: 0, Max: 4}, {Key: 23, Min: 3, Max: 4}}
}

func (h *leaderServer) Handle(_ context.Context, req *server.Request) (server.Response, error) {
	p := h.p
	switch r := req.Body.(type) {
	case *kmsg.FetchRequest:
		resp := r.ResponseKind().(*kmsg.FetchResponse)
		for _, rt := range r.Topics {
			st := kmsg.NewFetchResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewFetchResponseTopicPartition()
				sp.Partition = rp.Partition
				if err := p.CheckEpoch(rp.CurrentLeaderEpoch); errors.Is(err, ErrUnknownLeaderEpoch) {
					h.behind.Add(1)
					sp.ErrorCode = kerr.UnknownLeaderEpoch.Code
				} else if err != nil {
					sp.ErrorCode = kerr.FencedLeaderEpoch.Code
				} else if end, diverged, err := p.DivergingEpoch(rp.LastFetchedEpoch, rp.FetchOffset); rp.LastFetchedEpoch >= 0 && (err != nil || diverged) {
					if diverged {
						h.diverged.Add(1)
					}
					sp.ErrorCode = kerr.Code(err)
					sp.DivergingEpoch.Epoch, sp.DivergingEpoch.EndOffset = end.Epoch, end.EndOffset
				} else if res, _, err := p.FollowerFetch(r.ReplicaID, rp.FetchOffset, int(rp.PartitionMaxBytes)); errors.Is(err, partlog.ErrOffsetOutOfRange) {
					sp.ErrorCode = kerr.OffsetOutOfRange.Code
				} else if err != nil {
					return nil, err
				} else {
					res.Release()
					sp.RecordBatches, err = p.Log().ReadBytes(rp.FetchOffset, int(rp.PartitionMaxBytes), p.Log().LogEndOffset())
					if err != nil {
						return nil, err
					}
					if len(sp.RecordBatches) == 0 {
						time.Sleep(5 * time.Millisecond) // a crude long poll
					}
				}
				sp.HighWatermark, sp.LogStartOffset = p.HighWatermark(), p.Log().LogStartOffset()
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil
	case *kmsg.OffsetForLeaderEpochRequest:
		h.asked.Add(1)
		resp := r.ResponseKind().(*kmsg.OffsetForLeaderEpochResponse)
		for _, rt := range r.Topics {
			st := kmsg.NewOffsetForLeaderEpochResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.LeaderEpoch, sp.EndOffset = p.Log().EndOffsetForEpoch(rp.LeaderEpoch)
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil
	case *kmsg.ListOffsetsRequest:
		resp := r.ResponseKind().(*kmsg.ListOffsetsResponse)
		for _, rt := range r.Topics {
			st := kmsg.NewListOffsetsResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewListOffsetsResponseTopicPartition()
				sp.Partition, sp.Offset = rp.Partition, p.Log().LogEndOffset()
				if rp.Timestamp == -2 {
					sp.Offset = p.Log().LogStartOffset()
				}
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil
	}
	return nil, errors.New("unexpected request")
}

// serveLeader serves p on a loopback port and returns its address.
func serveLeader(t *testing.T, p *Partition) (string, *leaderServer) {
	t.Helper()
	addr, h, _ := serveLeaderAt(t, p, "127.0.0.1:0")
	return addr, h
}

// serveLeaderAt serves p on addr and returns the bound address, the
// handler and a function that stops the server (also called when t ends).
func serveLeaderAt(t *testing.T, p *Partition, addr string) (string, *leaderServer, func()) {
	t.Helper()
	h := &leaderServer{p: p}
	srv, err := server.New(server.Config{Logger: quietLogger()}, h)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	go func() { _ = srv.Serve(ln) }()
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}
	t.Cleanup(stop)
	return ln.Addr().String(), h, stop
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// eventually polls cond until it holds or a generous deadline passes.
func eventually(t *testing.T, what string, cond func() bool, state func() string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached: %s", what, state())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestFetcherCopiesLeader: a follower whose log diverged (epochs 2 and 4
// the leader never had) is truncated by leader epoch over the wire and
// copies the leader, records appended later included; a second follower
// whose log lies wholly below the leader's log start restarts at it
// (OFFSET_OUT_OF_RANGE; the start lies inside the leader's first batch, so
// the log restarts at that batch's base, as Kafka's does, and then takes
// the leader's log start). Both end with the leader's bytes and high
// watermark, and the leader proposes them for its ISR. Run with
// truncation on fetch (the diverged follower learns the divergence from
// DivergingEpoch, no OffsetForLeaderEpoch asked) and without it (Kafka
// before 2.7: OffsetForLeaderEpoch).
func TestFetcherCopiesLeader(t *testing.T) {
	for _, onFetch := range []bool{true, false} {
		t.Run(fmt.Sprint("truncate-on-fetch=", onFetch), func(t *testing.T) { fetcherCopiesLeader(t, onFetch) })
	}
}

func fetcherCopiesLeader(t *testing.T, onFetch bool) {
	leader := followerLog(t, 4, [2]int{1, 10}, [2]int{3, 20})
	leader.localID = 9
	var mu sync.Mutex
	var proposals [][]int32
	leader.SetISRListener(func(p *Partition) {
		c, ok := p.PendingISRChange()
		require.True(t, ok)
		mu.Lock()
		proposals = append(proposals, c.ISR)
		mu.Unlock()
		p.CompleteISRChange(c, true, c.ISR, c.PartitionEpoch+1) // the controller's yes
	})
	require.NoError(t, leader.MakeLeader(5, []int32{9, 1, 2}, []int32{9}, 0))
	addr, srv := serveLeader(t, leader)

	diverged := followerLog(t, 5, [2]int{1, 10}, [2]int{2, 5}, [2]int{4, 5})
	behind := followerLog(t, 5, [2]int{1, 3})
	behind.localID = 2

	fs := NewFetchers(FetcherConfig{BrokerID: 1, MaxWait: 50 * time.Millisecond, Backoff: 20 * time.Millisecond, Logger: quietLogger(),
		NoTruncateOnFetch: !onFetch})
	defer fs.Close()
	fs.Add(diverged, 9, addr, 5)
	eventually(t, "the diverged follower truncated by epoch and caught up", func() bool {
		return diverged.HighWatermark() == 30
	}, func() string { return fmt.Sprint(diverged.Log().LogEndOffset(), diverged.HighWatermark()) })
	want, err := leader.Log().ReadBytes(0, 1<<20, 1<<40)
	require.NoError(t, err)
	got, err := diverged.Log().ReadBytes(0, 1<<20, 1<<40)
	require.NoError(t, err)
	require.Equal(t, want, got, "the diverged tail replaced by the leader's records")
	if onFetch {
		// Epochs 1, 2, 4 against the leader's 1, 3, 5: the first answer
		// (3 ends at 30) cuts at the end of the follower's epoch 2 (15),
		// the second (1 ends at 10) at 10: KIP-279's iteration, by fetch.
		assert.Equal(t, int32(2), srv.diverged.Load(), "two DivergingEpoch answers")
		assert.Zero(t, srv.asked.Load(), "no OffsetForLeaderEpoch needed")
	} else {
		assert.Zero(t, srv.diverged.Load(), "no LastFetchedEpoch sent")
		assert.Positive(t, srv.asked.Load(), "OffsetForLeaderEpoch asked")
	}

	_, err = leader.Log().DeleteRecordsBefore(12)
	require.NoError(t, err)
	fsB := NewFetchers(FetcherConfig{BrokerID: 2, MaxWait: 50 * time.Millisecond, Backoff: 20 * time.Millisecond, Logger: quietLogger(),
		NoTruncateOnFetch: !onFetch})
	defer fsB.Close()
	fsB.Add(behind, 9, addr, 5)

	_, err = leader.Append(batch(7), AcksLeader, 1)
	require.NoError(t, err)
	eventually(t, "both followers in the ISR and the HW at the leader's end", func() bool {
		return len(leader.State().ISR) == 3 && leader.HighWatermark() == 37 &&
			diverged.HighWatermark() == 37 && behind.HighWatermark() == 37
	}, func() string {
		return fmt.Sprintf("leader ISR %v HW %d LEO %d; diverged HW %d LEO %d; behind HW %d LEO %d", leader.State().ISR, leader.HighWatermark(),
			leader.Log().LogEndOffset(), diverged.HighWatermark(), diverged.Log().LogEndOffset(), behind.HighWatermark(), behind.Log().LogEndOffset())
	})
	want, err = leader.Log().ReadBytes(12, 1<<20, 1<<40)
	require.NoError(t, err)
	for name, f := range map[string]*Partition{"diverged": diverged, "behind": behind} {
		got, err := f.Log().ReadBytes(12, 1<<20, 1<<40)
		require.NoError(t, err, name)
		assert.Equal(t, want, got, "%s has the leader's records", name)
		assert.Equal(t, int64(12), f.Log().LogStartOffset(), "%s starts where the leader does", name)
		assert.Equal(t, []int32{3, 5}, epochsOf(f), "%s: epochs 2 and 4 are gone, the leader's 3 and 5 there", name)
	}
	mu.Lock()
	assert.Len(t, proposals, 2, "one expansion per follower")
	mu.Unlock()

	// A new epoch: Add again truncates again; Remove stops appends.
	fs.Remove(diverged)
	_, ok := fs.Fetching(diverged)
	assert.False(t, ok)
	_, err = leader.Append(batch(1), AcksLeader, 1)
	require.NoError(t, err)
	time.Sleep(100 * time.Millisecond)
	assert.Equal(t, int64(37), diverged.Log().LogEndOffset(), "a removed partition is not fetched")
}

func epochsOf(p *Partition) []int32 {
	var out []int32
	for _, e := range p.Log().EpochCache().Entries() {
		out = append(out, e.Epoch)
	}
	return out
}

// TestFetcherLeaderBehind: a follower told of a new epoch before its
// leader (the controller's requests race) is answered UNKNOWN_LEADER_EPOCH
// and fetches again after LeaderBehindBackoff, not after the (here
// hour-long) Backoff: it catches up once the leader takes the epoch.
func TestFetcherLeaderBehind(t *testing.T) {
	leader := followerLog(t, 4, [2]int{1, 10})
	leader.localID = 9
	require.NoError(t, leader.MakeLeader(5, []int32{9, 1}, []int32{9}, 0))
	addr, h, _ := serveLeaderAt(t, leader, "127.0.0.1:0")
	follower := followerLog(t, 6)
	fs := NewFetchers(FetcherConfig{BrokerID: 1, MaxWait: 50 * time.Millisecond, Backoff: time.Hour, Logger: quietLogger()})
	defer fs.Close()
	fs.Add(follower, 9, addr, 6)
	eventually(t, "the leader answered UNKNOWN_LEADER_EPOCH", func() bool { return h.behind.Load() > 0 },
		func() string { return "no fetch yet" })
	require.NoError(t, leader.MakeLeader(6, []int32{9, 1}, []int32{9}, 1))
	eventually(t, "the follower caught up", func() bool { return follower.Log().LogEndOffset() == 10 },
		func() string { return fmt.Sprint(follower.Log().LogEndOffset()) })
}

// TestFetcherRedialsAfterLeaderRestart: a fetcher whose leader restarted
// while it had nothing to fetch finds its kept connection dead at the next
// fetch and dials again at once, not after the (here hour-long) Backoff.
func TestFetcherRedialsAfterLeaderRestart(t *testing.T) {
	leader := followerLog(t, 4, [2]int{1, 10})
	leader.localID = 9
	require.NoError(t, leader.MakeLeader(5, []int32{9, 1}, []int32{9}, 0))
	addr, _, stop := serveLeaderAt(t, leader, "127.0.0.1:0")
	follower := followerLog(t, 5)
	fs := NewFetchers(FetcherConfig{BrokerID: 1, MaxWait: 50 * time.Millisecond, Backoff: time.Hour, Logger: quietLogger()})
	defer fs.Close()
	fs.Add(follower, 9, addr, 5)
	eventually(t, "the follower caught up", func() bool { return follower.Log().LogEndOffset() == 10 },
		func() string { return fmt.Sprint(follower.Log().LogEndOffset()) })
	fs.Remove(follower) // the fetcher idles, its connection open
	// Let a round in flight end (were it to end in the restart below, the
	// test would pass without exercising the redial; it cannot fail
	// spuriously).
	time.Sleep(200 * time.Millisecond)

	stop()
	serveLeaderAt(t, leader, addr) // the leader is back on the same address
	_, err := leader.Append(batch(5), AcksLeader, 1)
	require.NoError(t, err)
	fs.Add(follower, 9, addr, 5)
	eventually(t, "the follower fetched from the restarted leader", func() bool { return follower.Log().LogEndOffset() == 15 },
		func() string { return fmt.Sprint(follower.Log().LogEndOffset()) })
}

// TestFetcherDropsEmptyEpochAtLogEnd: a follower whose latest epoch is one
// it began as leader and left empty (its entry sits at its log end), and
// whose records before it diverge from the leader's, still truncates to
// the leader's log: the truncation at its log end drops the empty epoch
// and the next question names the epoch before it (Kafka's truncateTo;
// found by the simulator, replication/README.md). Before, the fetcher
// stopped there and kept the diverged records for good.
func TestFetcherDropsEmptyEpochAtLogEnd(t *testing.T) {
	for _, onFetch := range []bool{true, false} {
		t.Run(fmt.Sprint("truncate-on-fetch=", onFetch), func(t *testing.T) {
			leader := followerLog(t, 4, [2]int{1, 10}, [2]int{3, 20})
			leader.localID = 9
			require.NoError(t, leader.MakeLeader(5, []int32{9, 1}, []int32{9}, 0))
			addr, _ := serveLeader(t, leader)

			follower := followerLog(t, 5, [2]int{1, 10}, [2]int{2, 5})
			require.NoError(t, follower.Log().EpochCache().Assign(4, follower.Log().LogEndOffset())) // led 4, wrote nothing
			fs := NewFetchers(FetcherConfig{BrokerID: 1, MaxWait: 50 * time.Millisecond, Backoff: 20 * time.Millisecond,
				Logger: quietLogger(), NoTruncateOnFetch: !onFetch})
			defer fs.Close()
			fs.Add(follower, 9, addr, 5)
			eventually(t, "the follower caught up", func() bool {
				return follower.HighWatermark() == 30
			}, func() string { return fmt.Sprint(follower.Log().LogEndOffset(), follower.HighWatermark()) })
			want, err := leader.Log().ReadBytes(0, 1<<20, 1<<40)
			require.NoError(t, err)
			got, err := follower.Log().ReadBytes(0, 1<<20, 1<<40)
			require.NoError(t, err)
			assert.Equal(t, want, got, "epoch 2's records replaced by the leader's")
			assert.Equal(t, []int32{1, 3}, epochsOf(follower), "the empty epoch 4 and the diverged 2 are gone")
		})
	}
}
