package group

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/strom-broker/strom/engine/record"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// BenchmarkRebalance measures one full rebalance of a 10-member group over
// 100 partitions, in-process: every member rejoins, the leader range-
// assigns, every member syncs (the group record is appended to a real
// partlog file). Baseline: one raw partlog append of a batch of the same
// size; the ratio is rebalance cost in appends.
func BenchmarkRebalance(b *testing.B) {
	const members, partitions = 10, 100
	h := newHarness(b, testConfig())
	const g = "bench"
	ids := make([]string, members)
	calls := make([]*joinCall, members)
	for i := range ids {
		ids[i], calls[i] = h.joinNew(g, fmt.Sprintf("c%d", i))
		if i == 0 { // the first member's join completes alone; sync it
			r := calls[0].get()
			h.sync(syncReq(g, ids[0], r.Generation, map[string][]byte{ids[0]: {}})).get()
		}
	}
	round := func() {
		for i := range ids {
			if calls[i] == nil || i == 0 {
				calls[i] = h.join(joinReq(g, ids[i]), fmt.Sprintf("c%d", i))
			}
		}
		var leader *kmsg.JoinGroupResponse
		for i := range ids {
			r := calls[i].get()
			if r.ErrorCode != 0 {
				b.Fatalf("join: %s", codeName(r.ErrorCode))
			}
			if r.LeaderID == ids[i] {
				leader = r
			}
			calls[i] = nil
		}
		syncs := make([]*syncCall, 0, members)
		for i := range ids {
			if ids[i] != leader.LeaderID {
				syncs = append(syncs, h.sync(syncReq(g, ids[i], leader.Generation, nil)))
			}
		}
		ls := h.sync(syncReq(g, leader.LeaderID, leader.Generation, rangeAssign(leader.Members, partitions))).get()
		if ls.ErrorCode != 0 {
			b.Fatalf("sync: %s", codeName(ls.ErrorCode))
		}
		for _, s := range syncs {
			if r := s.get(); r.ErrorCode != 0 || len(r.MemberAssignment) == 0 {
				b.Fatalf("follower sync: %s", codeName(r.ErrorCode))
			}
		}
	}
	round()
	h.c.mu.Lock()
	s := h.c.shards[h.c.PartitionFor(g)]
	h.c.mu.Unlock()
	s.mu.Lock()
	rec := s.groups[g].record(nil)
	s.mu.Unlock()
	recSize := len(rec.key) + len(rec.value)

	lg, err := h.logs.get(63) // a log of its own for the baseline
	require.NoError(b, err)
	const baseN = 2000
	bb := record.NewBuilder(0)
	bb.Add(0, rec.key, rec.value)
	batch := bb.Build()
	for i := 0; i < 100; i++ { // warm up the baseline log
		_, err := lg.Append(append([]byte(nil), batch...), 0)
		require.NoError(b, err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		round()
	}
	b.StopTimer()
	perRebalance := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	t0 := nowNanos()
	for i := 0; i < baseN; i++ {
		if _, err := lg.Append(append([]byte(nil), batch...), 0); err != nil {
			b.Fatal(err)
		}
	}
	perAppend := float64(nowNanos()-t0) / baseN
	b.SetBytes(int64(recSize))
	b.ReportMetric(1e9/perRebalance, "rebalances/s")
	b.ReportMetric(perRebalance/perAppend, "x_raw_append")
}

// BenchmarkCommit measures OffsetCommit throughput against real partlog
// files, 1 and 100 partitions per commit. Baseline: appending the same
// records (built the same way) straight to a partlog; x_raw_append is the
// coordinator's cost relative to it.
func BenchmarkCommit(b *testing.B) {
	for _, parts := range []int{1, 100} {
		b.Run(fmt.Sprintf("partitions=%d", parts), func(b *testing.B) {
			h := newHarness(b, testConfig())
			id, gen := stableGroup(b, h, "bench", "t")
			req := kmsg.NewPtrOffsetCommitRequest()
			req.Version = 9
			req.Group, req.MemberID, req.Generation = "bench", id, gen
			tp := kmsg.OffsetCommitRequestTopic{Topic: "t"}
			for p := 0; p < parts; p++ {
				pp := kmsg.NewOffsetCommitRequestTopicPartition()
				pp.Partition = int32(p)
				tp.Partitions = append(tp.Partitions, pp)
			}
			req.Topics = []kmsg.OffsetCommitRequestTopic{tp}
			ctx := context.Background()

			// Baseline: the same records appended directly.
			lg, err := h.logs.get(63)
			require.NoError(b, err)
			const baseN = 2000
			var t0 int64
			for i := -100; i < baseN; i++ { // 100 warm-up appends
				if i == 0 {
					t0 = nowNanos()
				}
				bb := record.NewBuilder(0)
				for p := 0; p < parts; p++ {
					bb.Add(int64(i)+1000, EncodeOffsetKey("bench", "t", int32(p)),
						EncodeOffsetValue(OffsetValue{Offset: int64(i), LeaderEpoch: -1, CommitTimestamp: int64(i), ExpireTimestamp: -1}))
				}
				if _, err := lg.Append(bb.Build(), 0); err != nil {
					b.Fatal(err)
				}
			}
			perAppend := float64(nowNanos()-t0) / baseN

			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for j := range tp.Partitions {
					tp.Partitions[j].Offset = int64(i)
				}
				r := h.c.OffsetCommit(ctx, req)
				if c := r.Topics[0].Partitions[0].ErrorCode; c != 0 {
					b.Fatalf("commit: %s", codeName(c))
				}
			}
			b.StopTimer()
			perCommit := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			b.ReportMetric(1e9/perCommit, "commits/s")
			b.ReportMetric(1e9/perCommit*float64(parts), "offsets/s")
			b.ReportMetric(perCommit/perAppend, "x_raw_append")
		})
	}
}
