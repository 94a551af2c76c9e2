package logmgr

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strom-broker/strom/engine/checkpoint"
	"github.com/strom-broker/strom/engine/partlog"
)

// Manager owns every partition log of one broker. See the package comment
// for the on-disk layout, recovery and the concurrency contract.
type Manager struct {
	cfg       Config // immutable after Open (cfg.Log is superseded by mu.defaults)
	dirs      []*logDir
	clusterID string
	now       func() time.Time
	newTicker func(time.Duration) Ticker
	logger    *slog.Logger
	cleaner   Cleaner

	onDirOffline func(dir string, err error, online int)

	mu struct {
		sync.Mutex
		closed bool
		// logs holds every open partition.
		logs     map[TopicPartition]*partition
		deleting map[TopicPartition]bool
		// creating holds the partitions GetOrCreateAll is opening; their
		// done channel is closed once they are in logs (or failed).
		// Invariant: a partition is in at most one of logs, deleting and
		// creating.
		creating map[TopicPartition]*creation
		defaults partlog.Config
		topics   map[string]partlog.Config // per-topic overrides
	}

	del   deleter
	stop  chan struct{} // closed by Close to end the background loops
	loops sync.WaitGroup
	// ops counts public operations in flight; Close waits for them before
	// it closes the logs. Add happens under mu while !mu.closed only.
	ops sync.WaitGroup
}

// partition is one open log and where it lives.
type partition struct {
	tp  TopicPartition
	log *partlog.Log
	dir *logDir
	// lastFlush is the manager clock (UnixNano) when FlushDirty last
	// flushed the log, or when it was opened.
	lastFlush atomic.Int64
}

// Open opens the log manager over cfg.LogDirs: it creates and locks each
// dir, checks or writes meta.properties, reads the clean-shutdown marker
// and offset checkpoints, opens (recovering as needed) every partition
// found, queues leftover "-delete" dirs for removal, deletes the markers,
// and starts the background loops. On error nothing stays open or locked.
func Open(cfg Config, opts ...Option) (*Manager, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	o := options{clock: time.Now, ticker: NewTimeTicker, logger: slog.Default()}
	for _, opt := range opts {
		opt(&o)
	}
	for t, c := range o.topics {
		if !checkpoint.ValidTopic(t) {
			return nil, fmt.Errorf("%w: topic config for %q", ErrInvalidPartition, t)
		}
		if err := c.Validate(); err != nil {
			return nil, fmt.Errorf("logmgr: config of topic %s: %w", t, err)
		}
	}
	m := &Manager{
		cfg:       cfg,
		now:       o.clock,
		newTicker: o.ticker,
		logger:    o.logger,
		cleaner:   o.cleaner,
		stop:      make(chan struct{}),

		onDirOffline: o.onDirOffline,
	}
	m.mu.logs = map[TopicPartition]*partition{}
	m.mu.deleting = map[TopicPartition]bool{}
	m.mu.creating = map[TopicPartition]*creation{}
	m.mu.defaults = cfg.Log
	m.mu.topics = o.topics
	if m.mu.topics == nil {
		m.mu.topics = map[string]partlog.Config{}
	}
	if err := m.open(); err != nil {
		var errs []error
		for _, p := range m.mu.logs {
			if cerr := p.log.Close(); cerr != nil && !errors.Is(cerr, partlog.ErrClosed) {
				errs = append(errs, cerr)
			}
		}
		for _, d := range m.dirs {
			errs = append(errs, d.unlock())
		}
		return nil, errors.Join(append([]error{err}, errs...)...)
	}
	m.del.start(m.logger)
	m.del.enqueue(m.pendingDeleteDirs()...)
	m.startLoops()
	return m, nil
}

// open does Open's I/O; on error the caller releases what it acquired
// (the dirs in m.dirs, the logs in m.mu.logs).
func (m *Manager) open() error {
	for _, path := range m.cfg.LogDirs {
		d, err := lockDir(path)
		if err != nil {
			return err
		}
		m.dirs = append(m.dirs, d)
	}
	if err := m.checkMeta(); err != nil {
		return err
	}
	for _, d := range m.dirs {
		if err := d.readState(); err != nil {
			return err
		}
	}
	jobs, err := m.scanDirs()
	if err != nil {
		return err
	}
	if err := m.loadLogs(jobs); err != nil {
		return err
	}
	logs := map[*logDir]int{}
	for _, j := range jobs {
		logs[j.dir]++
	}
	for _, d := range m.dirs {
		if err := d.setClean(false); err != nil {
			return err
		}
		switch {
		case d.clean:
			m.logger.Info("log dir was shut down cleanly", "dir", d.path)
		case logs[d] == 0:
			m.logger.Info("log dir holds no partitions yet", "dir", d.path)
		default:
			m.logger.Warn("log dir was not shut down cleanly; logs recovered from their recovery points", "dir", d.path, "partitions", logs[d])
		}
	}
	return nil
}

