package fuzz

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strom-broker/strom/engine/partlog"
	"github.com/strom-broker/strom/engine/record"
	"github.com/strom-broker/strom/engine/segment"
)

// recoverConfig is the partition config FuzzRecover opens logs with: small
// indexes (so preallocation is cheap) and dense index entries.
func recoverConfig() partlog.Config {
	cfg := partlog.DefaultConfig()
	cfg.SegmentIndexBytes = 4096
	cfg.IndexIntervalBytes = 128
	return cfg
}

// FuzzRecover writes fuzz bytes as a partition's only segment (.log,
// .index, .timeindex) and opens the partition log.
//
// After an unclean shutdown (clean false) the log is recovered: opening
// must succeed, every byte the log then serves must be valid batches with
// increasing offsets below the log end offset, an append must land at the
// log end offset and read back, and reopening must find the same log end
// offset.
//
// With the clean-shutdown marker (clean true) the engine, like Kafka,
// trusts the files after a cheap sanity check of the indexes and the last
// batch, so random bytes there model disk corruption that it does not
// promise to detect: opening and appending must still work without a
// panic (a trusted segment whose headers do not chain is recovered, not
// refused), and a reopen (again clean) must find the appended record.
func FuzzRecover(f *testing.F) {
	logger := slog.New(slog.DiscardHandler)
	f.Fuzz(func(t *testing.T, logb, index, timeindex []byte, clean bool) {
		dir := filepath.Join(t.TempDir(), "fuzz-0")
		require.NoError(t, os.MkdirAll(dir, 0o755))
		for suffix, data := range map[string][]byte{
			segment.LogSuffix: logb, segment.IndexSuffix: index, segment.TimeIndexSuffix: timeindex,
		} {
			require.NoError(t, os.WriteFile(segment.FileName(dir, 0, suffix), data, 0o644))
		}
		cfg := recoverConfig()
		l, err := partlog.Open(dir, cfg, partlog.WithCleanShutdown(clean), partlog.WithLogger(logger))
		require.NoError(t, err)
		defer func() { _ = l.Close() }()

		leo := l.LogEndOffset()
		start := l.LogStartOffset()
		require.LessOrEqual(t, start, leo)
		data, err := l.ReadBytes(start, 1<<30, leo)
		if start == leo {
			require.Empty(t, data)
		} else {
			require.NoError(t, err)
		}
		if clean {
			// Trusted, not revalidated: served bytes are not checked.
			data = nil
		}
		s := record.NewScanner(data, record.FromLog)
		prev := int64(-1)
		for s.Next() {
			h := s.Header()
			require.Greater(t, h.BaseOffset, prev, "offsets not increasing")
			require.Less(t, h.LastOffset(), leo, "batch beyond the log end offset")
			prev = h.LastOffset()
		}
		require.NoError(t, s.Err(), "the recovered log serves an invalid batch")

		epoch := int32(0)
		if e, ok := l.EpochCache().LatestEpoch(); ok {
			epoch = e
		}
		batch := record.NewBuilder(0).Add(1, []byte("k"), []byte("after recovery")).Build()
		info, err := l.Append(batch, epoch)
		require.NoError(t, err, "append after recovery")
		require.Equal(t, leo, info.FirstOffset)
		require.Equal(t, leo+1, l.LogEndOffset())
		got, err := l.ReadBytes(leo, 1<<20, leo+1)
		require.NoError(t, err)
		h, err := record.ValidateMode(got, record.FromLog)
		require.NoError(t, err)
		require.Equal(t, leo, h.BaseOffset)

		require.NoError(t, l.Close())
		l2, err := partlog.Open(dir, cfg, partlog.WithCleanShutdown(clean), partlog.WithLogger(logger))
		require.NoError(t, err, "reopen")
		require.Equal(t, leo+1, l2.LogEndOffset(), "reopen lost or invented records")
		require.NoError(t, l2.Close())
	})
}
