package logmgr

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"

	"github.com/strom-broker/strom/engine/checkpoint"
	"github.com/strom-broker/strom/engine/internal/fsio"
	"github.com/strom-broker/strom/engine/partlog"
)

// Delete removes topic/partition: it closes the log, renames its dir to
// "<topic>-<partition>.<hex>-delete" (atomic; the parent dir is fsync'd),
// rewrites the dir's offset checkpoints without the partition, and removes
// the renamed dir in the background. It returns once the rename is
// durable; a crash after that point is finished by the next Open.
// While Delete runs, GetOrCreate of the same partition fails with
// ErrPartitionDeleting.
func (m *Manager) Delete(topic string, partition int32) error {
	tp := TopicPartition{Topic: topic, Partition: partition}
	m.mu.Lock()
	for c := m.mu.creating[tp]; c != nil; c = m.mu.creating[tp] {
		// Being created by GetOrCreateAll: delete what it opens.
		m.mu.Unlock()
		<-c.done
		m.mu.Lock()
	}
	if m.mu.closed {
		m.mu.Unlock()
		return ErrClosed
	}
	p, ok := m.mu.logs[tp]
	if !ok {
		m.mu.Unlock()
		return fmt.Errorf("%w: %s", ErrUnknownPartition, tp)
	}
	delete(m.mu.logs, tp)
	m.mu.deleting[tp] = true
	m.ops.Add(1)
	m.mu.Unlock()
	defer m.ops.Done()
	defer func() {
		m.mu.Lock()
		delete(m.mu.deleting, tp)
		m.mu.Unlock()
	}()

	var errs []error
	if err := p.log.Close(); err != nil && !errors.Is(err, partlog.ErrClosed) {
		// The data is going away; a failed final flush does not matter.
		m.logger.Warn("closing a deleted partition log failed", "partition", tp.String(), "err", err)
	}
	target := filepath.Join(p.dir.path, deleteDirName(tp))
	if err := fsio.Rename(p.log.Dir(), target); err != nil {
		return fmt.Errorf("logmgr: delete %s: rename: %w", tp, err)
	}
	if err := checkpoint.SyncDir(p.dir.path); err != nil {
		errs = append(errs, err)
	}
	// A stale recovery point or log start offset would be applied to a
	// partition of the same name created later: drop them now.
	errs = append(errs, m.writeDirCheckpoints(p.dir))
	m.del.enqueue(target)
	m.logger.Info("partition scheduled for deletion", "partition", tp.String(), "dir", target)
	return errors.Join(errs...)
}

// WaitForDeletions blocks until every queued "-delete" dir is removed (or
// the manager is closing).
func (m *Manager) WaitForDeletions() { m.del.wait() }

// deleter removes "-delete" dirs one at a time in a background goroutine.
type deleter struct {
	mu      sync.Mutex
	cond    sync.Cond // signalled when queue or stopped changes, or a removal ends
	queue   []string
	busy    bool // a removal is running
	stopped bool
	done    chan struct{} // closed when the goroutine exits
	logger  *slog.Logger
}

func (d *deleter) start(logger *slog.Logger) {
	d.cond.L = &d.mu
	d.logger = logger
	d.done = make(chan struct{})
	go d.run()
}

func (d *deleter) enqueue(paths ...string) {
	if len(paths) == 0 {
		return
	}
	d.mu.Lock()
	d.queue = append(d.queue, paths...)
	d.cond.Broadcast()
	d.mu.Unlock()
}

// pending returns how many dirs are queued or being removed.
func (d *deleter) pending() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := len(d.queue)
	if d.busy {
		n++
	}
	return n
}

func (d *deleter) run() {
	defer close(d.done)
	d.mu.Lock()
	defer d.mu.Unlock()
	for {
		for len(d.queue) == 0 && !d.stopped {
			d.cond.Wait()
		}
		if d.stopped {
			return
		}
		path := d.queue[0]
		d.queue = d.queue[1:]
		d.busy = true
		d.mu.Unlock()
		err := fsio.RemoveAll(path)
		if err == nil {
			err = checkpoint.SyncDir(filepath.Dir(path))
		}
		if err != nil {
			d.logger.Error("removing a deleted partition dir failed; the next start retries", "dir", path, "err", err)
		} else {
			d.logger.Info("deleted partition dir removed", "dir", path)
		}
		d.mu.Lock()
		d.busy = false
		d.cond.Broadcast()
	}
}

func (d *deleter) wait() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for (len(d.queue) > 0 || d.busy) && !d.stopped {
		d.cond.Wait()
	}
}

// stopAndWait stops the goroutine after its current removal; queued dirs
// stay on disk and are removed by the next Open.
func (d *deleter) stopAndWait() {
	d.mu.Lock()
	d.stopped = true
	d.cond.Broadcast()
	d.mu.Unlock()
	<-d.done
}
