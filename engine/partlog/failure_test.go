package partlog

import (
	"bytes"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strom-broker/strom/engine/internal/fsio"
	"github.com/strom-broker/strom/engine/producer"
	"github.com/strom-broker/strom/engine/record"
	"github.com/strom-broker/strom/engine/segment"
)

// Regression tests of issue #11 (failed writes and unlucky timing lose
// acknowledged data). Each says which finding or suspicion it reproduces;
// each failed on the engine before the fix (commit dc499fd, which only
// added the fsio layer) and passes after.

// arm injects x under dir for the rest of the test (or until disarm).
func arm(t *testing.T, dir string, x *fsio.Nth) (disarm func()) {
	t.Helper()
	d := fsio.Inject(dir, x)
	t.Cleanup(d)
	return d
}

// readAllBytes reads the whole log as bytes.
func readAllBytes(t *testing.T, l *Log) []byte {
	t.Helper()
	b, err := l.ReadBytes(l.LogStartOffset(), 1<<30, l.LogEndOffset())
	require.NoError(t, err)
	return b
}

// within fails the test if fn does not return in a minute (it hung: the
// bug reproduced). The minute is a hang detector, not a timing assertion.
func within(t *testing.T, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); fn() }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatalf("%s did not return", what)
	}
}

// TestReadAfterCloseFails reproduces finding 6: Read after (or during)
// Close retried the retired segments forever at 100% CPU. Now readers get
// ErrClosed, and long polls waiting on AppendNotify are woken.
func TestReadAfterCloseFails(t *testing.T) {
	l := openLog(t, t.TempDir(), smallConfig())
	for i := 0; i < 20; i++ {
		_, err := l.Append(makeBatch(3, int64(i), "c"), 0)
		require.NoError(t, err)
	}
	wait := l.AppendNotify()
	var readers sync.WaitGroup
	var sawClosed atomic.Int32
	for range 2 { // readers racing with Close
		readers.Go(func() {
			for {
				res, err := l.Read(0, 1<<20, l.LogEndOffset())
				if err != nil {
					if assert.ErrorIs(t, err, ErrClosed) {
						sawClosed.Add(1)
					}
					return
				}
				res.Release()
			}
		})
	}
	require.NoError(t, l.Close())
	within(t, "readers racing with Close", readers.Wait)
	assert.Equal(t, int32(2), sawClosed.Load())
	within(t, "Read after Close", func() {
		_, err := l.Read(0, 1<<20, 1<<40)
		assert.ErrorIs(t, err, ErrClosed)
	})
	select {
	case <-wait:
	default:
		t.Fatal("Close did not wake AppendNotify waiters")
	}
}

// TestFailedCreateOnRollOfEmptySegment reproduces the second half of
// finding 6: a follower append rolls an empty active segment (a gap), the
// create of the new segment fails, and the retired empty segment stayed
// published. Now the log goes offline with ErrStorage, reads return.
func TestFailedCreateOnRollOfEmptySegment(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, smallConfig())
	defer l.Close()
	b := makeBatch(1, 1, "a")
	_, err := l.AppendAsFollower(b)
	require.NoError(t, err)
	require.NoError(t, l.Roll())
	require.NoError(t, l.Roll()) // no-op on the empty active segment
	arm(t, dir, &fsio.Nth{Ops: []fsio.Op{fsio.OpCreate}, Match: "00000000000000000100.", N: 1, Sticky: true})
	far := makeBatch(1, 1, "b")
	record.SetBaseOffset(far, 100)
	_, err = l.AppendAsFollower(far)
	require.ErrorIs(t, err, ErrStorage)
	assert.ErrorIs(t, err, syscall.EIO)
	within(t, "Read of an offline log", func() {
		for off := int64(0); off <= 1; off++ {
			_, err := l.Read(off, 1<<20, 1<<40)
			assert.ErrorIs(t, err, ErrStorage)
		}
	})
	_, err = l.Append(makeBatch(1, 1, "c"), 0)
	assert.ErrorIs(t, err, ErrStorage, "an offline log takes no more writes")
}

// TestReadNeverPassesItsBound reproduces finding 5: the segment published
// its size before its next offset and the reader loaded them in the same
// order, so a read bounded by the log end offset it had just loaded could
// be handed the batch being appended. The reader here asks for everything
// below the LEO it loaded; no returned batch may reach that bound. (A
// stress test: on the old code it caught the race in some runs only.)
func TestReadNeverPassesItsBound(t *testing.T) {
	cfg := DefaultConfig()
	l := openLog(t, t.TempDir(), cfg)
	defer l.Close()
	batch := makeBatch(1, 1, "r")
	var stop atomic.Bool
	var bad atomic.Int64
	var reads sync.WaitGroup
	reads.Go(func() {
		for !stop.Load() {
			bound := l.LogEndOffset()
			if bound == 0 {
				continue
			}
			b, err := l.ReadBytes(bound-1, 1<<20, bound)
			if err != nil {
				continue
			}
			for len(b) >= record.HeaderSize {
				h, _ := record.ParseHeader(b)
				if h.LastOffset() >= bound {
					bad.Store(h.LastOffset())
				}
				b = b[min(len(b), h.Size()):]
			}
		}
	})
	for i := 0; i < 50000; i++ {
		_, err := l.Append(bytes.Clone(batch), 0)
		require.NoError(t, err)
	}
	stop.Store(true)
	reads.Wait()
	assert.Zero(t, bad.Load(), "a read returned a batch at or past its bound")
}

