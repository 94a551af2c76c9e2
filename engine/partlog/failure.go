package partlog

// The I/O-error rule (Kafka's): a write, fsync, truncate, rename, create or
// remove that fails while the log changes its files takes the log offline.
// From then on every call (appends, reads, truncation, retention, flushes,
// compaction swaps) fails with an error that matches ErrStorage, and the
// log writes nothing more; Close only releases its files and returns the
// error, so the log manager never marks the dir clean and the next start
// recovers the log from its files (every acknowledged record is a whole,
// valid batch there: recovery keeps it). The failure is reported once to
// the handler given with WithFailureHandler (the log manager takes the
// whole log dir offline, as Kafka does, and the broker answers
// KAFKA_STORAGE_ERROR for its partitions).
//
// Before going offline the failing segment append puts the active segment
// back to its last published state (file cut to the published size, index
// entries dropped) where it can, so the bytes on disk agree with what was
// acknowledged. A failed fsync is never retried: the kernel may have
// dropped the dirty pages and cleared the error ("fsyncgate"), so a later
// successful fsync would prove nothing.

import (
	"errors"
	"fmt"
)

// ErrStorage matches (errors.Is) every error of a log that an I/O failure
// took offline: Kafka's KAFKA_STORAGE_ERROR.
var ErrStorage = errors.New("partlog: storage error")

// storageError is the sticky failure of an offline log.
type storageError struct{ cause error }

func (e *storageError) Error() string {
	return fmt.Sprintf("partlog: log offline after an I/O error: %v", e.cause)
}
func (e *storageError) Is(t error) bool { return t == ErrStorage }
func (e *storageError) Unwrap() error   { return e.cause }

// WithFailureHandler sets a function called once, with the error, when an
// I/O failure takes the log offline (see the rule above). It must not call
// back into the log's writing methods.
func WithFailureHandler(fn func(error)) Option { return func(o *options) { o.onFailure = fn } }

// Failure returns the error that took the log offline, or nil.
func (l *Log) Failure() error {
	if e := l.failure.Load(); e != nil {
		return e
	}
	return nil
}

// MarkOffline takes the log offline with cause (the log manager calls it
// for every log of a dir that failed), unless it already is. Safe to call
// at any time, without the writer lock.
func (l *Log) MarkOffline(cause error) { l.fail(cause) }

// fail takes the log offline with err (an I/O error of a mutation) and
// returns the sticky storage error; nil stays nil. Errors that already
// match ErrStorage or ErrClosed are returned unchanged.
func (l *Log) fail(err error) error {
	if err == nil || errors.Is(err, ErrClosed) {
		return err
	}
	if errors.Is(err, ErrStorage) {
		l.failure.CompareAndSwap(nil, asStorage(err))
		return err
	}
	se := &storageError{cause: err}
	if l.failure.CompareAndSwap(nil, se) {
		l.logger.Error("partition log offline after an I/O error", "err", err)
		l.wake()
		if l.onFailure != nil {
			l.onFailure(se)
		}
		return se
	}
	return l.failure.Load()
}

func asStorage(err error) *storageError {
	var se *storageError
	if errors.As(err, &se) {
		return se
	}
	return &storageError{cause: err}
}

// usable returns ErrClosed after Close, the storage error of an offline
// log, else nil. Lock-free (readers call it).
func (l *Log) usable() error {
	if e := l.failure.Load(); e != nil {
		return e
	}
	if l.shut.Load() {
		return ErrClosed
	}
	return nil
}

// usableLocked is usable for mutations. REQUIRES: l.mu.
func (l *Log) usableLocked() error {
	if l.closed {
		return ErrClosed
	}
	return l.usable()
}
