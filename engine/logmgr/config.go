package logmgr

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/strom-broker/strom/engine/partlog"
)

// Config holds the broker-level settings of the log manager. Field comments
// name the Kafka property and the default DefaultConfig sets.
type Config struct {
	// LogDirs is log.dirs: the data directories. Required, no duplicates.
	LogDirs []string
	// BrokerID is broker.id, written to and checked against meta.properties.
	BrokerID int32
	// ClusterID is the cluster id checked against meta.properties. Empty
	// adopts the id found on disk (and writes none on a fresh dir).
	ClusterID string
	// RecoveryThreadsPerDataDir is num.recovery.threads.per.data.dir: how
	// many partitions of one dir are opened (and recovered) at once.
	// Default 1.
	RecoveryThreadsPerDataDir int
	// FlushSchedulerIntervalMs is log.flush.scheduler.interval.ms: how often
	// FlushDirty runs. Default MaxInt64 (never, as in Kafka).
	FlushSchedulerIntervalMs int64
	// RetentionCheckIntervalMs is log.retention.check.interval.ms: how often
	// RunRetention runs. Default 300000 (5 min).
	RetentionCheckIntervalMs int64
	// FlushOffsetCheckpointIntervalMs is
	// log.flush.offset.checkpoint.interval.ms: how often the recovery
	// points are checkpointed. Default 60000.
	FlushOffsetCheckpointIntervalMs int64
	// FlushStartOffsetCheckpointIntervalMs is
	// log.flush.start.offset.checkpoint.interval.ms: how often the log start
	// offsets are checkpointed. Default 60000.
	FlushStartOffsetCheckpointIntervalMs int64
	// CleanerBackoffMs is log.cleaner.backoff.ms: how often RunCleaner runs
	// (only with a Cleaner). Default 15000.
	CleanerBackoffMs int64
	// Log is the default partition log config (the broker's log.* settings);
	// per-topic overrides replace it for their topic.
	Log partlog.Config
}

// DefaultConfig returns Kafka's defaults with no log dirs.
func DefaultConfig() Config {
	return Config{
		RecoveryThreadsPerDataDir:            1,
		FlushSchedulerIntervalMs:             math.MaxInt64,
		RetentionCheckIntervalMs:             300_000,
		FlushOffsetCheckpointIntervalMs:      60_000,
		FlushStartOffsetCheckpointIntervalMs: 60_000,
		CleanerBackoffMs:                     15_000,
		Log:                                  partlog.DefaultConfig(),
	}
}

// ErrInvalidConfig is wrapped by every Validate error.
var ErrInvalidConfig = errors.New("logmgr: invalid config")

// Validate reports every setting out of range at once, naming the Kafka
// property and the value. It fills in nothing.
func (c Config) Validate() error {
	var errs []error
	bad := func(key string, v any, want string) {
		errs = append(errs, fmt.Errorf("%w: %s=%v, want %s", ErrInvalidConfig, key, v, want))
	}
	if len(c.LogDirs) == 0 {
		bad("log.dirs", "", "at least one directory")
	}
	seen := map[string]bool{}
	for _, d := range c.LogDirs {
		if d == "" || seen[d] {
			bad("log.dirs", c.LogDirs, "distinct non-empty paths")
			break
		}
		seen[d] = true
	}
	if c.BrokerID < 0 {
		bad("broker.id", c.BrokerID, ">= 0")
	}
	if c.RecoveryThreadsPerDataDir < 1 {
		bad("num.recovery.threads.per.data.dir", c.RecoveryThreadsPerDataDir, ">= 1")
	}
	for _, iv := range []struct {
		key string
		v   int64
	}{
		{"log.flush.scheduler.interval.ms", c.FlushSchedulerIntervalMs},
		{"log.retention.check.interval.ms", c.RetentionCheckIntervalMs},
		{"log.flush.offset.checkpoint.interval.ms", c.FlushOffsetCheckpointIntervalMs},
		{"log.flush.start.offset.checkpoint.interval.ms", c.FlushStartOffsetCheckpointIntervalMs},
		{"log.cleaner.backoff.ms", c.CleanerBackoffMs},
	} {
		if iv.v < 1 {
			bad(iv.key, iv.v, ">= 1")
		}
	}
	if err := c.Log.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("%w: default log config: %w", ErrInvalidConfig, err))
	}
	return errors.Join(errs...)
}

// interval converts a millisecond setting to a ticker period; values too
// large for a Duration (Kafka's "never") return 0, meaning no loop.
func interval(ms int64) time.Duration {
	if ms <= 0 || ms > int64(math.MaxInt64/time.Millisecond) {
		return 0
	}
	return time.Duration(ms) * time.Millisecond
}

// Ticker delivers ticks to a background loop; *time.Ticker satisfies it
// through NewTimeTicker.
type Ticker interface {
	// C returns the channel ticks arrive on.
	C() <-chan time.Time
	// Stop releases the ticker; no tick is delivered after it returns.
	Stop()
}

// NewTimeTicker returns a Ticker backed by time.NewTicker; it is the
// default ticker factory.
func NewTimeTicker(d time.Duration) Ticker { return timeTicker{time.NewTicker(d)} }

type timeTicker struct{ t *time.Ticker }

func (t timeTicker) C() <-chan time.Time { return t.t.C }
func (t timeTicker) Stop()               { t.t.Stop() }

// Option configures Open.
type Option func(*options)

type options struct {
	clock   func() time.Time
	ticker  func(time.Duration) Ticker
	logger  *slog.Logger
	cleaner Cleaner
	topics  map[string]partlog.Config

	onDirOffline func(dir string, err error, online int)
}

// WithClock injects the clock the manager and every log it opens use
// (flush.ms, retention.ms, segment.ms). Default time.Now.
func WithClock(now func() time.Time) Option { return func(o *options) { o.clock = now } }

// WithTicker injects the ticker factory of the background loops; it is
// called once per loop with that loop's interval. Default NewTimeTicker.
func WithTicker(newTicker func(time.Duration) Ticker) Option {
	return func(o *options) { o.ticker = newTicker }
}

// WithLogger sets the logger for operator-worthy events. Default
// slog.Default().
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithCleaner installs the log cleaner (compaction). Default none.
func WithCleaner(c Cleaner) Option { return func(o *options) { o.cleaner = c } }

// WithTopicConfigs gives per-topic config overrides known at start-up, so
// the logs found on disk open with them. Each is validated by Open.
func WithTopicConfigs(cfgs map[string]partlog.Config) Option {
	return func(o *options) {
		o.topics = make(map[string]partlog.Config, len(cfgs))
		for t, c := range cfgs {
			o.topics[t] = c
		}
	}
}