// TestRecoveryDoesNotCutAtFullIndex reproduces finding 1: unclean
// recovery treated a full rebuilt offset index as the first invalid byte.
// segment.index.bytes lowered at runtime (allowed) makes the rebuilt index
// fill on a log written with the old size; recovery then cut acknowledged
// batches. Only invalid bytes may end recovery.
func TestRecoveryDoesNotCutAtFullIndex(t *testing.T) {
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.IndexIntervalBytes = 1 // an index entry for every batch
	l := openLog(t, dir, cfg)
	for i := 0; i < 60; i++ {
		_, err := l.Append(makeBatch(2, int64(1000+i), "x"), 0)
		require.NoError(t, err)
	}
	want := readAllBytes(t, l)
	l.crash()
	cfg.SegmentIndexBytes = 48 // room for 6 entries
	l = openLog(t, dir, cfg, WithCleanShutdown(false))
	assert.Equal(t, int64(120), l.LogEndOffset())
	assert.Equal(t, want, readAllBytes(t, l))
	require.NoError(t, l.Close())
	l = openLog(t, dir, cfg, WithCleanShutdown(true))
	defer l.Close()
	assert.Equal(t, want, readAllBytes(t, l))
}

// TestMultiBatchAppendNeedsIndexSlots reproduces finding 4: an append of
// several batches checked for one free index slot, ran out midway after
// all its bytes were written, failed, and the roll that followed sealed
// those bytes in; after a restart they were served in place of the
// acknowledged records. Now the log rolls before an append that needs more
// slots than are left (and grows the index of a fresh segment that cannot
// hold one append).
func TestMultiBatchAppendNeedsIndexSlots(t *testing.T) {
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.IndexIntervalBytes = 1
	cfg.SegmentIndexBytes = 48 // 6 offset entries, 4 time entries (one reserved)
	l := openLog(t, dir, cfg)
	var want []byte
	for i := 0; i < 12; i++ {
		var payload []byte
		for j := 0; j < 2+i%9; j++ { // up to 10 batches: more than a fresh index holds
			payload = append(payload, makeBatch(1, int64(100*i+j), "m")...)
		}
		_, err := l.Append(payload, 0)
		require.NoError(t, err, "append %d", i)
		want = append(want, payload...)
	}
	assert.Equal(t, want, readAllBytes(t, l))
	l.crash()
	for _, clean := range []bool{false, true} {
		l = openLog(t, dir, cfg, WithCleanShutdown(clean))
		assert.Equal(t, want, readAllBytes(t, l), "clean=%v", clean)
		require.NoError(t, l.Close())
	}
	checkDirFormat(t, dir, true)
}

// TestTornWriteThenRollLosesNothing reproduces finding 2: an append that
// failed partway (ENOSPC: some bytes written) left bytes past the
// published size; the next append rolled and sealed the torn tail; the
// next clean start found it, recovered, cut there and deleted every later
// segment, all acknowledged. Now the failed append cuts the file back to
// its published size and the log goes offline (no further append is
// acknowledged), and a restart reads every acknowledged record.
func TestTornWriteThenRollLosesNothing(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, smallConfig())
	var acked []byte
	appendAcked := func(b []byte) {
		if _, err := l.Append(b, 0); err == nil {
			acked = append(acked, b...)
		} else {
			assert.ErrorIs(t, err, ErrStorage)
		}
	}
	for i := 0; i < 5; i++ {
		appendAcked(makeBatch(3, int64(i), "a"))
	}
	disarm := arm(t, dir, &fsio.Nth{Ops: []fsio.Op{fsio.OpWrite}, Match: ".log", N: 1, Partial: 40, Err: syscall.ENOSPC})
	_, err := l.Append(makeBatch(3, 10, "torn"), 0)
	require.ErrorIs(t, err, syscall.ENOSPC)
	disarm()
	assert.Equal(t, l.Size(), fileSizes(t, dir), "the torn bytes were cut off")
	_ = l.Roll()
	for i := 0; i < 5; i++ {
		appendAcked(makeBatch(3, int64(20+i), "b"))
	}
	l.Close()
	for _, clean := range []bool{true, false} {
		l = openLog(t, dir, smallConfig(), WithCleanShutdown(clean))
		assert.Equal(t, acked, readAllBytes(t, l), "clean=%v", clean)
		require.NoError(t, l.Close())
	}
}

