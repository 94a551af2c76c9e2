package embedded

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strom-broker/strom/coord/store"
	"github.com/strom-broker/strom/coord/store/storetest"
)

// BenchmarkSetPartitionState measures one metadata change (snapshot encode,
// temp write, fsync, rename, dir fsync) at several metadata sizes, and
// reports it as a ratio to the physical baseline of writing the same bytes
// with the same fsyncs.
func BenchmarkSetPartitionState(b *testing.B) {
	for _, partitions := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("partitions=%d", partitions), func(b *testing.B) {
			ctx := context.Background()
			dir := b.TempDir()
			s, err := Open(filepath.Join(dir, DefaultFileName))
			require.NoError(b, err)
			defer s.Close()
			require.NoError(b, s.CreateTopic(ctx, storetest.Assignment("t", partitions, 1, 2, 3), nil))
			for p := range partitions {
				_, err := s.SetPartitionState(ctx, store.TopicPartition{Topic: "t", Partition: int32(p)},
					store.PartitionState{Leader: 1, ISR: []int32{1, 2, 3}}, store.NewVersion)
				require.NoError(b, err)
			}
			info, err := os.Stat(s.Path())
			require.NoError(b, err)
			size := info.Size()
			data := make([]byte, size)

			// Baseline, measured in the same run: the same bytes through
			// writeFileAtomic, b.N times.
			baseStart := time.Now()
			for range b.N {
				if err := writeFileAtomic(filepath.Join(dir, "baseline"), data); err != nil {
					b.Fatal(err)
				}
			}
			basePerOp := float64(time.Since(baseStart).Nanoseconds()) / float64(b.N)

			tp := store.TopicPartition{Topic: "t", Partition: 0}
			b.SetBytes(size)
			b.ResetTimer()
			for i := range b.N {
				_, err := s.SetPartitionState(ctx, tp, store.PartitionState{Leader: 1, LeaderEpoch: int32(i + 1), ISR: []int32{1, 2, 3}}, int32(i))
				if err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			perOp := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			b.ReportMetric(perOp/basePerOp, "x-baseline")
			b.ReportMetric(float64(size), "file-bytes")
		})
	}
}
