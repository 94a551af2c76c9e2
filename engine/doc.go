// Package engine is Strom's storage engine: Kafka-format partition logs on
// disk. It imports no other module of the Strom workspace and can be used on
// its own by any Go program.
//
// The subpackages each own one part of the format:
//
//   - record: Kafka v2 record batches (parse, validate, CRC-32C, stamping).
//   - segment: one segment's .log, .index and .timeindex files.
//   - partlog: a partition log made of segments (append, read, recovery).
//   - logmgr: many partition logs under log.dirs, checkpoints, background work.
package engine
