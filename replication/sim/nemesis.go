package sim

import (
	"fmt"
	"slices"
	"time"
)

// This file is the fault schedule of a seeded run: random process
// crashes, machine crashes, restarts, link cuts (one direction or both,
// between brokers or between a broker and ZooKeeper) and heals, then a
// quiet period with everything up, after which the cluster must have
// converged.
//
// A machine crash loses the records not yet fsynced (FlushInterval). With
// Kafka's default of no fsync on the write path, losing power on the last
// in-sync replica loses acknowledged records (KIP-966's open case; Strom's
// durable acks, issue #15 item 6, is meant to close it), so the schedule
// crashes a machine only while every running broker reaches ZooKeeper and
// another running replica in the stored ISR, registered, holds every
// committed record; and until the crashed broker has left the stored ISR
// (it is "tainted"), it stays down and no other broker crashes or loses
// ZooKeeper (an expansion proposed before the crash still counts: without
// KIP-903's broker epochs in AlterPartition it may put the broker back).
// Otherwise process crashes keep the page cache and are unrestricted.

// Run runs one seeded simulation: faultTime of random faults, then
// healTime with every broker restarted and every link healed. It returns
// the world and the first invariant violation, or a convergence failure at
// the end.
func Run(cfg Config, seed uint64, faultTime, healTime time.Duration) (*World, error) {
	w := NewWorld(cfg, seed)
	w.after(w.nextFaultIn(), w.fault)
	if err := w.RunFor(faultTime); err != nil {
		return w, err
	}
	w.Heal()
	w.stopFaults = true
	w.restartAll()
	if err := w.RunFor(healTime); err != nil {
		return w, err
	}
	return w, w.converged()
}

func (w *World) nextFaultIn() time.Duration {
	return time.Duration(20+w.rng.IntN(200)) * time.Millisecond
}

// untaint forgets the machine-crashed brokers that left the stored ISR
// and cannot be put back by an expansion proposed before the crash (a
// leader's pending change, or an AlterPartition still in the network).
func (w *World) untaint() {
	for id := range w.tainted {
		if !slices.Contains(w.zk.state.ISR, id) && !w.proposedInISR(id) {
			delete(w.tainted, id)
		}
	}
}

// proposedInISR reports whether a running leader's pending ISR change, or
// an AlterPartition in flight, names id.
func (w *World) proposedInISR(id int32) bool {
	for _, r := range w.ids {
		if b := w.nodes[r].b; b != nil && b.pending != nil && slices.Contains(b.pending.ISR, id) {
			return true
		}
	}
	for _, e := range w.queue {
		if e.msg != nil && e.msg.Kind == AlterPartition && slices.Contains(e.msg.ISR, id) {
			return true
		}
	}
	return false
}

// restartAll restarts every down broker that is not tainted, every tick
// until all run (the healing period).
func (w *World) restartAll() {
	w.untaint()
	all := true
	for _, id := range w.ids {
		if w.nodes[id].b == nil {
			if w.tainted[id] {
				all = false
			} else {
				w.Restart(id)
			}
		}
	}
	if !all {
		w.after(w.cfg.Tick, w.restartAll)
	}
}

// fault injects one random fault and schedules the next.
func (w *World) fault() {
	if w.stopFaults {
		return
	}
	defer w.after(w.nextFaultIn(), w.fault)
	w.untaint()
	var up, down []int32
	for _, id := range w.ids {
		if w.nodes[id].b != nil {
			up = append(up, id)
		} else if !w.tainted[id] {
			down = append(down, id)
		}
	}
	if len(w.tainted) > 0 {
		up = nil // no crash while a machine-crashed broker may still be elected
	}
	pick := func(ids []int32) int32 { return ids[w.rng.IntN(len(ids))] }
	brokers := int32(len(w.nodes))
	switch k := w.rng.IntN(10); {
	case k < 2 || len(up) == 0:
		if len(down) > 0 {
			w.Restart(pick(down))
		}
	case k < 3 && len(up) > 0:
		w.Crash(pick(up), false)
	case k < 4 && len(up) > 0:
		id := pick(up)
		if w.mayLoseUnsynced(id) {
			w.Crash(id, true)
			w.tainted[id] = true
		}
	case k < 6:
		a, b := 1+w.rng.Int32N(brokers), 1+w.rng.Int32N(brokers)
		if a != b {
			w.Cut(a, b)
			if k == 5 {
				w.Cut(b, a)
			}
		}
	case k < 7:
		if len(w.tainted) == 0 {
			w.Cut(1+w.rng.Int32N(brokers), 0)
		}
	default:
		w.Heal()
	}
}

// mayLoseUnsynced reports whether machine-crashing id keeps every
// committed record on a running replica in the stored ISR — and in the
// ISR id proposed, if id leads with a change in flight (a shrink the
// controller may still store).
func (w *World) mayLoseUnsynced(id int32) bool {
	for _, r := range w.ids {
		if w.nodes[r].b != nil && w.cut[[2]int32{r, 0}] {
			// A running broker cut off from ZooKeeper will lose its
			// session: if it leads, the next election may fall on the
			// crashed broker (still registered) after the leader shrank
			// the ISR to exclude every safe copy.
			return false
		}
	}
	var pending []int32
	if b := w.nodes[id].b; b != nil && b.isLeader() && b.pending != nil {
		pending = b.pending.ISR
	}
	for _, r := range w.zk.state.ISR {
		if pending != nil && !slices.Contains(pending, r) {
			continue
		}
		n := w.nodes[r]
		if r == id || n.b == nil || !n.b.started || w.cut[[2]int32{r, 0}] {
			continue
		}
		// Registered by this process (not a registration its crashed
		// predecessor left behind), reachable, holding everything.
		if reg, ok := w.zk.brokers[r]; ok && reg.epoch == n.b.brokerEpoch && w.check.holdsCommitted(n.log) {
			return true
		}
	}
	return false
}

// converged checks the end of a run: a leader elected and running in the
// stored epoch, and every running replica's log a prefix of the leader's.
func (w *World) converged() error {
	st := w.zk.state
	if !w.zk.hasState || st.Leader < 0 {
		return &Violation{Invariant: "converges", Detail: fmt.Sprintf("no leader after healing: %s", st), At: w.Now()}
	}
	l := w.nodes[st.Leader].b
	if l == nil || !l.isLeader() || l.leaderEpoch != st.LeaderEpoch {
		return &Violation{Invariant: "converges", Detail: fmt.Sprintf("b%d does not lead epoch %d after healing", st.Leader, st.LeaderEpoch), At: w.Now()}
	}
	for _, id := range w.ids {
		n := w.nodes[id]
		if n.b == nil || !slices.Contains(w.cfg.Replicas, id) {
			continue
		}
		if n.log.leo() > l.log.leo() || !slices.Equal(n.log.records, l.log.records[:n.log.leo()]) {
			return &Violation{Invariant: "converges", Detail: fmt.Sprintf("b%d's log is not a prefix of leader b%d's:\n%s", id, l.id, w.State()), At: w.Now()}
		}
	}
	return nil
}
