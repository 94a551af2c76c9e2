package logmgr

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strom-broker/strom/engine/checkpoint"
	"github.com/strom-broker/strom/engine/partlog"
	"github.com/strom-broker/strom/engine/record"
)

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func TestOpenCreatesDirsMetaAndMarker(t *testing.T) {
	e := newEnv(t, 2)
	m := e.open(t)
	for _, d := range e.cfg.LogDirs {
		meta, err := checkpoint.ReadMeta(filepath.Join(d, checkpoint.MetaPropertiesFile))
		require.NoError(t, err)
		assert.Equal(t, checkpoint.MetaProperties{Version: 0, BrokerID: 1, ClusterID: "cluster-A"}, meta)
		assert.True(t, exists(filepath.Join(d, LockFile)))
		assert.False(t, exists(filepath.Join(d, CleanShutdownFile)), "no marker while open")
	}
	assert.Equal(t, "cluster-A", m.ClusterID())
	assert.Equal(t, e.cfg.LogDirs, m.LogDirs())
	require.NoError(t, m.Close())
	for _, d := range e.cfg.LogDirs {
		assert.True(t, exists(filepath.Join(d, CleanShutdownFile)), "clean close leaves the marker")
	}
	assert.ErrorIs(t, m.Close(), ErrClosed)

	// An empty ClusterID adopts the one on disk.
	e.cfg.ClusterID = ""
	m = e.open(t)
	assert.Equal(t, "cluster-A", m.ClusterID())
	for _, d := range e.cfg.LogDirs {
		assert.False(t, exists(filepath.Join(d, CleanShutdownFile)), "Open deletes the marker")
	}
	require.NoError(t, m.Close())
}

func TestPartitionsSpreadAndReopen(t *testing.T) {
	e := newEnv(t, 3)
	m := e.open(t)
	leos := map[TopicPartition]int64{}
	for p := range int32(6) {
		l := create(t, m, "orders", p)
		leos[TopicPartition{Topic: "orders", Partition: p}] = appendN(t, l, int(p)+1, 1000)
	}
	st := m.Stats()
	assert.Equal(t, 6, st.Partitions)
	require.Len(t, st.Dirs, 3)
	dirOf := map[TopicPartition]string{}
	for i, ds := range st.Dirs {
		assert.Equal(t, e.cfg.LogDirs[i], ds.Path)
		assert.Equal(t, 2, ds.Partitions, "fewest-partitions placement spreads evenly")
	}
	for tp := range leos {
		d, ok := m.DirOf(tp.Topic, tp.Partition)
		require.True(t, ok)
		dirOf[tp] = d
		assert.True(t, exists(filepath.Join(d, tp.String())))
	}
	again, err := m.GetOrCreate("orders", 0, m.TopicConfig("orders"))
	require.NoError(t, err)
	l0, _ := m.Get("orders", 0)
	assert.Same(t, l0, again, "GetOrCreate returns the open log")
	require.NoError(t, m.Close())

	m = e.open(t)
	defer func() { require.NoError(t, m.Close()) }()
	want := make([]TopicPartition, 0, len(leos))
	for p := range int32(6) {
		want = append(want, TopicPartition{Topic: "orders", Partition: p})
	}
	assert.Equal(t, want, m.Partitions())
	for tp, leo := range leos {
		l, ok := m.Get(tp.Topic, tp.Partition)
		require.True(t, ok, tp)
		assert.Equal(t, leo, l.LogEndOffset(), tp)
		assert.Equal(t, leo, l.RecoveryPoint(), "clean restart: all flushed")
		d, _ := m.DirOf(tp.Topic, tp.Partition)
		assert.Equal(t, dirOf[tp], d)
	}
	_, ok := m.Get("orders", 6)
	assert.False(t, ok)
}

