package replication

// This file is durable acks (the topic config durable.acks.enable, beyond
// Kafka): the high watermark covers only records that are on disk on
// every in-sync replica, so an acks=all acknowledgement (and every record
// a consumer reads) survives every replica losing power at once.
//
//   - The leader counts its own log end toward the high watermark only up
//     to its recovery point (everything below it is fsynced); each append
//     starts a background fsync round (kickSync) that advances it.
//   - A follower fetches at an offset only once everything below it is
//     fsynced (FetchOffset), and the fetch offset is what the leader takes
//     as the follower's log end; each append from the leader starts a
//     background fsync round at once, so the partitions of one fetcher
//     sync in parallel while the fetcher applies the rest of its round.
//
// Group commit keeps the cost low: one fsync round (partlog.Log.Flush)
// covers everything appended before it starts, and while it runs the next
// appends accumulate for the next round, so there is at most one round in
// flight and one queued per partition, whatever the produce rate.
//
// Invariant: syncing is true while a syncLoop goroutine runs for p; at
// most one runs at a time. An append publishes its log end before calling
// kickSync, and syncLoop re-checks the log end after clearing syncing, so
// no append is left unsynced.

// SetDurableAcks turns durable acks on or off for this replica (the
// topic's durable.acks.enable). Turning it on never lowers the high
// watermark; turning it off lets it advance to the log end at once.
func (p *Partition) SetDurableAcks(on bool) {
	if p.durable.Swap(on) == on {
		return
	}
	if on {
		p.kickSync()
		return
	}
	p.mu.Lock()
	p.maybeAdvanceHWLocked()
	p.mu.Unlock()
}

// DurableAcks reports whether durable acks are on.
func (p *Partition) DurableAcks() bool { return p.durable.Load() }

// localEnd is the end of this replica's log as the high watermark may
// count it: the recovery point with durable acks, else the log end.
func (p *Partition) localEnd() int64 {
	if p.durable.Load() {
		return p.log.RecoveryPoint()
	}
	return p.log.LogEndOffset()
}

// FetchOffset is the offset a follower fetches at: its log end, and with
// durable acks only once everything below it is fsynced (it waits for the
// round in flight, or runs one). If the fsync fails (the log goes
// offline) it returns the recovery point, so that the leader never counts
// unsynced records as held here.
func (p *Partition) FetchOffset() int64 {
	leo := p.log.LogEndOffset()
	if !p.durable.Load() {
		return leo
	}
	if err := p.log.Flush(); err != nil {
		return min(p.log.RecoveryPoint(), leo)
	}
	return leo
}

// kickSync starts a background fsync round unless durable acks are off,
// one is running, or everything is on disk already.
func (p *Partition) kickSync() {
	if !p.durable.Load() || p.log.RecoveryPoint() >= p.log.LogEndOffset() {
		return
	}
	if p.syncing.CompareAndSwap(false, true) {
		go p.syncLoop()
	}
}

// syncLoop fsyncs until the recovery point reaches the log end, advancing
// the high watermark after each round (as leader).
func (p *Partition) syncLoop() {
	for {
		err := p.log.Flush()
		p.mu.Lock()
		p.maybeAdvanceHWLocked()
		p.mu.Unlock()
		p.syncing.Store(false)
		if err != nil || !p.durable.Load() || p.log.RecoveryPoint() >= p.log.LogEndOffset() {
			// A failed fsync takes the log offline (partlog); its
			// appends fail from now on, so nothing is left to sync.
			return
		}
		if !p.syncing.CompareAndSwap(false, true) {
			return // a newer kickSync runs its own loop
		}
	}
}