// fileSizes sums the sizes of the .log files in dir.
func fileSizes(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	for _, p := range mustGlob(t, dir+"/*.log") {
		st, err := osStat(p)
		require.NoError(t, err)
		n += st
	}
	return n
}

// TestFailedEpochCheckpointWrite reproduces finding 3: the leader-epoch
// checkpoint write failed after the segment write, leaving the segment's
// size advanced but not the log end offset; the next append reused the
// same offsets, reads returned both, and a restart kept the failed records
// and dropped the acknowledged batch. Now the epoch is recorded before the
// segment write, and a failure takes the log offline.
func TestFailedEpochCheckpointWrite(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, smallConfig())
	var acked []byte
	b := makeBatch(2, 1, "e1")
	_, err := l.Append(b, 1)
	require.NoError(t, err)
	acked = append(acked, b...)
	disarm := arm(t, dir, &fsio.Nth{Match: "leader-epoch-checkpoint", N: 1})
	_, err = l.Append(makeBatch(2, 2, "failed"), 2)
	require.Error(t, err)
	disarm()
	b = makeBatch(2, 3, "after")
	if _, err := l.Append(b, 2); err == nil {
		acked = append(acked, b...)
	} else {
		assert.ErrorIs(t, err, ErrStorage)
	}
	if l.Failure() == nil { // the old code: reads must not serve the failed batch
		got := readAllBytes(t, l)
		assert.Equal(t, acked, got[:min(len(got), len(acked))])
	}
	l.crash()
	l = openLog(t, dir, smallConfig(), WithCleanShutdown(false))
	defer l.Close()
	got := readAllBytes(t, l)
	assert.Equal(t, acked, got[:min(len(got), len(acked))], "every acknowledged batch, in place")
	offsets := map[int64]bool{}
	for len(got) >= record.HeaderSize {
		h, _ := record.ParseHeader(got)
		assert.False(t, offsets[h.BaseOffset], "offset %d served twice", h.BaseOffset)
		offsets[h.BaseOffset] = true
		got = got[h.Size():]
	}
}

// TestFailedFsyncIsNotRetried checks suspicion "fsyncgate" (proved real):
// after a failed fsync the next Flush fsynced again, succeeded and moved
// the recovery point over pages the kernel may have dropped. Now a failed
// fsync takes the log offline and the recovery point stays.
func TestFailedFsyncIsNotRetried(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, smallConfig())
	defer l.Close()
	_, err := l.Append(makeBatch(3, 1, "s"), 0)
	require.NoError(t, err)
	arm(t, dir, &fsio.Nth{Ops: []fsio.Op{fsio.OpSync}, Match: ".log", N: 1})
	require.Error(t, l.Flush())
	assert.ErrorIs(t, l.Flush(), ErrStorage, "the second flush must not succeed")
	assert.Zero(t, l.RecoveryPoint())
}

func osStat(p string) (int64, error) {
	st, err := os.Stat(p)
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

// openFDs counts this process's open file descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	des, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	return len(des)
}

// TestFailedOpenLeaksNothing checks the suspicion "file descriptors and
// mmaps leak when Open fails late" (proved real: a failure after the
// segments were opened, e.g. activating the last one or rewriting the
// epoch checkpoint, left every segment's three files open and mapped).
// Open is failed at every file-system call it makes, in turn, on a log
// that needs recovery; each failure must leave the descriptor count as it
// was, and a plain Open afterwards must read everything back.
func TestFailedOpenLeaksNothing(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, smallConfig())
	for i := 0; i < 40; i++ {
		_, err := l.Append(makeBatch(3, int64(i), "o"), int32(i/10))
		require.NoError(t, err)
	}
	want := readAllBytes(t, l)
	l.crash()
	count := &fsio.Nth{}
	disarm := fsio.Inject(dir, count)
	l = openLog(t, dir, smallConfig(), WithLogStartOffset(7))
	disarm()
	require.NoError(t, l.Close())
	l.crash()
	calls := count.Count()
	require.Greater(t, calls, 10)
	for n := 1; n <= calls; n++ {
		before := openFDs(t)
		disarm := fsio.Inject(dir, &fsio.Nth{N: n})
		l, err := Open(dir, smallConfig(), WithLogger(quiet), WithLogStartOffset(7))
		disarm()
		if err == nil {
			l.crash()
			continue
		}
		assert.Equal(t, before, openFDs(t), "Open failed at call %d (%v) and leaked descriptors", n, err)
	}
	l = openLog(t, dir, smallConfig(), WithLogStartOffset(7))
	defer l.Close()
	got := readAllBytes(t, l)
	assert.True(t, bytes.HasSuffix(want, got) && len(got) > 0)
}