// corruptSecondBatch flips the last byte of the second batch of the first
// segment of dir, so its CRC no longer matches.
func corruptSecondBatch(t *testing.T, dir string) {
	t.Helper()
	matches, err := filepath.Glob(filepath.Join(dir, "*.log"))
	require.NoError(t, err)
	require.Greater(t, len(matches), 2, "want several segments")
	path := matches[0] // zero-padded names sort numerically
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	h1, err := record.ParseHeader(data)
	require.NoError(t, err)
	h2, err := record.ParseHeader(data[h1.Size():])
	require.NoError(t, err)
	data[h1.Size()+h2.Size()-1] ^= 0xff
	require.NoError(t, os.WriteFile(path, data, 0o644))
}

func TestCleanAndUncleanRestart(t *testing.T) {
	for _, tc := range []struct {
		name          string
		removeMarker  bool
		recoverFrom0  bool // rewrite the recovery-point checkpoint to 0
		wantFirstOnly bool // recovery cut the log after the first batch
	}{
		{name: "clean: nothing rescanned", removeMarker: false, recoverFrom0: true},
		{name: "unclean from the recovery point: cut at the bad batch", removeMarker: true, recoverFrom0: true, wantFirstOnly: true},
		{name: "unclean: segments below the recovery point are trusted", removeMarker: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, 1)
			m := e.open(t)
			l := create(t, m, "t", 0)
			leo := appendN(t, l, 8, 1000)
			dir := l.Dir()
			require.NoError(t, m.Close())

			root := e.cfg.LogDirs[0]
			marker := filepath.Join(root, CleanShutdownFile)
			require.True(t, exists(marker))
			rp, err := checkpoint.Read(filepath.Join(root, checkpoint.RecoveryPointFile))
			require.NoError(t, err)
			require.Equal(t, checkpoint.Offsets{{Topic: "t", Partition: 0}: leo}, rp, "Close checkpoints the flushed end")

			corruptSecondBatch(t, dir)
			if tc.removeMarker {
				require.NoError(t, os.Remove(marker))
			}
			if tc.recoverFrom0 {
				require.NoError(t, checkpoint.Write(filepath.Join(root, checkpoint.RecoveryPointFile),
					checkpoint.Offsets{{Topic: "t", Partition: 0}: 0}))
			}
			m = e.open(t)
			defer func() { require.NoError(t, m.Close()) }()
			assert.False(t, exists(marker), "Open deletes the marker")
			l, ok := m.Get("t", 0)
			require.True(t, ok)
			if tc.wantFirstOnly {
				assert.Equal(t, int64(3), l.LogEndOffset(), "cut at the first invalid batch")
				assert.Equal(t, 1, l.SegmentCount(), "later segments deleted")
			} else {
				assert.Equal(t, leo, l.LogEndOffset())
			}
		})
	}
}

func TestDeleteIsAsyncAndCheckpointed(t *testing.T) {
	e := newEnv(t, 2)
	m := e.open(t)
	defer func() { require.NoError(t, m.Close()) }()
	l := create(t, m, "gone", 0)
	keep := create(t, m, "gone", 1)
	appendN(t, l, 3, 1000)
	appendN(t, keep, 1, 1000)
	require.NoError(t, m.WriteCheckpoints())
	dir := l.Dir()
	parent := filepath.Dir(dir)

	require.NoError(t, m.Delete("gone", 0))
	_, ok := m.Get("gone", 0)
	assert.False(t, ok)
	assert.False(t, exists(dir), "the partition dir is renamed at once")
	_, err := l.Append(makeBatch(1, 1, "x"), 0)
	assert.ErrorIs(t, err, partlog.ErrClosed)
	rp, err := checkpoint.Read(filepath.Join(parent, checkpoint.RecoveryPointFile))
	require.NoError(t, err)
	assert.NotContains(t, rp, TopicPartition{Topic: "gone", Partition: 0})

	m.WaitForDeletions()
	des, err := os.ReadDir(parent)
	require.NoError(t, err)
	for _, de := range des {
		assert.False(t, strings.HasPrefix(de.Name(), "gone-0"), "leftover %s", de.Name())
	}
	assert.Equal(t, 0, m.Stats().PendingDeletions)
	assert.ErrorIs(t, m.Delete("gone", 0), ErrUnknownPartition)

	fresh := create(t, m, "gone", 0)
	assert.Equal(t, int64(0), fresh.LogEndOffset(), "a recreated partition starts empty")
	_, ok = m.Get("gone", 1)
	assert.True(t, ok)
}