// checkMeta verifies every dir's meta.properties against the broker and
// cluster ids (and the dirs against each other), then writes it in fresh
// dirs.
func (m *Manager) checkMeta() error {
	m.clusterID = m.cfg.ClusterID
	var fresh []*logDir
	for _, d := range m.dirs {
		meta, ok, err := d.checkMeta(m.cfg.BrokerID, m.clusterID)
		if err != nil {
			return err
		}
		if !ok {
			fresh = append(fresh, d)
			continue
		}
		if m.clusterID == "" {
			m.clusterID = meta.ClusterID
		}
	}
	for _, d := range fresh {
		meta := checkpoint.MetaProperties{Version: 0, BrokerID: m.cfg.BrokerID, ClusterID: m.clusterID}
		if err := checkpoint.WriteMeta(d.file(checkpoint.MetaPropertiesFile), meta); err != nil {
			return err
		}
	}
	return nil
}

// ClusterID returns the cluster id: Config.ClusterID, or the one found in
// meta.properties when that was empty.
func (m *Manager) ClusterID() string { return m.clusterID }

// LogDirs returns the log dirs in configuration order.
func (m *Manager) LogDirs() []string { return slices.Clone(m.cfg.LogDirs) }

// loadJob is one partition dir to open at start-up.
type loadJob struct {
	tp  TopicPartition
	dir *logDir
}

// scanDirs lists each dir's partition dirs, rejecting a partition present
// in two dirs (as Kafka does), and queues "-delete" dirs for removal.
func (m *Manager) scanDirs() ([]loadJob, error) {
	var jobs []loadJob
	where := map[TopicPartition]string{}
	for _, d := range m.dirs {
		des, err := os.ReadDir(d.path)
		if err != nil {
			return nil, fmt.Errorf("logmgr: list %s: %w", d.path, err)
		}
		for _, de := range des {
			if !de.IsDir() || isDeleteDir(de.Name()) {
				continue
			}
			tp, ok := parsePartitionDir(de.Name())
			if !ok {
				m.logger.Warn("ignoring a directory that is not a partition log", "dir", d.path, "name", de.Name())
				continue
			}
			if other, dup := where[tp]; dup {
				return nil, fmt.Errorf("logmgr: partition %s found in both %s and %s", tp, other, d.path)
			}
			where[tp] = d.path
			jobs = append(jobs, loadJob{tp: tp, dir: d})
		}
	}
	return jobs, nil
}

// pendingDeleteDirs lists the "-delete" dirs left by an earlier process.
func (m *Manager) pendingDeleteDirs() []string {
	var out []string
	for _, d := range m.dirs {
		des, err := os.ReadDir(d.path)
		if err != nil {
			m.logger.Error("cannot list log dir for pending deletions", "dir", d.path, "err", err)
			continue
		}
		for _, de := range des {
			if de.IsDir() && isDeleteDir(de.Name()) {
				out = append(out, filepath.Join(d.path, de.Name()))
			}
		}
	}
	return out
}

