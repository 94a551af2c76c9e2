// Package engine is Strom's storage engine: Kafka-format partition logs on
// disk. It imports no other module of the Strom workspace and can be used on
// its own by any Go program.
//
// The subpackages each own one part of the format:
//
//   - record: Kafka v2 record batches (parse, validate, CRC-32C, stamping,
//     record iteration, builder).
//   - segment: one segment's .log, .index and .timeindex files (mmap'd
//     sparse indexes, lookup, recovery scan, reader pinning).
//   - partlog: a partition log made of segments (append, read as file
//     slices, truncate, retention, group-commit flush, recovery).
//   - epoch: the leader-epoch cache (leader-epoch-checkpoint).
//   - producer: idempotent-producer state and its snapshots.
//   - checkpoint: Kafka's checkpoint and meta.properties files.
//   - logmgr: many partition logs under log.dirs, checkpoints, background work.
//   - cleaner: log compaction.
package engine
