// Package cleaner is Strom's log cleaner: compaction of partition logs
// whose cleanup.policy contains "compact", with Kafka's semantics and file
// names. A *Cleaner implements logmgr.Cleaner.
//
// # What a cleaning pass does
//
// A log is split at the cleaner checkpoint (the per-log-dir file
// cleaner-offset-checkpoint, Kafka's offset-checkpoint format, holding per
// partition the first dirty offset) into a clean head and a dirty tail that
// ends at the active segment, which is never touched. Clean runs a pass
// when dirty bytes / (clean + dirty bytes) >= min.cleanable.dirty.ratio
// (byte counts over whole inactive segments; CleanLog with force ignores
// the ratio). A pass:
//
//  1. scans the batch headers of the inactive segments;
//  2. builds an offset map, key digest (first 16 bytes of SHA-256, so keys
//     cannot be crafted to collide) -> latest offset, over the dirty
//     segments, whole segments at a time, stopping after the segment that
//     fills it (WithMaxMapEntries); the end of the last mapped segment is
//     the new checkpoint;
//  3. rewrites every inactive segment up to there, in groups of consecutive
//     segments whose total size fits segment.bytes (and whose offsets and
//     index entries fit one segment), so repeated passes merge small
//     segments instead of shrinking them to dust. A group that would come
//     out unchanged and alone is left as it is;
//  4. swaps each cleaned group in crash-safely (see partlog.ReplaceSegments:
//     <base>.log.cleaned -> .swap -> old segments *.deleted -> final names)
//     and then writes the checkpoint.
//
// # Record rules
//
//   - A keyed record is dropped when the offset map holds a later offset
//     for its key. Offsets are never renumbered: a consumer asking for a
//     removed offset gets the next record.
//   - Records with a null key are kept (the broker rejects them on produce
//     for compacted topics; the cleaner never drops what it cannot judge).
//   - Tombstones (null value) follow Kafka 3's rule (KIP-534): when a pass
//     first rewrites a batch holding a tombstone that survives, it stamps the
//     batch with a delete horizon = now + delete.retention.ms (attribute bit
//     6, the horizon stored in firstTimestamp and the record timestamp
//     deltas re-based on it, so record timestamps are unchanged). A later
//     pass at or after the horizon drops the tombstone, unless a batch the
//     cleaner cannot read (below) lies before it: that batch might hold an
//     older value the tombstone still has to hide. Time comes from the
//     injected clock (WithClock).
//   - Each output batch keeps its original header: base offset,
//     lastOffsetDelta (so sequence numbers stay right), producer id, epoch,
//     base sequence, partition leader epoch. recordCount, batchLength,
//     maxTimestamp (CreateTime: the largest kept record timestamp) and the
//     CRC are rewritten. A batch left with no record is dropped, except
//     (as an empty, uncompressed header-only batch, as Kafka writes them)
//     the last batch of a producer id among the inactive segments (Kafka
//     keeps it for producer state) and the last batch of a group when it
//     was dropped (so the cleaned segment covers exactly the offsets of the
//     segments it replaces; crash recovery relies on it).
//   - Uncompressed and gzip batches are filtered (gzip is decompressed and
//     recompressed with compress/gzip). Snappy, lz4 and zstd batches cannot
//     be read with the standard library: they are kept whole, and their
//     records neither enter the offset map nor get removed. Transactional
//     and control batches are also kept whole and unmapped (telling aborted
//     from committed data needs the transaction index; see Limits).
//
// # Limits
//
// Not done: min.compaction.lag.ms / max.compaction.lag.ms; transaction
// aware cleaning (aborted data and markers are kept); cleaning only because
// tombstones expired (Clean waits for the dirty ratio; CleanLog with force
// does it); throttling (log.cleaner.io.max.bytes.per.second); moving the
// checkpoint back when a log is truncated below it (records re-appended
// there are then treated as clean: they are kept and supersede nothing
// until rewritten, never lost). The offset map is a Go map: about 40 bytes
// per distinct key in the dirty section.
//
// # Concurrency
//
// A *Cleaner cleans one log at a time (calls are serialised). Appends,
// reads, rolls and retention run concurrently with a pass; only the swap
// takes the log's writer lock. If the log changed under the pass
// (truncation, retention or record deletion retired a segment being
// cleaned) the swap is abandoned (partlog.ErrCleanConflict) and the next
// pass starts over.
package cleaner