func TestCrashBetweenRenameAndDeleteFinishedOnOpen(t *testing.T) {
	e := newEnv(t, 1)
	m := e.open(t)
	l := create(t, m, "t.x", 3)
	appendN(t, l, 2, 1000)
	create(t, m, "t.x", 4)
	dir := l.Dir()
	require.NoError(t, m.Close())

	root := e.cfg.LogDirs[0]
	pending := filepath.Join(root, deleteDirName(TopicPartition{Topic: "t.x", Partition: 3}))
	require.NoError(t, os.Rename(dir, pending))
	stray := filepath.Join(root, "notes.txt")
	require.NoError(t, os.WriteFile(stray, []byte("hi"), 0o644))
	require.NoError(t, os.Mkdir(filepath.Join(root, "not_a_partition"), 0o755))

	m = e.open(t)
	defer func() { require.NoError(t, m.Close()) }()
	assert.Equal(t, []TopicPartition{{Topic: "t.x", Partition: 4}}, m.Partitions())
	m.WaitForDeletions()
	assert.False(t, exists(pending), "pending deletion finished")
	assert.True(t, exists(stray), "stray files are left alone")
	assert.True(t, exists(filepath.Join(root, "not_a_partition")))
}

func TestTopicNamesWithDashAndDot(t *testing.T) {
	e := newEnv(t, 2)
	m := e.open(t)
	tps := []TopicPartition{
		{Topic: "a-b-c", Partition: 0}, {Topic: "a-b-c", Partition: 12},
		{Topic: "x.y", Partition: 1}, {Topic: "my.topic-with_dash-7", Partition: 2},
		{Topic: "__consumer_offsets", Partition: 49}, {Topic: "a-b", Partition: 0},
	}
	for _, tp := range tps {
		appendN(t, create(t, m, tp.Topic, tp.Partition), 1, 5)
	}
	require.NoError(t, m.Close())
	m = e.open(t)
	defer func() { require.NoError(t, m.Close()) }()
	want := append([]TopicPartition(nil), tps...)
	got := m.Partitions()
	assert.ElementsMatch(t, want, got)
	for _, tp := range tps {
		l, ok := m.Get(tp.Topic, tp.Partition)
		require.True(t, ok, tp)
		assert.Equal(t, int64(3), l.LogEndOffset(), tp)
	}
}

func TestParsePartitionDir(t *testing.T) {
	tests := []struct {
		name string
		want TopicPartition
		ok   bool
	}{
		{"orders-0", TopicPartition{Topic: "orders", Partition: 0}, true},
		{"a-b-c-12", TopicPartition{Topic: "a-b-c", Partition: 12}, true},
		{"x.y-3", TopicPartition{Topic: "x.y", Partition: 3}, true},
		{"t--1", TopicPartition{Topic: "t-", Partition: 1}, true},
		{"orders", TopicPartition{}, false},
		{"-0", TopicPartition{}, false},
		{"orders-", TopicPartition{}, false},
		{"orders-01", TopicPartition{}, false},
		{"orders-+1", TopicPartition{}, false},
		{"orders-x", TopicPartition{}, false},
		{"bad topic-0", TopicPartition{}, false},
		{"t-2147483648", TopicPartition{}, false},
		{"..-0", TopicPartition{}, false},
	}
	for _, tc := range tests {
		got, ok := parsePartitionDir(tc.name)
		assert.Equal(t, tc.ok, ok, tc.name)
		assert.Equal(t, tc.want, got, tc.name)
	}
	name := deleteDirName(TopicPartition{Topic: "a-b", Partition: 7})
	assert.True(t, isDeleteDir(name))
	assert.Regexp(t, `^a-b-7\.[0-9a-f]{32}-delete$`, name)
	_, ok := parsePartitionDir(name)
	assert.False(t, ok, "a delete dir never parses as a partition")
	assert.False(t, isDeleteDir("-delete"))
}

