package partlog

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strom-broker/strom/engine/internal/testclock"
	"github.com/strom-broker/strom/engine/producer"
	"github.com/strom-broker/strom/engine/record"
)

// testClock is a manually advanced clock.
type testClock = testclock.Clock

func newClock() *testClock { return testclock.New() }

var quiet = slog.New(slog.DiscardHandler)

// smallConfig rolls and indexes often so tests exercise many segments.
func smallConfig() Config {
	c := DefaultConfig()
	c.SegmentBytes = 2048
	c.IndexIntervalBytes = 200
	c.SegmentIndexBytes = 1024
	return c
}

// makeBatch builds a batch of n records with timestamps ts, ts+1, ...
func makeBatch(n int, ts int64, tag string) []byte {
	b := record.NewBuilder(0)
	for i := 0; i < n; i++ {
		b.Add(ts+int64(i), []byte(fmt.Sprintf("k%d", i)), []byte(fmt.Sprintf("%s-%d", tag, i)))
	}
	return b.Build()
}

func openLog(t *testing.T, dir string, cfg Config, opts ...Option) *Log {
	t.Helper()
	l, err := Open(dir, cfg, append([]Option{WithLogger(quiet)}, opts...)...)
	require.NoError(t, err)
	return l
}

// crash drops the log as a process crash would: no flush, no seal, no
// snapshot; written bytes stay in the page cache.
func (l *Log) crash() {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	l.bg.Wait()
	for _, s := range l.segments() {
		s.Abandon()
	}
}

func TestAppendReadReopen(t *testing.T) {
	dir := t.TempDir()
	clock := newClock()
	l := openLog(t, dir, smallConfig(), WithClock(clock.Now))
	var want []byte
	for i := 0; i < 100; i++ {
		b := makeBatch(1+i%4, 1000+int64(10*i), fmt.Sprint(i))
		leo := l.LogEndOffset()
		info, err := l.Append(b, 3)
		require.NoError(t, err)
		assert.Equal(t, leo, info.FirstOffset)
		assert.Equal(t, leo+int64(1+i%4)-1, info.LastOffset)
		want = append(want, b...) // stamped in place
	}
	assert.Greater(t, l.SegmentCount(), 3)
	got, err := l.ReadBytes(0, 1<<30, l.LogEndOffset())
	require.NoError(t, err)
	assert.Equal(t, want, got)
	leo := l.LogEndOffset()
	ep, end := l.EndOffsetForEpoch(3)
	assert.Equal(t, int32(3), ep)
	assert.Equal(t, leo, end)
	require.NoError(t, l.Close())

	for _, clean := range []bool{true, false} {
		l = openLog(t, dir, smallConfig(), WithCleanShutdown(clean))
		assert.Equal(t, leo, l.LogEndOffset())
		got, err = l.ReadBytes(0, 1<<30, l.LogEndOffset())
		require.NoError(t, err)
		assert.Equal(t, want, got)
		require.NoError(t, l.Close())
	}
}

func TestReadBounds(t *testing.T) {
	l := openLog(t, t.TempDir(), smallConfig())
	defer l.Close()
	var sizes []int
	for i := 0; i < 10; i++ {
		b := makeBatch(2, 1, "x")
		sizes = append(sizes, len(b))
		_, err := l.Append(b, 0)
		require.NoError(t, err)
	}
	// At least one batch even with maxBytes 1.
	res, err := l.Read(4, 1, 20)
	require.NoError(t, err)
	assert.Equal(t, int64(sizes[2]), res.Size())
	res.Release()
	// Whole batches within maxBytes.
	res, err = l.Read(0, sizes[0]+sizes[1]+sizes[2]-1, 20)
	require.NoError(t, err)
	assert.Equal(t, int64(sizes[0]+sizes[1]), res.Size())
	res.Release()
	// maxOffset (high watermark) bounds the read.
	b, err := l.ReadBytes(0, 1<<20, 6)
	require.NoError(t, err)
	assert.Equal(t, sizes[0]+sizes[1]+sizes[2], len(b))
	b, err = l.ReadBytes(6, 1<<20, 6)
	require.NoError(t, err)
	assert.Empty(t, b)
	b, err = l.ReadBytes(20, 1<<20, 20)
	require.NoError(t, err)
	assert.Empty(t, b)
	_, err = l.Read(21, 1, 21)
	assert.ErrorIs(t, err, ErrOffsetOutOfRange)
	_, err = l.Read(-1, 1, 21)
	assert.ErrorIs(t, err, ErrOffsetOutOfRange)
}

