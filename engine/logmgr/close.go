package logmgr

import (
	"errors"
	"fmt"
	"sync"

	"github.com/strom-broker/strom/engine/checkpoint"
	"github.com/strom-broker/strom/engine/partlog"
)

// Close shuts the manager down cleanly: it stops the background loops,
// waits for operations in flight (Delete, checkpoint writes, a Clean), stops
// the deleter (dirs still queued are removed by the next Open), flushes and
// closes every log, writes the offset checkpoints, writes the
// clean-shutdown marker in each dir whose logs all closed without error,
// and releases the dir locks. It goes on past errors and returns them
// joined. A second Close returns ErrClosed.
func (m *Manager) Close() error {
	m.mu.Lock()
	if m.mu.closed {
		m.mu.Unlock()
		return ErrClosed
	}
	m.mu.closed = true
	m.mu.Unlock()

	close(m.stop)
	m.loops.Wait()
	m.ops.Wait() // in-flight Deletes, checkpoint writes, ... finish first
	m.del.stopAndWait()
	m.mu.Lock()
	parts := m.partitionsLocked()
	m.mu.Unlock()

	failed := m.closeLogs(parts)
	var errs []error
	for _, d := range m.dirs {
		if d.offline.Load() {
			m.logger.Error("log dir not marked clean: it is offline", "dir", d.path)
			errs = append(errs, fmt.Errorf("logmgr: log dir %s is offline, not marked clean: %w", d.path, partlog.ErrStorage), d.unlock())
			continue
		}
		if err := failed[d]; err != nil {
			errs = append(errs, err)
			m.logger.Error("log dir not marked clean: a log failed to close", "dir", d.path, "err", err)
		} else {
			// The logs are closed, so RecoveryPoint is each log end offset.
			err := errors.Join(
				m.writeOffsetFiles([]*logDir{d}, parts, checkpoint.RecoveryPointFile, recoveryPoint),
				m.writeOffsetFiles([]*logDir{d}, parts, checkpoint.LogStartOffsetFile, logStart))
			if err == nil {
				err = m.ioErr(d, d.setClean(true))
			}
			errs = append(errs, err)
		}
		errs = append(errs, d.unlock())
	}
	m.mu.Lock()
	clear(m.mu.logs)
	m.mu.Unlock()
	return errors.Join(errs...)
}

// closeLogs closes parts, RecoveryThreadsPerDataDir at a time per dir,
// and returns the joined close errors per dir.
func (m *Manager) closeLogs(parts []*partition) map[*logDir]error {
	var (
		mu     sync.Mutex
		failed = map[*logDir]error{}
		wg     sync.WaitGroup
	)
	sem := make(map[*logDir]chan struct{}, len(m.dirs))
	for _, d := range m.dirs {
		sem[d] = make(chan struct{}, m.cfg.RecoveryThreadsPerDataDir)
	}
	for _, p := range parts {
		s := sem[p.dir]
		s <- struct{}{}
		wg.Go(func() {
			defer func() { <-s }()
			err := p.log.Close()
			if err == nil || errors.Is(err, partlog.ErrClosed) {
				return
			}
			mu.Lock()
			failed[p.dir] = errors.Join(failed[p.dir], fmt.Errorf("logmgr: close %s: %w", p.tp, err))
			mu.Unlock()
		})
	}
	wg.Wait()
	return failed
}
