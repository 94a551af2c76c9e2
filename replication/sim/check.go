package sim

import (
	"fmt"
	"time"
)

// This file checks the invariants after every event:
//
//   - one leader per leader epoch: no two brokers ever lead the same epoch;
//   - epochs only grow: the stored leader epoch, and each running broker's
//     leader epoch, never decrease;
//   - the leader's high watermark never moves back within its epoch;
//   - every acks=all-acknowledged record is in the log of every leader of
//     its epoch or a later one (checked when the ack arrives and whenever a
//     broker becomes leader);
//   - replicas agree on the committed prefix: below its high watermark, a
//     replica's log holds the records committed at those offsets (each
//     offset is committed to one record, ever).
//
// With unclean election enabled the last two do not hold by design (an
// unclean leader may lack committed records); they are not checked.

// ack is an acknowledged acks=all record.
type ack struct {
	value  string
	offset int64
	epoch  int32
	at     time.Time
}

// view is what the checker saw of a broker after the previous event.
type view struct {
	up     bool
	leader bool
	epoch  int32
	hw     int64
	leo    int64
	// checked: offsets below it were compared with the committed records
	// (reset when the log shrinks).
	checked int64
}

// Violation is a broken invariant.
type Violation struct {
	Invariant string
	Detail    string
	At        time.Duration // virtual time since the start
}

// Error describes the violation.
func (v *Violation) Error() string {
	return fmt.Sprintf("invariant %q broken at %v: %s", v.Invariant, v.At, v.Detail)
}

type checker struct {
	w           *World
	err         error
	views       map[int32]view
	leaders     map[int32]int32 // leader epoch -> broker
	acks        []ack
	committed   []Record // committed[o]: the record committed at offset o
	storedEpoch int32
}

func newChecker(w *World) *checker {
	return &checker{w: w, views: map[int32]view{}, leaders: map[int32]int32{}, storedEpoch: -1}
}

func (c *checker) fail(invariant, format string, args ...any) {
	if c.err == nil {
		c.err = &Violation{Invariant: invariant, Detail: fmt.Sprintf(format, args...), At: c.w.Now()}
	}
}

// crashed forgets a crashed broker's process state.
func (c *checker) crashed(id int32) { delete(c.views, id) }

// acked records an acknowledgement and checks it against the leaders of
// its epoch and later ones.
func (c *checker) acked(a ack) {
	c.acks = append(c.acks, a)
	if c.w.cfg.Unclean {
		return
	}
	for _, id := range c.w.ids {
		if b := c.w.nodes[id].b; b != nil && b.isLeader() && b.leaderEpoch >= a.epoch {
			c.hasAck(b, a)
		}
	}
}

func (c *checker) hasAck(b *Broker, a ack) {
	if a.offset >= b.log.leo() || b.log.records[a.offset].Value != a.value {
		c.fail("acknowledged records survive", "%s (acks=all, offset %d, epoch %d) is not in the log of b%d, leader of epoch %d: %s",
			a.value, a.offset, a.epoch, b.id, b.leaderEpoch, b.log)
	}
}

// afterEvent checks every invariant against the state after an event.
func (c *checker) afterEvent() {
	w := c.w
	if w.zk.hasState {
		if w.zk.state.LeaderEpoch < c.storedEpoch {
			c.fail("epochs only grow", "stored leader epoch %d after %d", w.zk.state.LeaderEpoch, c.storedEpoch)
		}
		c.storedEpoch = w.zk.state.LeaderEpoch
	}
	for _, id := range w.ids {
		b := w.nodes[id].b
		if b == nil {
			continue
		}
		old, seen := c.views[id]
		v := view{up: true, leader: b.isLeader(), epoch: b.leaderEpoch, hw: b.hw, leo: b.log.leo(), checked: old.checked}
		if seen && v == old {
			continue
		}
		if v.leo < old.leo || v.checked > v.hw {
			v.checked = min(v.checked, v.leo, v.hw)
		}
		c.views[id] = v
		if seen && v.epoch < old.epoch {
			c.fail("epochs only grow", "b%d went from leader epoch %d to %d", id, old.epoch, v.epoch)
		}
		if v.hw > v.leo {
			c.fail("hw within the log", "b%d: hw %d > log end %d", id, v.hw, v.leo)
		}
		if v.leader {
			becameLeader := !seen || !old.leader || old.epoch != v.epoch
			if becameLeader {
				if other, ok := c.leaders[v.epoch]; ok && other != id {
					c.fail("one leader per epoch", "b%d and b%d both lead epoch %d", other, id, v.epoch)
				}
				c.leaders[v.epoch] = id
				if !w.cfg.Unclean {
					for _, a := range c.acks {
						if a.epoch <= v.epoch {
							c.hasAck(b, a)
						}
					}
				}
			} else if v.hw < old.hw {
				c.fail("leader hw never moves back", "b%d, leader of epoch %d: hw %d -> %d", id, v.epoch, old.hw, v.hw)
			}
		}
		if !w.cfg.Unclean {
			c.checkCommitted(b, v.leader, v.checked)
			v.checked = b.hw
		}
		c.views[id] = v
	}
}

// checkCommitted compares b's log below its high watermark with the
// committed records, and, on a leader, records what it newly committed.
func (c *checker) checkCommitted(b *Broker, leader bool, from int64) {
	for o := from; o < b.hw; o++ {
		r := b.log.records[o]
		if o >= int64(len(c.committed)) {
			if !leader {
				// A follower's hw comes from its leader: it was committed.
				c.fail("replicas agree on the committed prefix", "b%d has offset %d below its hw %d, beyond anything a leader committed", b.id, o, b.hw)
				return
			}
			c.committed = append(c.committed, r)
			continue
		}
		if c.committed[o] != r {
			c.fail("replicas agree on the committed prefix", "b%d holds %s@%d at offset %d below its hw %d; %s@%d was committed there: %s",
				b.id, r.Value, r.Epoch, o, b.hw, c.committed[o].Value, c.committed[o].Epoch, b.log)
			return
		}
	}
}

// holdsCommitted reports whether b's log holds every committed record (a
// replica that could lose data without losing a committed record).
func (c *checker) holdsCommitted(l *memLog) bool {
	if l.leo() < int64(len(c.committed)) {
		return false
	}
	for o, r := range c.committed {
		if l.records[o] != r {
			return false
		}
	}
	return true
}
