package logmgr

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strom-broker/strom/engine/checkpoint"
	"github.com/strom-broker/strom/engine/record"
)

// benchDir fills one log dir with parts partitions of perPart bytes each
// (16 KiB batches, 64 KiB segments) and returns its config and total size.
func benchDir(b *testing.B, parts, perPart int) (Config, int64) {
	b.Helper()
	cfg := DefaultConfig()
	cfg.LogDirs = []string{filepath.Join(b.TempDir(), "data")}
	cfg.Log.SegmentBytes = 64 << 10
	m, err := Open(cfg, WithLogger(quiet))
	require.NoError(b, err)
	value := make([]byte, 1000)
	for p := range parts {
		l, err := m.GetOrCreate("bench", int32(p), cfg.Log)
		require.NoError(b, err)
		for l.Size() < int64(perPart) {
			bl := record.NewBuilder(0)
			for range 16 {
				bl.Add(1, nil, value)
			}
			_, err := l.Append(bl.Build(), 0)
			require.NoError(b, err)
		}
	}
	total := m.Stats().Bytes
	require.NoError(b, m.Close())
	return cfg, total
}

// BenchmarkOpen measures start-up over 64 partitions of 256 KiB: a clean
// start (indexes trusted), an unclean one (every batch rescanned from
// offset 0) with 1 and 2 recovery threads, and as the baseline a plain
// read of every .log file in the same run. MB/s is over the log bytes;
// "x-baseline" is the time relative to the baseline's.
func BenchmarkOpen(b *testing.B) {
	cfg, total := benchDir(b, 64, 256<<10)
	dir := cfg.LogDirs[0]
	logs, err := filepath.Glob(filepath.Join(dir, "*", "*.log"))
	require.NoError(b, err)

	var baseNs float64
	b.Run("baseline=read-files", func(b *testing.B) {
		b.SetBytes(total)
		for b.Loop() {
			for _, f := range logs {
				if _, err := os.ReadFile(f); err != nil {
					b.Fatal(err)
				}
			}
		}
		baseNs = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	})
	for _, tc := range []struct {
		clean   bool
		threads int
	}{{true, 1}, {false, 1}, {false, 2}} {
		b.Run(fmt.Sprintf("clean=%t/threads=%d", tc.clean, tc.threads), func(b *testing.B) {
			c := cfg
			c.RecoveryThreadsPerDataDir = tc.threads
			b.SetBytes(total)
			for b.Loop() {
				b.StopTimer()
				if !tc.clean {
					require.NoError(b, os.Remove(filepath.Join(dir, CleanShutdownFile)))
					require.NoError(b, checkpoint.Write(filepath.Join(dir, checkpoint.RecoveryPointFile), nil))
				}
				b.StartTimer()
				m, err := Open(c, WithLogger(quiet))
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				require.NoError(b, m.Close())
				b.StartTimer()
			}
			if baseNs > 0 {
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/baseNs, "x-baseline")
			}
		})
	}
}

// BenchmarkCreatePartitions measures creating 1,000 partitions of one
// topic: one GetOrCreate per partition (the baseline: one parent-dir fsync
// each, one at a time) against one GetOrCreateAll (concurrent, one fsync),
// in the same run. "x-baseline" is the batch's time relative to the
// baseline's.
func BenchmarkCreatePartitions(b *testing.B) {
	const parts = 1000
	run := func(b *testing.B, batch bool) float64 {
		for b.Loop() {
			b.StopTimer()
			cfg := DefaultConfig()
			cfg.LogDirs = []string{filepath.Join(b.TempDir(), "data")}
			m, err := Open(cfg, WithLogger(quiet))
			require.NoError(b, err)
			reqs := make([]CreateRequest, parts)
			for p := range reqs {
				reqs[p] = CreateRequest{Topic: "bench", Partition: int32(p), Config: cfg.Log}
			}
			b.StartTimer()
			if batch {
				_, err = m.GetOrCreateAll(reqs)
				require.NoError(b, err)
			} else {
				for _, r := range reqs {
					_, err := m.GetOrCreate(r.Topic, r.Partition, r.Config)
					require.NoError(b, err)
				}
			}
			b.StopTimer()
			require.NoError(b, m.Close())
			b.StartTimer()
		}
		ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		b.ReportMetric(ns/parts/1e3, "us/partition")
		return ns
	}
	var baseNs float64
	b.Run("baseline=one-at-a-time", func(b *testing.B) { baseNs = run(b, false) })
	b.Run("batch", func(b *testing.B) {
		ns := run(b, true)
		if baseNs > 0 {
			b.ReportMetric(ns/baseNs, "x-baseline")
		}
	})
}
