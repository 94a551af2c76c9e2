package producer

import (
	"testing"
)

// BenchmarkCheckUpdate measures the per-batch cost of the leader's
// Check+Update for 100 interleaved producers, against a baseline of one
// plain map lookup and store per batch measured in the same run.
func BenchmarkCheckUpdate(b *testing.B) {
	const producers = 100
	b.Run("state", func(b *testing.B) {
		s := New()
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			pid := int64(i % producers)
			m := batch(pid, 0, int32(i/producers), 1, int64(i))
			if _, err := s.Check(m); err != nil {
				b.Fatal(err)
			}
			s.Update(m)
		}
	})
	b.Run("baseline=map", func(b *testing.B) {
		last := map[int64]int32{}
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			pid := int64(i % producers)
			last[pid] = last[pid] + 1
		}
	})
}