func TestLockPreventsSecondManager(t *testing.T) {
	e := newEnv(t, 2)
	m := e.open(t)

	_, err := Open(e.cfg, e.opts...)
	require.ErrorIs(t, err, ErrDirLocked)

	// A failed Open releases what it locked: a dir it took before the
	// locked one is free again.
	other := filepath.Join(t.TempDir(), "other")
	cfg := e.cfg
	cfg.LogDirs = []string{other, e.cfg.LogDirs[1]}
	_, err = Open(cfg, e.opts...)
	require.ErrorIs(t, err, ErrDirLocked)
	cfg.LogDirs = []string{other}
	m2, err := Open(cfg, e.opts...)
	require.NoError(t, err)
	require.NoError(t, m2.Close())

	require.NoError(t, m.Close())
	m = e.open(t) // Close released the locks
	require.NoError(t, m.Close())
}

func TestMetaMismatch(t *testing.T) {
	e := newEnv(t, 2)
	require.NoError(t, e.open(t).Close())

	tests := []struct {
		name   string
		broker int32
		clust  string
	}{
		{"other broker", 2, "cluster-A"},
		{"other cluster", 1, "cluster-B"},
	}
	for _, tc := range tests {
		cfg := e.cfg
		cfg.BrokerID, cfg.ClusterID = tc.broker, tc.clust
		_, err := Open(cfg, e.opts...)
		assert.ErrorIs(t, err, ErrMetaMismatch, tc.name)
	}

	// Two dirs of different clusters, with no configured cluster id.
	require.NoError(t, checkpoint.WriteMeta(filepath.Join(e.cfg.LogDirs[1], checkpoint.MetaPropertiesFile),
		checkpoint.MetaProperties{BrokerID: 1, ClusterID: "cluster-Z"}))
	cfg := e.cfg
	cfg.ClusterID = ""
	_, err := Open(cfg, e.opts...)
	assert.ErrorIs(t, err, ErrMetaMismatch)

	// Corrupt meta.properties is an error too, not a fresh dir.
	require.NoError(t, os.WriteFile(filepath.Join(e.cfg.LogDirs[1], checkpoint.MetaPropertiesFile), []byte("junk"), 0o644))
	_, err = Open(e.cfg, e.opts...)
	assert.ErrorIs(t, err, checkpoint.ErrMalformed)

	// Every failure released the locks.
	require.NoError(t, os.Remove(filepath.Join(e.cfg.LogDirs[1], checkpoint.MetaPropertiesFile)))
	require.NoError(t, e.open(t).Close())
}

func TestDuplicatePartitionAcrossDirs(t *testing.T) {
	e := newEnv(t, 2)
	m := e.open(t)
	l := create(t, m, "dup", 0)
	require.NoError(t, m.Close())
	require.NoError(t, os.MkdirAll(filepath.Join(e.cfg.LogDirs[1], "dup-0"), 0o755))
	if filepath.Dir(l.Dir()) == e.cfg.LogDirs[1] {
		require.NoError(t, os.MkdirAll(filepath.Join(e.cfg.LogDirs[0], "dup-0"), 0o755))
	}
	_, err := Open(e.cfg, e.opts...)
	assert.ErrorContains(t, err, "found in both")
}

