package logmgr

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strom-broker/strom/engine/checkpoint"
	"github.com/strom-broker/strom/engine/internal/fsio"
	"github.com/strom-broker/strom/engine/partlog"
)

// offlineRecorder records the WithDirOfflineHandler calls.
type offlineRecorder struct {
	mu     sync.Mutex
	dirs   []string
	online []int
}

func (r *offlineRecorder) handle(dir string, err error, online int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dirs = append(r.dirs, dir)
	r.online = append(r.online, online)
}

// placed creates topic t partitions 0..n-1 and groups them by dir.
func placed(t *testing.T, m *Manager, n int) map[string][]*partlog.Log {
	t.Helper()
	out := map[string][]*partlog.Log{}
	for p := range int32(n) {
		l := create(t, m, "t", p)
		d, ok := m.DirOf("t", p)
		require.True(t, ok)
		out[d] = append(out[d], l)
	}
	return out
}

// TestDirGoesOfflineOnIOError: a failed write in one log dir takes that
// whole dir offline (every partition in it answers ErrStorage, its
// checkpoints and clean-shutdown marker are no longer written, no new
// partition goes there), the other dir keeps serving, and after a restart
// every acknowledged record of both dirs reads back.
func TestDirGoesOfflineOnIOError(t *testing.T) {
	e := newEnv(t, 2)
	rec := &offlineRecorder{}
	m := e.open(t, WithDirOfflineHandler(rec.handle))
	byDir := placed(t, m, 4)
	bad, good := e.cfg.LogDirs[0], e.cfg.LogDirs[1]
	acked := map[*partlog.Log][]byte{}
	appendAcked := func(l *partlog.Log, tag string) error {
		b := makeBatch(2, 1, tag)
		_, err := l.Append(b, 0)
		if err == nil {
			acked[l] = append(acked[l], b...)
		}
		return err
	}
	for i := range 5 {
		for _, ls := range byDir {
			for _, l := range ls {
				require.NoError(t, appendAcked(l, fmt.Sprint("a", i)))
			}
		}
	}
	disarm := fsio.Inject(bad, &fsio.Nth{Ops: []fsio.Op{fsio.OpWrite}, Match: ".log", N: 1, Err: syscall.EIO})
	err := appendAcked(byDir[bad][0], "fails")
	require.ErrorIs(t, err, partlog.ErrStorage)
	disarm()
	assert.Equal(t, []string{bad}, m.OfflineDirs())
	assert.Equal(t, []string{bad}, rec.dirs)
	assert.Equal(t, []int{1}, rec.online)
	for _, l := range byDir[bad] { // the sibling partition too
		assert.ErrorIs(t, appendAcked(l, "offline"), partlog.ErrStorage)
		_, err := l.Read(0, 1000, l.LogEndOffset())
		assert.ErrorIs(t, err, partlog.ErrStorage)
	}
	for _, l := range byDir[good] {
		require.NoError(t, appendAcked(l, "still"))
	}
	l := create(t, m, "u", 0) // placed in the online dir
	d, _ := m.DirOf("u", 0)
	assert.Equal(t, good, d)
	require.NoError(t, appendAcked(l, "u"))
	require.NoError(t, m.WriteCheckpoints(), "errors of an offline dir are reported once")
	require.Error(t, m.Close())
	_, err = os.Stat(filepath.Join(bad, CleanShutdownFile))
	assert.True(t, errors.Is(err, os.ErrNotExist), "an offline dir is never marked clean")
	_, err = os.Stat(filepath.Join(good, CleanShutdownFile))
	assert.NoError(t, err)

	m = e.open(t)
	defer m.Close()
	assert.Empty(t, m.OfflineDirs())
	checkAcked(t, m, acked)
}

// checkAcked reads every log of m from its start and checks that each
// acknowledged batch is there, in order, at the same offsets.
func checkAcked(t *testing.T, m *Manager, acked map[*partlog.Log][]byte) {
	t.Helper()
	for old, want := range acked {
		tp, err := parsePartitionDirOf(old.Dir())
		require.NoError(t, err)
		l, ok := m.Get(tp.Topic, tp.Partition)
		require.True(t, ok, "%s", tp)
		got, err := l.ReadBytes(0, 1<<30, l.LogEndOffset())
		require.NoError(t, err)
		assert.True(t, bytes.HasPrefix(got, want), "%s: acknowledged records lost (%d of %d bytes read back)", tp, len(got), len(want))
	}
}

func parsePartitionDirOf(path string) (TopicPartition, error) {
	tp, ok := parsePartitionDir(filepath.Base(path))
	if !ok {
		return tp, fmt.Errorf("not a partition dir: %s", path)
	}
	return tp, nil
}

