package logmgr

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strom-broker/strom/engine/internal/testclock"
	"github.com/strom-broker/strom/engine/partlog"
	"github.com/strom-broker/strom/engine/record"
)

var quiet = slog.New(slog.DiscardHandler)

// testClock is a manually advanced clock.
type testClock = testclock.Clock

func newClock() *testClock { return testclock.New() }

// fakeTicker is ticked by the test.
type fakeTicker struct {
	c       chan time.Time
	mu      sync.Mutex
	stopped bool
}

func (t *fakeTicker) C() <-chan time.Time { return t.c }
func (t *fakeTicker) Stop() {
	t.mu.Lock()
	t.stopped = true
	t.mu.Unlock()
}

// tickers hands out fake tickers, one per interval.
type tickers struct {
	mu sync.Mutex
	by map[time.Duration]*fakeTicker
}

func newTickers() *tickers { return &tickers{by: map[time.Duration]*fakeTicker{}} }

func (ts *tickers) factory(d time.Duration) Ticker {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	t := &fakeTicker{c: make(chan time.Time)}
	ts.by[d] = t
	return t
}

// tick delivers one tick to the loop with interval d; it returns once the
// loop took it (the channel is unbuffered).
func (ts *tickers) tick(t *testing.T, d time.Duration) {
	t.Helper()
	ts.mu.Lock()
	ft, ok := ts.by[d]
	ts.mu.Unlock()
	require.True(t, ok, "no loop with interval %v", d)
	select {
	case ft.c <- time.Time{}:
	case <-time.After(30 * time.Second):
		t.Fatalf("loop with interval %v did not take its tick", d)
	}
}

// drive runs the loop with interval d once: it delivers a tick and then a
// second one, which the loop takes only after finishing the first's work.
func (ts *tickers) drive(t *testing.T, d time.Duration) {
	t.Helper()
	ts.tick(t, d)
	ts.tick(t, d)
}

// Distinct intervals so a test can tick one loop.
const (
	flushEvery     = 1001 * time.Millisecond
	retentionEvery = 1002 * time.Millisecond
	recoveryEvery  = 1003 * time.Millisecond
	startEvery     = 1004 * time.Millisecond
	cleanerEvery   = 1005 * time.Millisecond
)

// testConfig returns a config over n fresh dirs with small segments.
func testConfig(t *testing.T, n int) Config {
	t.Helper()
	root := t.TempDir()
	cfg := DefaultConfig()
	cfg.BrokerID = 1
	cfg.ClusterID = "cluster-A"
	cfg.RecoveryThreadsPerDataDir = 2
	for i := range n {
		cfg.LogDirs = append(cfg.LogDirs, filepath.Join(root, fmt.Sprintf("data%d", i)))
	}
	cfg.FlushSchedulerIntervalMs = flushEvery.Milliseconds()
	cfg.RetentionCheckIntervalMs = retentionEvery.Milliseconds()
	cfg.FlushOffsetCheckpointIntervalMs = recoveryEvery.Milliseconds()
	cfg.FlushStartOffsetCheckpointIntervalMs = startEvery.Milliseconds()
	cfg.CleanerBackoffMs = cleanerEvery.Milliseconds()
	cfg.Log = smallLogConfig()
	return cfg
}

func smallLogConfig() partlog.Config {
	c := partlog.DefaultConfig()
	c.SegmentBytes = 300
	c.IndexIntervalBytes = 100
	c.SegmentIndexBytes = 1024
	return c
}

// env is a manager under test with its fake clock and tickers.
type env struct {
	cfg     Config
	clock   *testClock
	tickers *tickers
	opts    []Option
}

func newEnv(t *testing.T, dirs int) *env {
	t.Helper()
	e := &env{cfg: testConfig(t, dirs), clock: newClock(), tickers: newTickers()}
	e.opts = []Option{WithClock(e.clock.Now), WithTicker(e.tickers.factory), WithLogger(quiet)}
	return e
}

func (e *env) open(t *testing.T, extra ...Option) *Manager {
	t.Helper()
	m, err := Open(e.cfg, append(append([]Option(nil), e.opts...), extra...)...)
	require.NoError(t, err)
	return m
}

// makeBatch builds a batch of n records with timestamp ts.
func makeBatch(n int, ts int64, tag string) []byte {
	b := record.NewBuilder(0)
	for i := range n {
		b.Add(ts, []byte(fmt.Sprintf("k%d", i)), []byte(fmt.Sprintf("%s-%d", tag, i)))
	}
	return b.Build()
}

// appendN appends n single-batch appends of 3 records each and returns the
// log end offset.
func appendN(t *testing.T, l *partlog.Log, n int, ts int64) int64 {
	t.Helper()
	for i := range n {
		_, err := l.Append(makeBatch(3, ts, fmt.Sprintf("b%d", i)), 0)
		require.NoError(t, err)
	}
	return l.LogEndOffset()
}

// create is GetOrCreate with the manager's config for the topic.
func create(t *testing.T, m *Manager, topic string, p int32) *partlog.Log {
	t.Helper()
	l, err := m.GetOrCreate(topic, p, m.TopicConfig(topic))
	require.NoError(t, err)
	return l
}