func TestCheckpointsWrittenAndReadBack(t *testing.T) {
	e := newEnv(t, 2)
	m := e.open(t)
	a := create(t, m, "a", 0) // dir 0
	b := create(t, m, "b", 0) // dir 1
	appendN(t, a, 5, 1000)
	leoB := appendN(t, b, 2, 1000)
	require.NoError(t, a.Flush())
	start, err := a.DeleteRecordsBefore(4)
	require.NoError(t, err)
	require.NoError(t, m.WriteCheckpoints())

	ta, tb := TopicPartition{Topic: "a", Partition: 0}, TopicPartition{Topic: "b", Partition: 0}
	dirA, _ := m.DirOf("a", 0)
	dirB, _ := m.DirOf("b", 0)
	require.NotEqual(t, dirA, dirB)
	rpA, err := checkpoint.Read(filepath.Join(dirA, checkpoint.RecoveryPointFile))
	require.NoError(t, err)
	assert.Equal(t, checkpoint.Offsets{ta: a.LogEndOffset()}, rpA, "flushed log: recovery point = LEO")
	rpB, err := checkpoint.Read(filepath.Join(dirB, checkpoint.RecoveryPointFile))
	require.NoError(t, err)
	assert.Equal(t, checkpoint.Offsets{tb: b.RecoveryPoint()}, rpB)
	lsA, err := checkpoint.Read(filepath.Join(dirA, checkpoint.LogStartOffsetFile))
	require.NoError(t, err)
	assert.Equal(t, checkpoint.Offsets{ta: start}, lsA)
	assert.Equal(t, int64(4), start)

	hws := map[TopicPartition]int64{ta: 9, tb: leoB, {Topic: "unknown", Partition: 0}: 5}
	require.NoError(t, m.WriteHighWatermarks(hws))
	hwA, err := checkpoint.Read(filepath.Join(dirA, checkpoint.ReplicationOffsetFile))
	require.NoError(t, err)
	assert.Equal(t, checkpoint.Offsets{ta: 9}, hwA, "each dir holds its own partitions only")
	got, err := m.ReadHighWatermarks()
	require.NoError(t, err)
	assert.Equal(t, map[TopicPartition]int64{ta: 9, tb: leoB}, got)
	require.NoError(t, m.Close())

	// The log start offset survives a restart through its checkpoint.
	m = e.open(t)
	defer func() { require.NoError(t, m.Close()) }()
	a, _ = m.Get("a", 0)
	assert.Equal(t, start, a.LogStartOffset())
	got, err = m.ReadHighWatermarks()
	require.NoError(t, err)
	assert.Equal(t, map[TopicPartition]int64{ta: 9, tb: leoB}, got)
}

func TestCheckpointLoopsWithTicker(t *testing.T) {
	e := newEnv(t, 1)
	m := e.open(t)
	l := create(t, m, "t", 0)
	appendN(t, l, 2, 1000)
	require.NoError(t, l.Flush())
	path := filepath.Join(e.cfg.LogDirs[0], checkpoint.RecoveryPointFile)
	_, err := os.Stat(path)
	require.ErrorIs(t, err, fs.ErrNotExist, "nothing written before the first tick")

	e.tickers.drive(t, recoveryEvery)
	rp, err := checkpoint.Read(path)
	require.NoError(t, err)
	assert.Equal(t, checkpoint.Offsets{{Topic: "t", Partition: 0}: l.LogEndOffset()}, rp)

	e.tickers.drive(t, startEvery)
	ls, err := checkpoint.Read(filepath.Join(e.cfg.LogDirs[0], checkpoint.LogStartOffsetFile))
	require.NoError(t, err)
	assert.Equal(t, checkpoint.Offsets{{Topic: "t", Partition: 0}: 0}, ls)

	require.NoError(t, m.Close())
	e.tickers.mu.Lock()
	defer e.tickers.mu.Unlock()
	assert.Len(t, e.tickers.by, 4, "flush, retention and two checkpoint loops; no cleaner")
	for d, ft := range e.tickers.by {
		ft.mu.Lock()
		assert.True(t, ft.stopped, "ticker %v stopped by Close", d)
		ft.mu.Unlock()
	}
}

