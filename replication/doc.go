// Package replication will own one partition replica: leader state (high
// watermark, ISR, acks=all waiters), the follower fetcher, truncation by
// leader epoch and producer-id dedupe at the leader.
package replication
