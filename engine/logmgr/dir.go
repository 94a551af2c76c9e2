package logmgr

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/strom-broker/strom/engine/checkpoint"
	"github.com/strom-broker/strom/engine/internal/fsio"
)

// File names in a log dir. They are part of the on-disk layout.
const (
	// LockFile is flock'd exclusively while a Manager has the dir open.
	LockFile = ".lock"
	// CleanShutdownFile exists only after a clean Close; Open deletes it.
	CleanShutdownFile = ".kafka_cleanshutdown"
)

// Errors of the log manager; test them with errors.Is.
var (
	// ErrDirLocked: another Manager (in this or another process) holds the
	// log dir's lock.
	ErrDirLocked = errors.New("logmgr: log dir is locked by another broker")
	// ErrMetaMismatch: a log dir's meta.properties names another broker or
	// cluster, or two dirs disagree.
	ErrMetaMismatch = errors.New("logmgr: meta.properties mismatch")
	// ErrClosed is returned by every call after Close.
	ErrClosed = errors.New("logmgr: manager closed")
	// ErrUnknownPartition: the manager hosts no such partition.
	ErrUnknownPartition = errors.New("logmgr: unknown partition")
	// ErrInvalidPartition: an illegal topic name or a negative partition.
	ErrInvalidPartition = errors.New("logmgr: invalid topic or partition")
	// ErrPartitionDeleting: the partition is being deleted right now.
	ErrPartitionDeleting = errors.New("logmgr: partition is being deleted")
)

// logDir is one of log.dirs while the manager has it open.
type logDir struct {
	path string
	lock *os.File // holds the flock; closing it releases the lock

	// Read at open, before any log is opened; immutable afterwards.
	clean          bool // the clean-shutdown marker existed
	recoveryPoints checkpoint.Offsets
	logStarts      checkpoint.Offsets

	// offline is set once an I/O error took the dir offline (offline.go).
	offline atomic.Bool

	// cpMu serialises writes of this dir's checkpoint files and marker
	// (checkpoint.WriteFileAtomic shares one .tmp name per file).
	cpMu sync.Mutex
}

// lockDir creates path if missing and takes its lock.
func lockDir(path string) (*logDir, error) {
	if err := fsio.MkdirAll(path, 0o755); err != nil {
		return nil, fmt.Errorf("logmgr: create log dir: %w", err)
	}
	lockPath := filepath.Join(path, LockFile)
	f, err := fsio.OpenFile(lockPath, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("logmgr: open lock file: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s", ErrDirLocked, path)
		}
		return nil, fmt.Errorf("logmgr: lock %s: %w", lockPath, err)
	}
	return &logDir{path: path, lock: f}, nil
}

// unlock releases the dir's lock.
func (d *logDir) unlock() error {
	if d.lock == nil {
		return nil
	}
	err := d.lock.Close() // closing the descriptor drops the flock
	d.lock = nil
	if err != nil {
		return fmt.Errorf("logmgr: unlock %s: %w", d.path, err)
	}
	return nil
}

// readState reads the marker and the offset checkpoints.
func (d *logDir) readState() error {
	_, err := os.Stat(d.file(CleanShutdownFile))
	switch {
	case err == nil:
		d.clean = true
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("logmgr: stat clean-shutdown marker: %w", err)
	}
	if d.recoveryPoints, err = checkpoint.Read(d.file(checkpoint.RecoveryPointFile)); err != nil {
		return err
	}
	if d.logStarts, err = checkpoint.Read(d.file(checkpoint.LogStartOffsetFile)); err != nil {
		return err
	}
	return nil
}

// checkMeta reads meta.properties and checks it against the broker id and
// the cluster id (when non-empty). It returns the meta found, or ok=false
// for a fresh dir.
func (d *logDir) checkMeta(brokerID int32, clusterID string) (m checkpoint.MetaProperties, ok bool, err error) {
	m, err = checkpoint.ReadMeta(d.file(checkpoint.MetaPropertiesFile))
	if errors.Is(err, fs.ErrNotExist) {
		return m, false, nil
	}
	if err != nil {
		return m, false, err
	}
	if m.BrokerID != brokerID {
		return m, false, fmt.Errorf("%w: %s has broker.id %d, this broker is %d",
			ErrMetaMismatch, d.path, m.BrokerID, brokerID)
	}
	if clusterID != "" && m.ClusterID != "" && m.ClusterID != clusterID {
		return m, false, fmt.Errorf("%w: %s has cluster.id %q, expected %q",
			ErrMetaMismatch, d.path, m.ClusterID, clusterID)
	}
	return m, true, nil
}

// setClean deletes (clean=false) or writes (clean=true) the clean-shutdown
// marker durably.
func (d *logDir) setClean(clean bool) error {
	d.cpMu.Lock()
	defer d.cpMu.Unlock()
	path := d.file(CleanShutdownFile)
	if clean {
		return checkpoint.WriteFileAtomic(path, nil, 0o644)
	}
	if err := fsio.Remove(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("logmgr: remove clean-shutdown marker: %w", err)
	}
	return checkpoint.SyncDir(d.path)
}

// writeOffsets replaces one of the dir's offset checkpoints.
func (d *logDir) writeOffsets(name string, offs checkpoint.Offsets) error {
	d.cpMu.Lock()
	defer d.cpMu.Unlock()
	return checkpoint.Write(d.file(name), offs)
}

func (d *logDir) file(name string) string { return filepath.Join(d.path, name) }