func TestConfigValidate(t *testing.T) {
	require.NoError(t, DefaultConfig().Validate())
	c := DefaultConfig()
	c.SegmentBytes = 0
	c.RetentionMs = -2
	c.CleanupPolicy = "nope"
	c.MinCleanableDirtyRatio = 2
	err := c.Validate()
	require.ErrorIs(t, err, ErrInvalidConfig)
	for _, key := range []string{"segment.bytes", "retention.ms", "cleanup.policy", "min.cleanable.dirty.ratio"} {
		assert.Contains(t, err.Error(), key)
	}
	_, err = Open(t.TempDir(), c)
	assert.ErrorIs(t, err, ErrInvalidConfig)
}

func TestSegmentMsRollsWithInjectedClock(t *testing.T) {
	clock := newClock()
	cfg := DefaultConfig()
	cfg.SegmentMs = 1000
	l := openLog(t, t.TempDir(), cfg, WithClock(clock.Now))
	defer l.Close()
	ts := clock.Now().UnixMilli()
	_, err := l.Append(makeBatch(1, ts, "a"), 0)
	require.NoError(t, err)
	_, err = l.Append(makeBatch(1, ts+500, "b"), 0)
	require.NoError(t, err)
	assert.Equal(t, 1, l.SegmentCount())
	_, err = l.Append(makeBatch(1, ts+1001, "c"), 0)
	require.NoError(t, err)
	assert.Equal(t, []int64{0, 2}, l.SegmentBaseOffsets())
}

func TestLogAppendTime(t *testing.T) {
	clock := newClock()
	cfg := DefaultConfig()
	cfg.MessageTimestampType = record.LogAppendTime
	l := openLog(t, t.TempDir(), cfg, WithClock(clock.Now))
	defer l.Close()
	info, err := l.Append(makeBatch(3, 5, "a"), 0)
	require.NoError(t, err)
	assert.Equal(t, clock.Now().UnixMilli(), info.LogAppendTime)
	b, err := l.ReadBytes(0, 1<<20, 3)
	require.NoError(t, err)
	h, err := record.Validate(b)
	require.NoError(t, err)
	assert.Equal(t, record.LogAppendTime, h.TimestampType())
	assert.Equal(t, clock.Now().UnixMilli(), h.MaxTimestamp)
}

func TestOffsetForTimestamp(t *testing.T) {
	l := openLog(t, t.TempDir(), smallConfig())
	defer l.Close()
	// Batch i holds timestamps 100*i+0..2 at offsets 3i..3i+2; batch 5
	// is out of order (timestamps 50..52).
	for i := 0; i < 30; i++ {
		ts := int64(100 * i)
		if i == 5 {
			ts = 50
		}
		_, err := l.Append(makeBatch(3, ts, "t"), 0)
		require.NoError(t, err)
	}
	cases := []struct {
		ts   int64
		want int64
		ok   bool
	}{
		{0, 0, true}, {1, 1, true}, {3, 3, true}, {51, 3, true}, {101, 4, true}, {502, 18, true}, {402, 14, true},
		{2000, 60, true}, {2902, 89, true}, {2903, -1, false},
	}
	for _, tc := range cases {
		got, ok, err := l.OffsetForTimestamp(tc.ts)
		require.NoError(t, err)
		assert.Equal(t, tc.ok, ok, "ts %d", tc.ts)
		assert.Equal(t, tc.want, got.Offset, "ts %d", tc.ts)
	}
	got, ok, err := l.OffsetForTimestamp(MaxTimestampTimestamp)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, TimestampOffset{89, 2902}, got)
	got, _, _ = l.OffsetForTimestamp(EarliestTimestamp)
	assert.Equal(t, int64(0), got.Offset)
	got, _, _ = l.OffsetForTimestamp(LatestTimestamp)
	assert.Equal(t, int64(90), got.Offset)
}

