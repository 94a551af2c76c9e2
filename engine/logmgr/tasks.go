package logmgr

import (
	"errors"
	"strings"
	"time"

	"github.com/strom-broker/strom/engine/partlog"
)

// Cleaner compacts logs. The log manager does not compact; it calls the
// installed Cleaner (WithCleaner) from RunCleaner for every log whose
// cleanup.policy contains "compact".
type Cleaner interface {
	// Clean runs one cleaning pass over l (it decides itself, e.g. from
	// min.cleanable.dirty.ratio, whether there is work). l may be closed
	// concurrently by Delete; Clean then fails with partlog.ErrClosed,
	// which the manager ignores. Close waits for a Clean in progress.
	Clean(tp TopicPartition, l *partlog.Log) error
}

// FlushDirty fsyncs every log whose flush.ms has elapsed since the
// manager last flushed it (log.flush.scheduler.interval.ms drives it).
func (m *Manager) FlushDirty() error {
	parts, err := m.beginSnapshot()
	if err != nil {
		return err
	}
	defer m.ops.Done()
	now := m.now()
	var errs []error
	for _, p := range parts {
		elapsed := now.Sub(time.Unix(0, p.lastFlush.Load())).Milliseconds()
		if elapsed < p.log.Config().FlushMs {
			continue
		}
		if err := p.log.Flush(); err != nil {
			errs = append(errs, quietOffline(err))
			continue
		}
		p.lastFlush.Store(now.UnixNano())
	}
	return errors.Join(errs...)
}

// RunRetention enforces retention.ms / retention.bytes on every log
// (log.retention.check.interval.ms drives it) and returns how many
// segments were deleted in all.
func (m *Manager) RunRetention() (int, error) {
	parts, err := m.beginSnapshot()
	if err != nil {
		return 0, err
	}
	defer m.ops.Done()
	var (
		total int
		errs  []error
	)
	for _, p := range parts {
		n, err := p.log.EnforceRetention()
		total += n
		errs = append(errs, quietOffline(err))
	}
	return total, errors.Join(errs...)
}

// RunCleaner calls the Cleaner for every log whose cleanup.policy contains
// "compact" (log.cleaner.backoff.ms drives it). Without a Cleaner it does
// nothing.
func (m *Manager) RunCleaner() error {
	if m.cleaner == nil {
		return nil
	}
	parts, err := m.beginSnapshot()
	if err != nil {
		return err
	}
	defer m.ops.Done()
	var errs []error
	for _, p := range parts {
		if !strings.Contains(p.log.Config().CleanupPolicy, partlog.CleanupCompact) {
			continue
		}
		err := m.cleaner.Clean(p.tp, p.log)
		if isIOError(err) {
			// Kafka's cleaner takes the dir offline on an IOException
			// too (its files live in the partition dir).
			m.ioErr(p.dir, err)
		}
		errs = append(errs, quietOffline(err))
	}
	return errors.Join(errs...)
}

// startLoops starts one goroutine per background task with a finite
// interval.
func (m *Manager) startLoops() {
	m.loop("flush", m.cfg.FlushSchedulerIntervalMs, m.FlushDirty)
	m.loop("retention", m.cfg.RetentionCheckIntervalMs, func() error { _, err := m.RunRetention(); return err })
	m.loop("recovery-point checkpoint", m.cfg.FlushOffsetCheckpointIntervalMs, m.WriteRecoveryPoints)
	m.loop("log-start checkpoint", m.cfg.FlushStartOffsetCheckpointIntervalMs, m.WriteLogStartOffsets)
	if m.cleaner != nil {
		m.loop("cleaner", m.cfg.CleanerBackoffMs, m.RunCleaner)
	}
}

// loop runs work on every tick until Close. A failure is logged once per
// run; the next tick tries again.
func (m *Manager) loop(name string, ms int64, work func() error) {
	d := interval(ms)
	if d == 0 {
		return
	}
	t := m.newTicker(d)
	m.loops.Go(func() {
		defer t.Stop()
		for {
			select {
			case <-m.stop:
				return
			case <-t.C():
				if err := work(); err != nil && !errors.Is(err, ErrClosed) {
					m.logger.Error("log manager background task failed", "task", name, "err", err)
				}
			}
		}
	})
}
