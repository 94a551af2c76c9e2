package logmgr

// Offline log dirs: the manager's half of the engine's I/O-error rule
// (see partlog/failure.go). When any file-system call fails in a log dir
// (a partition's append, fsync, roll, truncation, retention, compaction,
// or one of the dir's checkpoint writes), the whole dir goes offline, as in
// Kafka (LogDirFailureChannel): every partition in it is taken offline
// (their calls fail with errors matching partlog.ErrStorage, which the
// broker answers as KAFKA_STORAGE_ERROR), its checkpoints and the
// clean-shutdown marker are no longer written, and no new partition is
// placed there. The other dirs keep serving. The handler given with
// WithDirOfflineHandler learns of each dir that goes offline and how many
// are left online; Kafka's broker stops when none is. A dir comes back
// only with a restart, which recovers its logs from their files.

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"github.com/strom-broker/strom/engine/partlog"
)

// ErrAllDirsOffline is returned when a partition must be placed but every
// log dir is offline. It matches partlog.ErrStorage.
var ErrAllDirsOffline = fmt.Errorf("logmgr: every log dir is offline: %w", partlog.ErrStorage)

// WithDirOfflineHandler sets a function called once per log dir that an
// I/O error takes offline, with the dir, the error and how many dirs are
// still online. It must not block on the manager.
func WithDirOfflineHandler(fn func(dir string, err error, online int)) Option {
	return func(o *options) { o.onDirOffline = fn }
}

// OfflineDirs returns the log dirs an I/O error took offline, in
// configuration order.
func (m *Manager) OfflineDirs() []string {
	var out []string
	for _, d := range m.dirs {
		if d.offline.Load() {
			out = append(out, d.path)
		}
	}
	return out
}

// onlineDirs returns the dirs still online.
func (m *Manager) onlineDirs() []*logDir {
	var out []*logDir
	for _, d := range m.dirs {
		if !d.offline.Load() {
			out = append(out, d)
		}
	}
	return out
}

// dirFailed takes d offline after err (once): every partition of d goes
// offline. Called from a partition log's failure handler (possibly under
// that log's writer lock: it takes only m.mu, which is never held while
// calling into a log) and from checkpoint writes.
func (m *Manager) dirFailed(d *logDir, err error) {
	if err == nil || !d.offline.CompareAndSwap(false, true) {
		return
	}
	m.mu.Lock()
	var parts []*partition
	for _, p := range m.mu.logs {
		if p.dir == d {
			parts = append(parts, p)
		}
	}
	m.mu.Unlock()
	online := len(m.onlineDirs())
	m.logger.Error("log dir offline after an I/O error; its partitions answer KAFKA_STORAGE_ERROR until a restart",
		"dir", d.path, "partitions", len(parts), "dirsOnline", online, "err", err)
	for _, p := range parts {
		p.log.MarkOffline(err)
	}
	if m.onDirOffline != nil {
		m.onDirOffline(d.path, err, online)
	}
}

// ioErr reports an error of a log or checkpoint in d: I/O errors take d
// offline. It returns err.
func (m *Manager) ioErr(d *logDir, err error) error {
	if err != nil && !errors.Is(err, partlog.ErrClosed) && !errors.Is(err, ErrClosed) {
		m.dirFailed(d, err)
	}
	return err
}

// isIOError reports whether err comes from a file-system call (as
// opposed to, say, a batch the cleaner could not parse).
func isIOError(err error) bool {
	var pe *os.PathError
	var le *os.LinkError
	var se *os.SyscallError
	var errno syscall.Errno
	return errors.As(err, &pe) || errors.As(err, &le) || errors.As(err, &se) || errors.As(err, &errno)
}

// quietOffline drops errors of logs that are already offline (reported once,
// when their dir went offline) from a background task's result.
func quietOffline(err error) error {
	if errors.Is(err, partlog.ErrStorage) || errors.Is(err, partlog.ErrClosed) {
		return nil
	}
	return err
}
