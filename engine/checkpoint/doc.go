// Package checkpoint reads and writes Kafka's small text state files, byte
// compatible with Kafka so operators' tools and habits carry over:
//
//   - the per-log-dir offset checkpoints recovery-point-offset-checkpoint,
//     replication-offset-checkpoint and log-start-offset-checkpoint
//     (Offsets: Parse, Format, Read, Write);
//   - the per-partition leader-epoch-checkpoint (Epochs: ParseEpochs,
//     FormatEpochs, ReadEpochs, WriteEpochs), used by engine/epoch;
//   - meta.properties (MetaProperties: ParseMeta, FormatMeta, ReadMeta, WriteMeta).
//
// # Offset and epoch checkpoint layout
//
// Both checkpoint kinds share one text layout (UTF-8, '\n' line ends; a
// trailing '\r' is tolerated on read):
//
//	0                      <- line 1: format version, always 0
//	2                      <- line 2: number of entry lines that follow
//	orders 0 1042          <- "topic partition offset"  (offset checkpoints)
//	orders 1 977
//
// and for leader-epoch-checkpoint the entry lines are "epoch startOffset".
// Parsing is strict: an unknown version, a count that does not match the
// number of entry lines, a malformed or blank line, a negative partition,
// offset or epoch, an illegal topic name, or a duplicated key is an error
// wrapping ErrMalformed (ErrVersion for the version). Like Kafka, an empty
// file, or one holding only the version line, reads as no entries. Parse
// never panics and never allocates more than its input warrants.
//
// # Crash safety
//
// Every Write* goes through WriteFileAtomic: the bytes are written to
// "<path>.tmp", fsynced, renamed over path, and the directory is fsynced. A
// crash at any point leaves either the old or the new file at path; a
// leftover .tmp file is never read and is overwritten by the next write.
// Read* of a missing file returns no entries and no error (Kafka creates
// missing checkpoint files empty), except ReadMeta, which reports
// fs.ErrNotExist so a broker can tell a fresh log dir.
//
// # Concurrency
//
// The functions hold no state and are safe for concurrent use, but two
// concurrent writes of the same path race on its .tmp file: callers
// serialise writes per path (the log manager and epoch cache do).
package checkpoint