func TestRetentionDrivenByInjectedClock(t *testing.T) {
	e := newEnv(t, 1)
	e.cfg.Log.RetentionMs = 3_600_000
	m := e.open(t)
	defer func() { require.NoError(t, m.Close()) }()
	l := create(t, m, "logs", 0)
	ts := e.clock.Now().UnixMilli()
	leo := appendN(t, l, 8, ts)
	require.Greater(t, l.SegmentCount(), 2)

	n, err := m.RunRetention()
	require.NoError(t, err)
	assert.Equal(t, 0, n, "nothing is old yet")

	e.clock.Advance(2 * time.Hour)
	before := l.SegmentCount()
	e.tickers.drive(t, retentionEvery)
	assert.Equal(t, 1, l.SegmentCount(), "all but the active segment expired (had %d)", before)
	assert.Greater(t, l.LogStartOffset(), int64(0))
	assert.Equal(t, leo, l.LogEndOffset())
	assert.Equal(t, 1, m.Stats().Segments)
}

func TestFlushDirtyHonoursFlushMs(t *testing.T) {
	e := newEnv(t, 1)
	e.cfg.Log.FlushMs = 1000
	m := e.open(t)
	defer func() { require.NoError(t, m.Close()) }()
	l := create(t, m, "f", 0)
	leo := appendN(t, l, 2, 1000)
	require.Less(t, l.RecoveryPoint(), leo)

	require.NoError(t, m.FlushDirty())
	assert.Less(t, l.RecoveryPoint(), leo, "flush.ms has not elapsed")

	e.clock.Advance(1500 * time.Millisecond)
	e.tickers.drive(t, flushEvery)
	assert.Equal(t, leo, l.RecoveryPoint())
}

// recordingCleaner records the partitions it was asked to clean.
type recordingCleaner struct {
	mu   sync.Mutex
	seen []TopicPartition
}

func (c *recordingCleaner) Clean(tp TopicPartition, l *partlog.Log) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if l == nil {
		return fmt.Errorf("nil log for %s", tp)
	}
	c.seen = append(c.seen, tp)
	return nil
}

func (c *recordingCleaner) calls() []TopicPartition {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]TopicPartition(nil), c.seen...)
}

func TestCleanerCalledForCompactedLogs(t *testing.T) {
	e := newEnv(t, 1)
	compact := smallLogConfig()
	compact.CleanupPolicy = partlog.CleanupCompact
	both := smallLogConfig()
	both.CleanupPolicy = partlog.CleanupCompactDelete
	c := &recordingCleaner{}
	overrides := WithTopicConfigs(map[string]partlog.Config{"compacted": compact})
	m := e.open(t, WithCleaner(c), overrides)
	defer func() { require.NoError(t, m.Close()) }()
	create(t, m, "compacted", 0)
	create(t, m, "plain", 0)
	_, err := m.GetOrCreate("mixed", 0, both)
	require.NoError(t, err)

	e.tickers.drive(t, cleanerEvery)
	calls := c.calls()
	assert.Contains(t, calls, TopicPartition{Topic: "compacted", Partition: 0})
	assert.Contains(t, calls, TopicPartition{Topic: "mixed", Partition: 0})
	assert.NotContains(t, calls, TopicPartition{Topic: "plain", Partition: 0})

	// Logs found on disk open with their topic's override.
	require.NoError(t, m.Close())
	m = e.open(t, overrides)
	l, ok := m.Get("compacted", 0)
	require.True(t, ok)
	assert.Equal(t, compact, l.Config())
	l, _ = m.Get("plain", 0)
	assert.Equal(t, e.cfg.Log, l.Config())
}