// TestFollowerAppendSpanningRelativeOffsets checks the suspicion "a
// follower append spanning more than 2^31 offsets overflows the 32-bit
// relative offsets of the index" (proved real: the second batch's relative
// offset wrapped negative in one segment, its index entry was refused
// after the bytes were written). Now such an append is split over
// consecutive segments.
func TestFollowerAppendSpanningRelativeOffsets(t *testing.T) {
	cfg := DefaultConfig()
	cfg.IndexIntervalBytes = 1
	dir := t.TempDir()
	l := openLog(t, dir, cfg)
	a, b, c := makeBatch(2, 1, "a"), makeBatch(2, 2, "b"), makeBatch(2, 3, "c")
	record.SetBaseOffset(b, 1<<31+5)
	record.SetBaseOffset(c, 1<<31+7)
	payload := append(append(append([]byte(nil), a...), b...), c...)
	_, err := l.AppendAsFollower(payload)
	require.NoError(t, err)
	assert.Equal(t, int64(1<<31+9), l.LogEndOffset())
	assert.Equal(t, []int64{0, 1<<31 + 5}, l.SegmentBaseOffsets())
	assert.Equal(t, payload, readAllBytes(t, l))
	got, err := l.ReadBytes(1<<31+6, 1<<20, l.LogEndOffset())
	require.NoError(t, err)
	assert.Equal(t, append(append([]byte(nil), b...), c...), got)
	l.crash()
	for _, clean := range []bool{false, true} {
		l = openLog(t, dir, cfg, WithCleanShutdown(clean))
		assert.Equal(t, payload, readAllBytes(t, l), "clean=%v", clean)
		require.NoError(t, l.Close())
	}
}

// TestRetentionOfSegmentsWithoutTimestamps checks the suspicion "segments
// whose batches carry no timestamp are deleted by time retention at once"
// (proved real: their max timestamp -1 made them look 56 years old). As in
// Kafka (LogSegment.largestTimestamp), such a segment's age is taken from
// its file's modification time.
func TestRetentionOfSegmentsWithoutTimestamps(t *testing.T) {
	cfg := smallConfig()
	cfg.RetentionMs = time.Hour.Milliseconds()
	l := openLog(t, t.TempDir(), cfg) // real clock: file times are real
	defer l.Close()
	for i := 0; i < 100; i++ {
		_, err := l.Append(makeBatch(1, segment.NoTimestamp, "n"), 0)
		require.NoError(t, err)
	}
	require.Greater(t, l.SegmentCount(), 2)
	n, err := l.EnforceRetention()
	require.NoError(t, err)
	assert.Zero(t, n, "segments written just now are not an hour old")
	assert.Zero(t, l.LogStartOffset())
}

// TestProducerStateSurvivesLogStartMove checks the suspicion "producer
// state of a still-active producer is dropped when the log start moves"
// (proved real: DeleteRecords past an idempotent producer's last batch
// forgot it, so its retried batch was appended a second time and a
// sequence gap was accepted). Kafka keeps producer state when the log
// start moves (onLogStartOffsetIncremented only drops unreplicated
// transactions; KAFKA-7190) and forgets producers only by expiry.
func TestProducerStateSurvivesLogStartMove(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, smallConfig())
	idem := func(seq int32, tag string) []byte {
		return record.NewBuilder(0).SetProducer(7, 0, seq).Add(1, nil, []byte(tag)).Build()
	}
	for seq := int32(0); seq < 3; seq++ {
		_, err := l.Append(idem(seq, "v"), 0)
		require.NoError(t, err)
	}
	for i := 0; i < 40; i++ { // other data, several segments
		_, err := l.Append(makeBatch(2, 1, "o"), 0)
		require.NoError(t, err)
	}
	_, err := l.DeleteRecordsBefore(l.LogEndOffset())
	require.NoError(t, err)
	leo := l.LogEndOffset()
	info, err := l.Append(idem(2, "v"), 0) // a retry of the last batch
	require.NoError(t, err)
	assert.Equal(t, int64(2), info.FirstOffset, "the retry is a duplicate of offset 2")
	assert.Equal(t, leo, l.LogEndOffset(), "the retry was appended a second time")
	_, err = l.Append(idem(9, "gap"), 0)
	assert.ErrorIs(t, err, producer.ErrOutOfOrderSequence)
	require.NoError(t, l.Close())
	l = openLog(t, dir, smallConfig(), WithCleanShutdown(true), WithLogStartOffset(leo))
	defer l.Close()
	_, err = l.Append(idem(2, "v"), 0)
	require.NoError(t, err)
	assert.Equal(t, leo, l.LogEndOffset(), "after a restart too")
}