func TestRetentionAndDeleteRecords(t *testing.T) {
	clock := newClock()
	cfg := smallConfig()
	cfg.RetentionMs = 10_000
	l := openLog(t, t.TempDir(), cfg, WithClock(clock.Now))
	defer l.Close()
	now := clock.Now().UnixMilli()
	for i := 0; i < 60; i++ {
		_, err := l.Append(makeBatch(2, now-20_000+int64(i), "old"), 1)
		require.NoError(t, err)
	}
	old := l.SegmentCount()
	require.Greater(t, old, 2)
	for i := 0; i < 10; i++ {
		_, err := l.Append(makeBatch(2, now, "new"), 2)
		require.NoError(t, err)
	}
	n, err := l.EnforceRetention()
	require.NoError(t, err)
	assert.Equal(t, old-1, n, "every old segment but the one that also holds new data... ")
	assert.Equal(t, l.SegmentBaseOffsets()[0], l.LogStartOffset())
	_, err = l.Read(0, 10, 1000)
	assert.ErrorIs(t, err, ErrOffsetOutOfRange)

	start, err := l.DeleteRecordsBefore(l.LogEndOffset() - 3)
	require.NoError(t, err)
	assert.Equal(t, l.LogEndOffset()-3, start)
	assert.Equal(t, start, l.LogStartOffset())
	b, err := l.ReadBytes(start, 1<<20, l.LogEndOffset())
	require.NoError(t, err)
	assert.NotEmpty(t, b)
	_, err = l.DeleteRecordsBefore(l.LogEndOffset() + 1)
	assert.ErrorIs(t, err, ErrOffsetOutOfRange)

	cfg.RetentionMs = -1
	cfg.RetentionBytes = 0
	l.cfg = cfg
	n, err = l.EnforceRetention()
	require.NoError(t, err)
	assert.Equal(t, 1, l.SegmentCount(), "retention.bytes never deletes the active segment (deleted %d)", n)
}

func TestTruncateTo(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, smallConfig())
	var ends []int64
	var data [][]byte
	for i := 0; i < 40; i++ {
		b := makeBatch(3, int64(i), "x")
		_, err := l.Append(b, int32(i/10))
		require.NoError(t, err)
		ends = append(ends, l.LogEndOffset())
		data = append(data, b)
	}
	require.NoError(t, l.TruncateTo(64)) // inside batch 21 [63..65]: it goes
	assert.Equal(t, int64(63), l.LogEndOffset())
	ep, end := l.EndOffsetForEpoch(2)
	assert.Equal(t, int32(2), ep)
	assert.Equal(t, int64(63), end)
	ep, _ = l.EndOffsetForEpoch(3)
	assert.Equal(t, int32(-1), ep, "epoch 3 started after the cut")
	got, err := l.ReadBytes(0, 1<<30, 1000)
	require.NoError(t, err)
	assert.Equal(t, bytes.Join(data[:21], nil), got)
	info, err := l.Append(makeBatch(1, 0, "y"), 5)
	require.NoError(t, err)
	assert.Equal(t, int64(63), info.FirstOffset)
	ep, end = l.EndOffsetForEpoch(2)
	assert.Equal(t, int32(2), ep)
	assert.Equal(t, int64(63), end)
	require.NoError(t, l.Close())
	// No leftover segment files above the cut.
	l = openLog(t, dir, smallConfig(), WithCleanShutdown(true))
	assert.Equal(t, int64(64), l.LogEndOffset())
	require.NoError(t, l.TruncateTo(-5+l.LogStartOffset()+5)) // to the start: empty
	assert.Equal(t, int64(0), l.LogEndOffset())
	require.NoError(t, l.Close())
}

// TestTruncateAtLogEndDropsEmptyEpoch: an epoch begun at the log end and
// left empty (a replica that led it and appended nothing) is dropped by a
// truncation to the log end, which cuts no record (Kafka's
// UnifiedLog.truncateTo); the drop survives a restart.
func TestTruncateAtLogEndDropsEmptyEpoch(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, smallConfig())
	_, err := l.Append(makeBatch(3, 0, "x"), 2)
	require.NoError(t, err)
	require.NoError(t, l.EpochCache().Assign(5, l.LogEndOffset())) // led epoch 5, appended nothing
	ep, _ := l.EndOffsetForEpoch(5)
	require.Equal(t, int32(5), ep)

	require.NoError(t, l.TruncateTo(l.LogEndOffset()))
	assert.Equal(t, int64(3), l.LogEndOffset(), "no record cut")
	latest, ok := l.EpochCache().LatestEpoch()
	require.True(t, ok)
	assert.Equal(t, int32(2), latest)
	ep, end := l.EndOffsetForEpoch(5)
	assert.Equal(t, int32(-1), ep, "epoch 5 is gone: above the latest epoch, unknown")
	assert.Equal(t, int64(-1), end)
	ep, end = l.EndOffsetForEpoch(2)
	assert.Equal(t, int32(2), ep)
	assert.Equal(t, int64(3), end, "epoch 2 runs to the log end again")
	// Appends of a later epoch still work (the latest epoch was lowered).
	_, err = l.Append(makeBatch(1, 0, "y"), 3)
	require.NoError(t, err)
	require.NoError(t, l.Close())

	l = openLog(t, dir, smallConfig(), WithCleanShutdown(true))
	latest, ok = l.EpochCache().LatestEpoch()
	require.True(t, ok)
	assert.Equal(t, int32(3), latest, "after a restart the cache holds epochs 2 and 3, not 5")
	ep, end = l.EndOffsetForEpoch(2)
	assert.Equal(t, int32(2), ep)
	assert.Equal(t, int64(3), end)
	require.NoError(t, l.Close())
}