func TestSetTopicConfig(t *testing.T) {
	e := newEnv(t, 1)
	m := e.open(t)
	defer func() { require.NoError(t, m.Close()) }()
	l := create(t, m, "cfg", 0)
	assert.Equal(t, e.cfg.Log, m.TopicConfig("cfg"))

	next := smallLogConfig()
	next.RetentionMs = 42
	require.NoError(t, m.SetTopicConfig("cfg", next))
	assert.Equal(t, next, m.TopicConfig("cfg"), "override stored")
	assert.Equal(t, e.cfg.Log, m.TopicConfig("other"))
	assert.Equal(t, next, l.Config(), "applied to the open log")

	bad := next
	bad.SegmentBytes = 1
	assert.ErrorIs(t, m.SetTopicConfig("cfg", bad), partlog.ErrInvalidConfig)
	assert.ErrorIs(t, m.SetTopicConfig("bad topic", next), ErrInvalidPartition)
	assert.Equal(t, next, m.TopicConfig("cfg"), "a rejected config changes nothing")

	_ = m.DeleteTopicConfig("cfg")
	assert.Equal(t, e.cfg.Log, m.TopicConfig("cfg"))
}

func TestInvalidInputs(t *testing.T) {
	e := newEnv(t, 1)
	m := e.open(t)
	_, err := m.GetOrCreate("bad/topic", 0, e.cfg.Log)
	assert.ErrorIs(t, err, ErrInvalidPartition)
	_, err = m.GetOrCreate("ok", -1, e.cfg.Log)
	assert.ErrorIs(t, err, ErrInvalidPartition)
	bad := e.cfg.Log
	bad.SegmentMs = 0
	_, err = m.GetOrCreate("ok", 0, bad)
	assert.ErrorIs(t, err, partlog.ErrInvalidConfig)
	require.NoError(t, m.Close())

	_, err = m.GetOrCreate("ok", 0, e.cfg.Log)
	assert.ErrorIs(t, err, ErrClosed)
	assert.ErrorIs(t, m.Delete("ok", 0), ErrClosed)
	assert.ErrorIs(t, m.WriteCheckpoints(), ErrClosed)
	_, err = m.RunRetention()
	assert.ErrorIs(t, err, ErrClosed)
	assert.ErrorIs(t, m.FlushDirty(), ErrClosed)
	assert.Equal(t, 0, m.Stats().Partitions)
}

func TestConfigValidate(t *testing.T) {
	ok := DefaultConfig()
	ok.LogDirs = []string{"/a"}
	require.NoError(t, ok.Validate())
	tests := []struct {
		name string
		mut  func(*Config)
		key  string
	}{
		{"no dirs", func(c *Config) { c.LogDirs = nil }, "log.dirs"},
		{"dup dirs", func(c *Config) { c.LogDirs = []string{"/a", "/a"} }, "log.dirs"},
		{"broker", func(c *Config) { c.BrokerID = -1 }, "broker.id"},
		{"threads", func(c *Config) { c.RecoveryThreadsPerDataDir = 0 }, "num.recovery.threads.per.data.dir"},
		{"retention interval", func(c *Config) { c.RetentionCheckIntervalMs = 0 }, "log.retention.check.interval.ms"},
		{"log config", func(c *Config) { c.Log.SegmentBytes = 0 }, "segment.bytes"},
	}
	for _, tc := range tests {
		c := ok
		c.LogDirs = []string{"/a"}
		tc.mut(&c)
		err := c.Validate()
		assert.ErrorIs(t, err, ErrInvalidConfig, tc.name)
		assert.ErrorContains(t, err, tc.key, tc.name)
		_, err = Open(c)
		assert.ErrorIs(t, err, ErrInvalidConfig, tc.name)
	}
	assert.Equal(t, 0, int(interval(DefaultConfig().FlushSchedulerIntervalMs)), "Kafka's MaxInt64 means never")
}

