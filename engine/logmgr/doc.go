// Package logmgr is the log manager: every partition log of one broker,
// spread over its log.dirs, with the per-dir state files and the background
// work (flush, retention, checkpoints, cleaner) Kafka's LogManager does.
//
// # On disk
//
// Each log dir holds, byte-compatible with Kafka:
//
//	.lock                              flock'd while a Manager has the dir open
//	meta.properties                    broker.id / cluster.id of the owner
//	.kafka_cleanshutdown               present only after a clean Close
//	recovery-point-offset-checkpoint   per partition: offset below which it is fsync'd
//	log-start-offset-checkpoint        per partition: log start offset
//	replication-offset-checkpoint      per partition: high watermark (owned by replication)
//	<topic>-<partition>/               one partition log (package partlog)
//	<topic>-<partition>.<hex>-delete/  a partition being deleted
//
// A partition dir name is split at its LAST '-' (topics may contain '-'
// and '.'); a name that does not parse as a legal topic and a canonical
// non-negative partition number is ignored, as are stray files.
//
// # Open and recovery
//
// Open locks every dir (a second Manager on the same dir fails with
// ErrDirLocked), checks or writes meta.properties (a broker or cluster id
// mismatch is ErrMetaMismatch), notes whether the clean-shutdown marker
// exists, reads the recovery-point and log-start checkpoints, and opens
// every partition dir concurrently (RecoveryThreadsPerDataDir workers per
// dir), passing each log its recovery point, log start offset and the
// clean flag: after an unclean stop partlog rescans from the recovery point
// and cuts the log at the first invalid byte. Only once every log of a dir
// is open is the marker deleted, so a crash during recovery still finds
// the logs it did not reach untouched. Leftover "-delete" dirs are queued
// for removal.
//
// # Deletion
//
// Delete is asynchronous and crash-safe: the log is closed, its dir is
// renamed (one atomic rename, then the parent dir is fsync'd) to
// "<topic>-<partition>.<32 hex>-delete", and a background goroutine removes
// it. A crash after the rename leaves a "-delete" dir that the next Open
// removes; a crash before it leaves the partition intact.
//
// # Background work
//
// FlushDirty, RunRetention, WriteCheckpoints (WriteRecoveryPoints +
// WriteLogStartOffsets) and RunCleaner are plain methods; Open starts one
// loop per task that calls them on a ticker. Tickers and the clock are
// injectable (WithTicker, WithClock), so tests drive the work without
// sleeping, or call the methods directly. Compaction is not done here: a
// Cleaner (WithCleaner) is called for every log whose cleanup.policy
// contains "compact".
//
// # Limits
//
// A log dir that fails (I/O error, a log that cannot be opened) fails Open
// or the call; Kafka's offline-dir handling (JBOD failover) is not done.
// SetTopicConfig reaches open logs only through a SetConfig method on
// partlog.Log; without one it stores the override for logs opened later
// and reports ErrConfigNotApplied.
//
// # Concurrency and lock order
//
// A *Manager is safe for concurrent use. Close waits for operations in
// flight (Delete, checkpoint writes, a Clean) before closing logs. Lock order: Manager.mu, then a
// logDir's cpMu (checkpoint writes, one writer per file), then a partlog's
// own locks. No partlog call that may do I/O is made while Manager.mu is
// held: GetOrCreateAll registers the partitions it creates in
// Manager.mu.creating, opens them without the lock (several at once) and
// installs them after one fsync per parent dir.
package logmgr