func TestIdempotentProducer(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, smallConfig())
	mk := func(seq int32) []byte {
		b := record.NewBuilder(0).SetProducer(42, 0, seq)
		b.Add(1, nil, []byte("a"))
		b.Add(2, nil, []byte("b"))
		return b.Build()
	}
	first, err := l.Append(mk(0), 0)
	require.NoError(t, err)
	_, err = l.Append(mk(2), 0)
	require.NoError(t, err)
	dup, err := l.Append(mk(0), 0)
	require.NoError(t, err)
	assert.True(t, dup.Duplicate)
	assert.Equal(t, first.FirstOffset, dup.FirstOffset)
	assert.Equal(t, first.LastOffset, dup.LastOffset)
	assert.Equal(t, int64(4), l.LogEndOffset(), "a duplicate appends nothing")
	size := l.Size()
	_, err = l.Append(mk(7), 0)
	assert.ErrorIs(t, err, producer.ErrOutOfOrderSequence)
	assert.Equal(t, size, l.Size())
	require.NoError(t, l.Close())

	// The state survives a clean restart (snapshot) and a crash (replay).
	l = openLog(t, dir, smallConfig(), WithCleanShutdown(true))
	_, err = l.Append(mk(7), 0)
	assert.ErrorIs(t, err, producer.ErrOutOfOrderSequence)
	_, err = l.Append(mk(4), 0)
	require.NoError(t, err)
	l.crash()
	for _, name := range mustGlob(t, filepath.Join(dir, "*.snapshot")) {
		require.NoError(t, os.Remove(name))
	}
	l = openLog(t, dir, smallConfig())
	dup, err = l.Append(mk(4), 0)
	require.NoError(t, err)
	assert.True(t, dup.Duplicate)
	assert.Equal(t, int64(4), dup.FirstOffset)
	require.NoError(t, l.Close())
}

func mustGlob(t *testing.T, pattern string) []string {
	t.Helper()
	m, err := filepath.Glob(pattern)
	require.NoError(t, err)
	return m
}

func TestConcurrentReadersDuringTruncateAndRetention(t *testing.T) {
	cfg := smallConfig()
	l := openLog(t, t.TempDir(), cfg)
	defer l.Close()
	for i := 0; i < 50; i++ {
		_, err := l.Append(makeBatch(2, int64(i), "c"), 0)
		require.NoError(t, err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for r := 0; r < 3; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				res, err := l.Read(l.LogStartOffset(), 4096, l.LogEndOffset())
				if err != nil {
					continue // start moved under us
				}
				// Every byte handed out is a run of valid batches.
				for _, s := range res.Slices {
					buf := make([]byte, s.Len)
					_, err := s.File.ReadAt(buf, s.Pos)
					if !assert.NoError(t, err) {
						break
					}
					_, err = record.ValidateAll(buf, record.FromLog, 0)
					assert.NoError(t, err)
				}
				res.Release()
			}
		}()
	}
	for i := 0; i < 200; i++ {
		switch i % 4 {
		case 0:
			require.NoError(t, l.TruncateTo(l.LogEndOffset()-3))
		case 1:
			_, err := l.DeleteRecordsBefore(l.LogStartOffset() + 1)
			require.NoError(t, err)
		default:
			_, err := l.Append(makeBatch(2, int64(i), "d"), 0)
			require.NoError(t, err)
		}
	}
	close(stop)
	wg.Wait()
}