// TestENOSPCOnFullDisk fills a real file system (a tmpfs with size=, so
// root only; skipped otherwise): the appends to the partitions on it fail
// with ENOSPC, matching partlog.ErrStorage; that dir goes offline while
// the other keeps taking appends; after space is freed (the tmpfs grown)
// and the manager restarted, every acknowledged record of both dirs reads
// back and the full dir takes appends again.
func TestENOSPCOnFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a tmpfs")
	}
	e := newEnv(t, 2)
	small := e.cfg.LogDirs[0]
	require.NoError(t, os.MkdirAll(small, 0o755))
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", small).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", small).Run() })
	e.cfg.Log.SegmentBytes = 64 << 10
	e.cfg.Log.SegmentIndexBytes = 4096
	m := e.open(t)
	byDir := placed(t, m, 2)
	full, other := byDir[small][0], byDir[e.cfg.LogDirs[1]][0]
	acked := map[*partlog.Log][]byte{}
	var failure error
	for i := 0; failure == nil; i++ {
		require.Less(t, i, 100000, "512 KiB never filled")
		for _, l := range []*partlog.Log{full, other} {
			b := makeBatch(20, int64(i), fmt.Sprintf("%0100d", i))
			if _, err := l.Append(b, 0); err != nil {
				require.Same(t, full, l, "the other dir failed: %v", err)
				failure = err
				break
			}
			acked[l] = append(acked[l], b...)
		}
	}
	assert.ErrorIs(t, failure, partlog.ErrStorage)
	assert.ErrorIs(t, failure, syscall.ENOSPC)
	assert.Equal(t, []string{small}, m.OfflineDirs())
	for i := range 20 {
		b := makeBatch(20, 1, fmt.Sprint("after", i))
		_, err := other.Append(b, 0)
		require.NoError(t, err, "the other dir keeps serving")
		acked[other] = append(acked[other], b...)
	}
	_, err := full.Append(makeBatch(1, 1, "x"), 0)
	assert.ErrorIs(t, err, partlog.ErrStorage)
	_ = m.Close()

	out, err := exec.Command("mount", "-o", "remount,size=8m", small).CombinedOutput()
	require.NoError(t, err, "%s", out)
	m = e.open(t)
	defer m.Close()
	checkAcked(t, m, acked)
	l, ok := m.Get("t", 0)
	require.True(t, ok)
	_, err = l.Append(makeBatch(3, 1, "again"), 0)
	assert.NoError(t, err)
}

// TestTruncationRewritesRecoveryPoint checks the suspicion "the
// recovery-point checkpoint is not rewritten right after a truncation"
// (proved real: it kept the old, higher recovery point until the next
// periodic write, so a crash after new appends at the truncated offsets
// would have skipped rescanning them). Kafka's LogManager.truncateTo
// checkpoints the dir at once; so does the manager now, before the
// truncation returns.
func TestTruncationRewritesRecoveryPoint(t *testing.T) {
	e := newEnv(t, 1)
	m := e.open(t)
	defer m.Close()
	l := create(t, m, "t", 0)
	leo := appendN(t, l, 30, 1)
	require.NoError(t, l.Flush())
	require.NoError(t, m.WriteRecoveryPoints())
	rp := func() int64 {
		offs, err := checkpoint.Read(filepath.Join(e.cfg.LogDirs[0], checkpoint.RecoveryPointFile))
		require.NoError(t, err)
		return offs[TopicPartition{Topic: "t", Partition: 0}]
	}
	require.Equal(t, leo, rp())
	require.NoError(t, l.TruncateTo(leo/2))
	assert.LessOrEqual(t, rp(), l.LogEndOffset(), "the checkpoint still claims offsets that were cut")
}

// TestLastDirOffline: with the only log dir offline the handler learns
// that none is left online (the broker then stops, as Kafka's does) and
// no partition can be placed.
func TestLastDirOffline(t *testing.T) {
	e := newEnv(t, 1)
	rec := &offlineRecorder{}
	m := e.open(t, WithDirOfflineHandler(rec.handle))
	l := create(t, m, "t", 0)
	appendN(t, l, 3, 1)
	disarm := fsio.Inject(e.cfg.LogDirs[0], &fsio.Nth{Ops: []fsio.Op{fsio.OpSync}, N: 1})
	assert.ErrorIs(t, l.Flush(), partlog.ErrStorage)
	disarm()
	assert.Equal(t, []int{0}, rec.online)
	_, err := m.GetOrCreate("t", 1, m.TopicConfig("t"))
	assert.ErrorIs(t, err, ErrAllDirsOffline)
	assert.ErrorIs(t, err, partlog.ErrStorage)
	assert.ErrorIs(t, m.Close(), partlog.ErrStorage)
}