// loadLogs opens every job's log, all dirs at once and up to
// RecoveryThreadsPerDataDir logs per dir at a time.
func (m *Manager) loadLogs(jobs []loadJob) error {
	perDir := map[*logDir][]loadJob{}
	for _, j := range jobs {
		perDir[j.dir] = append(perDir[j.dir], j)
	}
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	for _, dj := range perDir {
		work := make(chan loadJob)
		for range min(m.cfg.RecoveryThreadsPerDataDir, len(dj)) {
			wg.Go(func() {
				for j := range work {
					p, err := m.openExisting(j)
					mu.Lock()
					if err != nil {
						errs = append(errs, err)
					} else {
						m.mu.logs[j.tp] = p
					}
					mu.Unlock()
				}
			})
		}
		wg.Go(func() {
			defer close(work)
			for _, j := range dj {
				work <- j
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// openExisting opens one partition found on disk with its checkpointed
// recovery point and log start offset.
func (m *Manager) openExisting(j loadJob) (*partition, error) {
	opts := []partlog.Option{partlog.WithCleanShutdown(j.dir.clean)}
	if rp, ok := j.dir.recoveryPoints[j.tp]; ok {
		opts = append(opts, partlog.WithRecoveryPoint(rp))
	}
	if ls, ok := j.dir.logStarts[j.tp]; ok {
		opts = append(opts, partlog.WithLogStartOffset(ls))
	}
	return m.openLog(j.tp, j.dir, m.topicConfig(j.tp.Topic), opts...)
}

// openLog opens tp's log in d.
func (m *Manager) openLog(tp TopicPartition, d *logDir, cfg partlog.Config, opts ...partlog.Option) (*partition, error) {
	opts = append(opts, partlog.WithClock(m.now), partlog.WithLogger(m.logger.With("partition", tp.String())),
		partlog.WithFailureHandler(func(err error) { m.dirFailed(d, err) }),
		partlog.WithTruncationHandler(func() error { return m.truncated(d) }))
	l, err := partlog.Open(filepath.Join(d.path, tp.String()), cfg, opts...)
	if err != nil {
		return nil, fmt.Errorf("logmgr: open %s in %s: %w", tp, d.path, err)
	}
	p := &partition{tp: tp, log: l, dir: d}
	p.lastFlush.Store(m.now().UnixNano())
	return p, nil
}

// topicConfig returns the effective config of topic: its override, or the
// default.
func (m *Manager) topicConfig(topic string) partlog.Config {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.topicConfigLocked(topic)
}

// REQUIRES: m.mu is held.
func (m *Manager) topicConfigLocked(topic string) partlog.Config {
	if c, ok := m.mu.topics[topic]; ok {
		return c
	}
	return m.mu.defaults
}

// Get returns the open log of topic/partition.
func (m *Manager) Get(topic string, partition int32) (*partlog.Log, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.mu.logs[TopicPartition{Topic: topic, Partition: partition}]
	if !ok {
		return nil, false
	}
	return p.log, true
}

// dirCountsLocked counts the partitions each dir holds or is receiving.
// REQUIRES: m.mu is held.
func (m *Manager) dirCountsLocked() map[*logDir]int {
	count := make(map[*logDir]int, len(m.dirs))
	for _, p := range m.mu.logs {
		count[p.dir]++
	}
	for _, c := range m.mu.creating {
		count[c.dir]++
	}
	return count
}

// leastLoadedDir picks the dir with the fewest partitions by count, the
// earliest configured on a tie.
// Offline dirs are skipped; nil when every dir is offline.
func (m *Manager) leastLoadedDir(count map[*logDir]int) *logDir {
	var best *logDir
	for _, d := range m.onlineDirs() {
		if best == nil || count[d] < count[best] {
			best = d
		}
	}
	return best
}

// Partitions returns every open partition, sorted by topic then partition.
func (m *Manager) Partitions() []TopicPartition {
	m.mu.Lock()
	out := make([]TopicPartition, 0, len(m.mu.logs))
	for tp := range m.mu.logs {
		out = append(out, tp)
	}
	m.mu.Unlock()
	slices.SortFunc(out, compareTP)
	return out
}

func compareTP(a, b TopicPartition) int {
	if c := strings.Compare(a.Topic, b.Topic); c != 0 {
		return c
	}
	return int(a.Partition) - int(b.Partition)
}

// DirOf returns the log dir holding topic/partition.
func (m *Manager) DirOf(topic string, partition int32) (string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.mu.logs[TopicPartition{Topic: topic, Partition: partition}]
	if !ok {
		return "", false
	}
	return p.dir.path, true
}

// begin registers a public operation that Close must wait for; it fails
// with ErrClosed once Close has started. Call m.ops.Done when finished.
func (m *Manager) begin() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.mu.closed {
		return ErrClosed
	}
	m.ops.Add(1)
	return nil
}

// beginSnapshot is begin plus the open partitions at that moment.
func (m *Manager) beginSnapshot() ([]*partition, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.mu.closed {
		return nil, ErrClosed
	}
	m.ops.Add(1)
	return m.partitionsLocked(), nil
}

// REQUIRES: m.mu is held.
func (m *Manager) partitionsLocked() []*partition {
	out := make([]*partition, 0, len(m.mu.logs))
	for _, p := range m.mu.logs {
		out = append(out, p)
	}
	return out
}