func TestAppendNotify(t *testing.T) {
	l := openLog(t, t.TempDir(), smallConfig())
	defer l.Close()
	ch := l.AppendNotify()
	select {
	case <-ch:
		t.Fatal("closed before any append")
	default:
	}
	_, err := l.Append(makeBatch(1, 1, "n"), 0)
	require.NoError(t, err)
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal("append did not notify")
	}
	ch = l.AppendNotify()
	require.NoError(t, l.TruncateTo(0))
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal("truncation did not notify")
	}
}

func TestGroupCommitFlush(t *testing.T) {
	cfg := smallConfig()
	cfg.SegmentBytes = 1 << 20
	cfg.FlushMessages = 1
	dir := t.TempDir()
	l := openLog(t, dir, cfg)
	const appenders, each = 8, 20
	var wg sync.WaitGroup
	for g := 0; g < appenders; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				info, err := l.Append(makeBatch(2, 1, "g"), 0)
				if !assert.NoError(t, err) {
					return
				}
				// Acknowledged means flushed.
				assert.GreaterOrEqual(t, l.RecoveryPoint(), info.LastOffset+1)
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, int64(appenders*each*2), l.LogEndOffset())
	assert.Equal(t, l.LogEndOffset(), l.RecoveryPoint())
	l.flush.mu.Lock()
	rounds := l.flush.rounds
	l.flush.mu.Unlock()
	assert.LessOrEqual(t, rounds, int64(appenders*each), "at most one fsync round per append")
	t.Logf("%d appends, %d fsync rounds", appenders*each, rounds)

	// A truncation during flushing never lets the recovery point cover
	// rewritten offsets.
	require.NoError(t, l.TruncateTo(10))
	assert.LessOrEqual(t, l.RecoveryPoint(), int64(10))
	_, err := l.Append(makeBatch(2, 1, "h"), 0)
	require.NoError(t, err)
	assert.Equal(t, l.LogEndOffset(), l.RecoveryPoint())
	require.NoError(t, l.Close())
}

func TestRollsWhenIndexFullOrOffsetsOverflow(t *testing.T) {
	cfg := DefaultConfig()
	cfg.IndexIntervalBytes = 1
	cfg.SegmentIndexBytes = 48 // 6 offset entries, 4 time entries (one reserved)
	dir := t.TempDir()
	l := openLog(t, dir, cfg)
	var all []byte
	for i := 0; i < 40; i++ {
		b := makeBatch(1, int64(1000+i), "i")
		_, err := l.Append(b, 0)
		require.NoError(t, err)
		all = append(all, b...)
	}
	assert.Greater(t, l.SegmentCount(), 5, "full indexes force rolls")
	got, err := l.ReadBytes(0, 1<<30, l.LogEndOffset())
	require.NoError(t, err)
	assert.Equal(t, all, got)
	require.NoError(t, l.Close())
	checkDirFormat(t, dir, true)

	// A follower batch whose offset does not fit 32-bit relative offsets
	// starts a new segment.
	f := openLog(t, t.TempDir(), DefaultConfig())
	defer f.Close()
	b := makeBatch(1, 1, "a")
	_, err = f.AppendAsFollower(b)
	require.NoError(t, err)
	far := makeBatch(1, 1, "b")
	record.SetBaseOffset(far, 1<<32)
	_, err = f.AppendAsFollower(far)
	require.NoError(t, err)
	assert.Equal(t, []int64{0, 1 << 32}, f.SegmentBaseOffsets())
	assert.Equal(t, int64(1<<32+1), f.LogEndOffset())
}

// TestRollFlushesOnlyOlderSegments: a roll fsyncs the segments before the
// new active one in the background, as Kafka does, and not the active
// segment being written: the recovery point ends at the roll's base offset
// although the active segment already holds records.
func TestRollFlushesOnlyOlderSegments(t *testing.T) {
	cfg := smallConfig()
	cfg.SegmentBytes = 4 << 10
	l := openLog(t, t.TempDir(), cfg)
	for l.SegmentCount() < 3 {
		_, err := l.Append(makeBatch(4, 1, "r"), 0)
		require.NoError(t, err)
	}
	l.bg.Wait() // the background flushes of both rolls
	segs := l.segments()
	active := segs[len(segs)-1].BaseOffset()
	require.Greater(t, l.LogEndOffset(), active, "the active segment holds records")
	assert.Equal(t, active, l.RecoveryPoint())
	require.NoError(t, l.Close())
}