func TestConcurrentUse(t *testing.T) {
	e := newEnv(t, 2)
	m := e.open(t)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 10 {
				topic := fmt.Sprintf("c%d", w)
				l, err := m.GetOrCreate(topic, int32(i%3), m.TopicConfig(topic))
				if err != nil {
					assert.ErrorIs(t, err, ErrPartitionDeleting)
					continue
				}
				if _, err := l.Append(makeBatch(1, 1, "x"), 0); err != nil {
					assert.ErrorIs(t, err, partlog.ErrClosed) // deleted meanwhile
				}
				if i%4 == 3 {
					if err := m.Delete(topic, int32(i%3)); err != nil {
						assert.ErrorIs(t, err, ErrUnknownPartition)
					}
				}
			}
		})
	}
	wg.Go(func() {
		for range 10 {
			assert.NoError(t, m.WriteCheckpoints())
			assert.NoError(t, m.FlushDirty())
			_, err := m.RunRetention()
			assert.NoError(t, err)
			_ = m.Stats()
			_ = m.Partitions()
		}
	})
	wg.Wait()
	parts := m.Partitions()
	require.NoError(t, m.Close())
	m = e.open(t)
	defer func() { require.NoError(t, m.Close()) }()
	m.WaitForDeletions()
	assert.Equal(t, parts, m.Partitions(), "what was open at Close is what reopens")
}

func TestCloseGoesOnPastErrors(t *testing.T) {
	e := newEnv(t, 2)
	m := e.open(t)
	var logs []*partlog.Log
	for p := range int32(4) {
		l := create(t, m, "t", p)
		appendN(t, l, 1, 1000)
		logs = append(logs, l)
	}
	// A directory where WriteFileAtomic wants its temporary file makes the
	// checkpoint write in dir 0 fail.
	blocker := filepath.Join(e.cfg.LogDirs[0], checkpoint.RecoveryPointFile+checkpoint.TmpSuffix)
	require.NoError(t, os.Mkdir(blocker, 0o755))

	err := m.Close()
	require.Error(t, err)
	assert.Contains(t, err.Error(), checkpoint.RecoveryPointFile)
	assert.False(t, exists(filepath.Join(e.cfg.LogDirs[0], CleanShutdownFile)), "failed dir is not marked clean")
	assert.True(t, exists(filepath.Join(e.cfg.LogDirs[1], CleanShutdownFile)), "the other dir still closed cleanly")

	// Every log was closed and every lock released despite the error.
	for _, l := range logs {
		_, err := l.Append(makeBatch(1, 1, "late"), 0)
		assert.ErrorIs(t, err, partlog.ErrClosed)
	}
	require.NoError(t, os.Remove(blocker))
	m = e.open(t)
	defer func() { require.NoError(t, m.Close()) }()
	assert.Len(t, m.Partitions(), 4)
	for _, tp := range m.Partitions() {
		l, _ := m.Get(tp.Topic, tp.Partition)
		assert.Equal(t, int64(3), l.LogEndOffset(), tp)
	}
}

func TestDeleteRacingClose(t *testing.T) {
	e := newEnv(t, 2)
	m := e.open(t)
	const n = 12
	for p := range int32(n) {
		appendN(t, create(t, m, "race", p), 1, 1000)
	}
	var wg sync.WaitGroup
	for p := range int32(n) {
		wg.Go(func() {
			if err := m.Delete("race", p); err != nil {
				assert.ErrorIs(t, err, ErrClosed)
			}
		})
	}
	closeErr := m.Close()
	wg.Wait()
	require.NoError(t, closeErr)

	m = e.open(t)
	defer func() { require.NoError(t, m.Close()) }()
	m.WaitForDeletions()
	survivors := m.Partitions()
	for _, d := range e.cfg.LogDirs {
		des, err := os.ReadDir(d)
		require.NoError(t, err)
		for _, de := range des {
			assert.False(t, isDeleteDir(de.Name()), "deletion of %s not finished", de.Name())
		}
		rp, err := checkpoint.Read(filepath.Join(d, checkpoint.RecoveryPointFile))
		require.NoError(t, err)
		for tp := range rp {
			assert.Contains(t, survivors, tp, "checkpoint names only partitions still on disk")
		}
	}
	for _, tp := range survivors {
		l, _ := m.Get(tp.Topic, tp.Partition)
		assert.Equal(t, int64(3), l.LogEndOffset(), "a surviving partition is intact")
	}
}
