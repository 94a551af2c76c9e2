// Package group is Strom's classic-protocol consumer group coordinator: the
// broker-side half of Kafka's JoinGroup / SyncGroup / Heartbeat rebalance
// protocol and the keeper of committed offsets, stored in the compacted
// internal topic __consumer_offsets in Kafka's own record layout.
//
// # Shape
//
// A Coordinator takes franz-go kmsg request structs and returns kmsg
// response structs, one method per API, correct at every version a client
// may send (FindCoordinator 0-6, JoinGroup 0-9, SyncGroup 0-5, Heartbeat
// 0-4, LeaveGroup 0-5, OffsetCommit 0-9, OffsetFetch 0-9, DescribeGroups
// 0-6, ListGroups 0-5, DeleteGroups 0-2, OffsetDelete 0). Errors are Kafka
// error codes in the responses, as Kafka's GroupCoordinator answers them.
// It is deterministic: time comes from an injected clock and timers fire
// only when the broker calls Tick (every ~100 ms), so tests drive session
// timeouts and rebalance deadlines without sleeping. JoinGroup and
// SyncGroup block (under a context) on channels that later state changes
// fill; nothing else blocks except appends to __consumer_offsets.
//
// # Ownership
//
// Group g lives in partition PartitionFor(g) = abs(javaHashCode(g)) %
// offsets.topic.num.partitions. The broker calls LoadPartition(p) when it
// becomes leader of __consumer_offsets-p (groups are rebuilt from the log:
// last value per key wins, tombstones delete) and UnloadPartition(p) when
// it stops; requests for groups of other partitions get NOT_COORDINATOR,
// and COORDINATOR_LOAD_IN_PROGRESS while loading. FindCoordinator maps a
// group to its partition and asks the broker for the leader.
//
// # Persistence
//
// Writes go through OffsetsLog (Append writes the batch to the local log
// and returns a wait for its commit; ReadAll replays a partition). PartlogOffsets implements it
// over engine/partlog logs without replication. Records (see codec.go for
// the byte layout): OffsetCommitKey v1 -> OffsetCommitValue v3 (v1 when
// the commit carried an explicit retention); GroupMetadataKey v2 ->
// GroupMetadataValue v3; null values are tombstones. The group record is
// written when a rebalance completes (leader's SyncGroup, or the group
// becoming Empty) and when a static member is replaced; offset records on
// every commit; tombstones on DeleteGroups, OffsetDelete and expiry.
//
// # Group states
//
// Empty -> PreparingRebalance -> CompletingRebalance -> Stable, back to
// PreparingRebalance on any membership or protocol change, and Dead when
// deleted or expired. The join phase ends when every member and every
// MEMBER_ID_REQUIRED member has (re)joined, or at the rebalance timeout
// (the largest of the members'), when dynamic members that did not rejoin
// are removed; an empty group's first rebalance waits
// group.initial.rebalance.delay.ms (extended while members keep arriving).
// Members are removed when their session times out (not while they wait in
// JoinGroup or SyncGroup, except new members after 5 minutes), and when
// they do not SyncGroup within the rebalance timeout after the join.
//
// # Concurrency
//
// Safe for concurrent use. One mutex per loaded partition guards its
// groups and is held while a batch is written to the partition's local
// log, so the log and the in-memory state change in the same order. No
// write holds it while its batch waits for acks=all, as Kafka appends
// with a callback: offset commits apply once committed, in log order
// (a later record for the same partition wins); expiry, deleted topics'
// offsets, DeleteGroups and OffsetDelete remove state when appended and
// answer once committed; the group records of rebalances are settled by
// the request that caused them when it releases the lock (Coordinator.unlock),
// and apply only if the group is still in the state they were written for
// (the leader's SyncGroup: CompletingRebalance at the same generation).
// The Coordinator mutex guards only the partition map and is taken first.
//
// # Deliberate differences from Kafka
//
//   - JoinGroup protocol metadata (and SyncGroup assignments) larger than
//     Config.MemberMetadataMaxBytes are rejected with INVALID_REQUEST;
//     Kafka has no such bound.
//   - A static member rejoining a stable group with a changed subscription
//     (other protocol names, or, in consumer groups, other topics) triggers
//     a rebalance (Kafka only checks that the selected protocol stays the
//     same). The rest of a consumer's metadata (owned partitions,
//     generation, user data) changes on every restart and is ignored, so
//     a restarted static consumer keeps its assignment without one.
//   - OffsetDelete treats a consumer group whose subscriptions do not parse
//     as subscribed to every topic (Kafka: to none).
//   - Protocol-vote ties go to the earliest member's preference (Kafka:
//     unspecified).
//   - DeleteGroups and OffsetDelete answer once their tombstones are
//     committed, with the commit's error if it fails (Kafka appends them
//     with acks=0 and answers NONE at once). The request that caused a
//     group-metadata write (the leader's SyncGroup, a LeaveGroup or tick
//     that empties a group) returns once the write is settled, even when
//     the group changed meanwhile and its answer was decided earlier.
//   - Transactional offset commits, KIP-848 consumer groups, and topic ids
//     (OffsetCommit/OffsetFetch v10) are not supported. FindCoordinator for
//     a transactional id answers UNSUPPORTED_VERSION (non-retriable), so a
//     transactional producer fails at once instead of retrying forever.
package group
