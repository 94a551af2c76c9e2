package logmgr

import (
	"errors"
	"fmt"
	"sync"

	"github.com/strom-broker/strom/engine/checkpoint"
	"github.com/strom-broker/strom/engine/partlog"
)

// createWorkers bounds how many partition logs GetOrCreateAll opens at
// once. Creating a log is a handful of metadata system calls (mkdir, three
// file creations, index preallocation) that mostly wait on the file
// system's journal; running several at once lets one journal commit cover
// many of them.
const createWorkers = 8

// CreateRequest names one partition for GetOrCreateAll and the config its
// log gets if it has to be created (usually TopicConfig(Topic)).
type CreateRequest struct {
	Topic     string
	Partition int32
	Config    partlog.Config
}

// creation is a partition GetOrCreateAll is opening.
type creation struct {
	dir  *logDir
	done chan struct{} // closed once the partition is in logs, or failed
}

// GetOrCreate returns the log of topic/partition, creating it with cfg
// (callers usually pass TopicConfig(topic)) in the log dir that holds the
// fewest partitions if it does not exist. cfg is ignored for an existing
// log.
func (m *Manager) GetOrCreate(topic string, partition int32, cfg partlog.Config) (*partlog.Log, error) {
	logs, err := m.GetOrCreateAll([]CreateRequest{{Topic: topic, Partition: partition, Config: cfg}})
	if err != nil {
		return nil, err
	}
	return logs[0], nil
}

// GetOrCreateAll is GetOrCreate for many partitions at once: logs[i] is
// the log of reqs[i]. Missing partitions are created concurrently (up to
// createWorkers at a time), each in the log dir holding the fewest
// partitions, and each log dir that received one is fsync'd once, before
// any new log is returned, so a created partition's dir entry is durable
// before anything can be appended to it. On error, logs still holds the
// logs that are open (nil for the failed requests) and err joins one error
// per failed request (ErrInvalidPartition, ErrPartitionDeleting, ErrClosed,
// or the I/O error). A partition another call is creating is waited for.
func (m *Manager) GetOrCreateAll(reqs []CreateRequest) ([]*partlog.Log, error) {
	logs := make([]*partlog.Log, len(reqs))
	errs := make([]error, len(reqs))
	for i, r := range reqs {
		tp := TopicPartition{Topic: r.Topic, Partition: r.Partition}
		if !checkpoint.ValidTopic(r.Topic) || r.Partition < 0 {
			errs[i] = fmt.Errorf("%w: %q partition %d", ErrInvalidPartition, r.Topic, r.Partition)
		} else if err := r.Config.Validate(); err != nil {
			errs[i] = fmt.Errorf("logmgr: create %s: %w", tp, err)
		}
	}
	for {
		jobs, wait := m.claim(reqs, logs, errs)
		if len(jobs) > 0 {
			m.create(reqs, jobs, logs, errs)
			m.ops.Done()
		}
		if len(wait) == 0 {
			break
		}
		// Another call is creating some of them: wait, then look again.
		for _, ch := range wait {
			<-ch
		}
	}
	return logs, errors.Join(errs...)
}

// createJob is one partition this call creates: reqs[i] in c.dir.
type createJob struct {
	i   int
	tp  TopicPartition
	c   *creation
	p   *partition
	err error
}

// claim resolves the requests that are neither done nor failed: open ones
// fill logs, ones being deleted (or a closed manager) fill errs, ones
// another call is creating add their done channel to wait, and the rest
// are registered in m.mu.creating and returned as jobs. When jobs is
// non-empty, claim did m.ops.Add(1) for them.
func (m *Manager) claim(reqs []CreateRequest, logs []*partlog.Log, errs []error) (jobs []createJob, wait []chan struct{}) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var counts map[*logDir]int
	for i, r := range reqs {
		if logs[i] != nil || errs[i] != nil {
			continue
		}
		tp := TopicPartition{Topic: r.Topic, Partition: r.Partition}
		switch {
		case m.mu.closed:
			errs[i] = ErrClosed
		case m.mu.logs[tp] != nil:
			logs[i] = m.mu.logs[tp].log
		case m.mu.deleting[tp]:
			errs[i] = fmt.Errorf("%w: %s", ErrPartitionDeleting, tp)
		case m.mu.creating[tp] != nil:
			wait = append(wait, m.mu.creating[tp].done)
		default:
			if counts == nil {
				counts = m.dirCountsLocked()
			}
			d := m.leastLoadedDir(counts)
			if d == nil {
				errs[i] = ErrAllDirsOffline
				continue
			}
			c := &creation{dir: d, done: make(chan struct{})}
			counts[c.dir]++
			m.mu.creating[tp] = c
			jobs = append(jobs, createJob{i: i, tp: tp, c: c})
		}
	}
	if len(jobs) > 0 {
		m.ops.Add(1)
	}
	return jobs, wait
}

// create opens the claimed partitions, fsyncs their log dirs and installs
// them. REQUIRES: the jobs were claimed (in m.mu.creating); m.mu not held.
func (m *Manager) create(reqs []CreateRequest, jobs []createJob, logs []*partlog.Log, errs []error) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, createWorkers)
	for k := range jobs {
		j := &jobs[k]
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			j.p, j.err = m.openLog(j.tp, j.c.dir, reqs[j.i].Config, partlog.WithCleanShutdown(true))
			if j.err != nil && !errors.Is(j.err, partlog.ErrInvalidConfig) {
				m.ioErr(j.c.dir, j.err)
			}
		})
	}
	wg.Wait()
	// One fsync per dir makes every new partition dir entry in it durable.
	synced := map[*logDir]error{}
	for _, j := range jobs {
		if _, done := synced[j.c.dir]; j.err == nil && !done {
			synced[j.c.dir] = m.ioErr(j.c.dir, checkpoint.SyncDir(j.c.dir.path))
		}
	}
	var failed []*partition
	m.mu.Lock()
	for k := range jobs {
		j := &jobs[k]
		if j.err == nil {
			j.err = synced[j.c.dir]
		}
		delete(m.mu.creating, j.tp)
		if j.err == nil && j.c.dir.offline.Load() {
			// The dir went offline while the log was opened (dirFailed
			// did not see it in m.mu.logs yet).
			j.p.log.MarkOffline(fmt.Errorf("logmgr: log dir %s is offline: %w", j.c.dir.path, partlog.ErrStorage))
		}
		if j.err == nil {
			m.mu.logs[j.tp] = j.p
			logs[j.i] = j.p.log
		} else {
			errs[j.i] = j.err
			if j.p != nil {
				failed = append(failed, j.p)
			}
		}
		close(j.c.done)
	}
	m.mu.Unlock()
	for _, p := range failed {
		_ = p.log.Close()
	}
	for _, j := range jobs {
		if j.err == nil {
			m.logger.Info("created partition log", "partition", j.tp.String(), "dir", j.c.dir.path)
		}
	}
}
