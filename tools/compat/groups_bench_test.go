package compat

// Consumer group benchmarks through the real broker with franz-go:
// rebalance time of a 10-member group over 100 partitions and offset
// commit throughput. Each reports its result against a physical baseline
// measured in the same run: the loopback round trip of an ApiVersions
// request on the same broker.

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// apiRoundTrip measures the mean ApiVersions round trip over n requests.
func apiRoundTrip(b *testing.B, cl *kgo.Client, n int) time.Duration {
	b.Helper()
	ctx := context.Background()
	start := time.Now()
	for range n {
		_, err := kmsg.NewPtrApiVersionsRequest().RequestWith(ctx, cl)
		require.NoError(b, err)
	}
	return time.Since(start) / time.Duration(n)
}

// BenchmarkGroupRebalance: ten franz-go members start together on a
// 100-partition topic; one op is from their start until their callbacks
// report all 100 partitions assigned, ten to each member. Members learn of
// a rebalance from their next heartbeat (every 100 ms here), so the
// figure is dominated by heartbeat round trips, not by the coordinator.
func BenchmarkGroupRebalance(b *testing.B) {
	const (
		members = 10
		parts   = 100
	)
	br := startGroupBroker(b)
	bs := br.Addr()
	adm := kadm.NewClient(newBenchKgo(b, bs))
	topic := "bench-rebalance"
	_, err := adm.CreateTopic(context.Background(), parts, 1, nil, topic)
	require.NoError(b, err)
	for _, bal := range []kgo.GroupBalancer{kgo.CooperativeStickyBalancer(), kgo.RangeBalancer()} {
		b.Run("balancer="+bal.ProtocolName(), func(b *testing.B) {
			benchRebalance(b, bs, topic, members, parts, bal)
		})
	}
}

func benchRebalance(b *testing.B, bs, topic string, members, parts int, bal kgo.GroupBalancer) {
	rtt := apiRoundTrip(b, newBenchKgo(b, bs), 200)
	var total time.Duration
	b.ResetTimer()
	for i := range b.N {
		group := fmt.Sprintf("rebalance-%s-%d", bal.ProtocolName(), i)
		var mu sync.Mutex
		owned := map[string]int{}
		all := make(chan struct{})
		check := func() {
			total, balanced := 0, len(owned) == members
			for _, n := range owned {
				total += n
				balanced = balanced && n == parts/members
			}
			if total == parts && balanced {
				select {
				case <-all:
				default:
					close(all)
				}
			}
		}
		clients := make([]*kgo.Client, members)
		start := time.Now()
		for m := range members {
			name := fmt.Sprintf("m%d", m)
			cl, err := kgo.NewClient(kgo.SeedBrokers(bs), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.ClientID(name),
				kgo.Balancers(bal), kgo.HeartbeatInterval(100*time.Millisecond),
				kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, a map[string][]int32) {
					mu.Lock()
					defer mu.Unlock()
					owned[name] += len(a[topic])
					check()
				}),
				kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, r map[string][]int32) {
					mu.Lock()
					defer mu.Unlock()
					owned[name] -= len(r[topic])
				}))
			require.NoError(b, err)
			clients[m] = cl
		}
		select {
		case <-all:
		case <-time.After(time.Minute):
			b.Fatalf("group %s: members never all assigned: %v", group, owned)
		}
		total += time.Since(start)
		b.StopTimer()
		var wg sync.WaitGroup
		for _, cl := range clients {
			wg.Add(1)
			go func() { defer wg.Done(); cl.Close() }()
		}
		wg.Wait()
		b.StartTimer()
	}
	mean := total / time.Duration(b.N)
	b.ReportMetric(float64(mean.Microseconds())/1000, "ms/rebalance")
	b.ReportMetric(float64(mean)/float64(rtt), "x-rtt")
}

// BenchmarkGroupCommit: sequential OffsetCommits (kadm, no member) of 1 and
// of 100 partitions; reports commits/s and offsets/s, and the commit's
// latency as a multiple of the ApiVersions round trip.
func BenchmarkGroupCommit(b *testing.B) {
	br := startGroupBroker(b)
	bs := br.Addr()
	cl := newBenchKgo(b, bs)
	adm := kadm.NewClient(cl)
	topic := "bench-commit"
	_, err := adm.CreateTopic(context.Background(), 100, 1, nil, topic)
	require.NoError(b, err)
	for _, n := range []int32{1, 100} {
		b.Run(fmt.Sprintf("partitions=%d", n), func(b *testing.B) {
			ctx := context.Background()
			group := fmt.Sprintf("commit-%d", n)
			rtt := apiRoundTrip(b, cl, 200)
			b.ResetTimer()
			for i := range b.N {
				offsets := kadm.Offsets{}
				for p := range n {
					offsets.Add(kadm.Offset{Topic: topic, Partition: p, At: int64(i), LeaderEpoch: -1})
				}
				resp, err := adm.CommitOffsets(ctx, group, offsets)
				if err == nil {
					err = resp.Error()
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			elapsed := b.Elapsed()
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "commits/s")
			b.ReportMetric(float64(b.N)*float64(n)/elapsed.Seconds(), "offsets/s")
			b.ReportMetric(float64(elapsed)/float64(b.N)/float64(rtt), "x-rtt")
		})
	}
}

// newBenchKgo is a plain franz-go client closed when b ends.
func newBenchKgo(b *testing.B, bootstrap string) *kgo.Client {
	b.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap))
	require.NoError(b, err)
	b.Cleanup(cl.Close)
	return cl
}
