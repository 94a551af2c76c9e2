package sim

import (
	"errors"
	"maps"
	"slices"
	"time"

	"github.com/strom-broker/strom/coord/election"
)

// This file is the controller's part of a simulated broker: the broker
// holding /controller watches the broker set (each tick, standing in for
// ZooKeeper's child watch), decides with coord/election's Initial and
// Next, writes the state fenced by its controller epoch, and sends
// LeaderAndIsr to the replicas until each acknowledges it. A broker that
// re-registered with a new broker epoch (a bounce) is handled as Kafka's
// controller does (processBrokerChange): as failed first — it leaves the
// ISR — then as started.

// tickController runs the controller election and, on the controller, one
// round of its duties.
func (b *Broker) tickController() {
	cid, cepoch, err := b.zk.controller()
	if err != nil {
		return // cut off: a controller keeps acting until it learns otherwise
	}
	b.knownController = cid
	if cid < 0 {
		epoch, err := b.zk.tryBecomeController(b.id)
		if err != nil {
			return
		}
		b.ctl = &controllerState{epoch: epoch, acked: map[int32][2]int64{}, lastSent: map[int32]sentState{}}
		b.tracef("controller (epoch %d)", epoch)
	} else if b.ctl != nil && (cid != b.id || cepoch != b.ctl.epoch) {
		b.tracef("no longer controller")
		b.ctl = nil
	}
	if b.ctl == nil {
		return
	}
	live, err := b.zk.brokers()
	if err != nil {
		return
	}
	if !maps.Equal(live, b.ctl.known) {
		b.onBrokerChange(live)
	}
	b.sendLeaderAndIsr(live)
}

// onBrokerChange applies the rules after brokers left, bounced or joined.
func (b *Broker) onBrokerChange(live map[int32]int64) {
	var bounced []int32
	for id, e := range live {
		if old, ok := b.ctl.known[id]; ok && old != e {
			bounced = append(bounced, id)
		}
	}
	if len(bounced) > 0 {
		failed := maps.Clone(live)
		for _, id := range bounced {
			delete(failed, id)
		}
		if !b.elect(failed) {
			return
		}
	}
	if !b.elect(live) {
		return
	}
	for id, e := range live {
		if old, ok := b.ctl.known[id]; !ok || old != e {
			delete(b.ctl.acked, id) // a joined or bounced broker gets the state again
		}
	}
	b.ctl.known = live
}

// elect runs election.Initial / election.Next with the given live brokers
// and writes the result; false if the write failed (retried next tick).
func (b *Broker) elect(live map[int32]int64) bool {
	st, ok, err := b.zk.partitionState()
	if err != nil {
		return false
	}
	replicas := b.cfg.Replicas
	var next election.State
	var kind election.Kind
	version := int32(-1)
	if !ok {
		// The topic is created once every replica's broker is up (as a
		// test creates it after starting the cluster).
		for _, r := range replicas {
			if _, up := live[r]; !up {
				return true
			}
		}
		if next, ok = election.Initial(replicas, liveFunc(live)); !ok {
			return true
		}
		kind = election.Clean
	} else {
		var changed bool
		next, kind, changed = election.Next(replicas, election.State{Leader: st.Leader, LeaderEpoch: st.LeaderEpoch, ISR: st.ISR},
			liveFunc(live), b.cfg.Unclean)
		if !changed {
			return true
		}
		version = st.Version
	}
	ns := PartitionState{Leader: next.Leader, LeaderEpoch: next.LeaderEpoch, ISR: next.ISR, ControllerEpoch: b.ctl.epoch}
	v, err := b.zk.setPartitionState(b.ctl.epoch, ns, version)
	if errors.Is(err, errBadVersion) {
		return false
	}
	if err != nil {
		return false
	}
	ns.Version = v
	b.tracef("controller: %s (%s election, live %v)", ns, kind, slices.Sorted(maps.Keys(live)))
	return true
}

// sentState is the last LeaderAndIsr sent to a broker: (leader epoch,
// broker epoch) and when.
type sentState struct {
	state [2]int64
	at    time.Time
}

// sendLeaderAndIsr sends the stored state to every live replica that has
// not acknowledged its leader epoch, at most every ResendInterval.
func (b *Broker) sendLeaderAndIsr(live map[int32]int64) {
	st, ok, err := b.zk.partitionState()
	if err != nil || !ok {
		return
	}
	for _, r := range b.cfg.Replicas {
		e, isLive := live[r]
		if !isLive || b.ctl.acked[r] == [2]int64{int64(st.LeaderEpoch), e} {
			continue
		}
		sent := [2]int64{int64(st.LeaderEpoch), e}
		if last, ok := b.ctl.lastSent[r]; ok && last.state == sent && b.now.Sub(last.at) < b.cfg.ResendInterval {
			continue // the same state went out recently: no resend yet
		}
		b.ctl.lastSent[r] = sentState{state: sent, at: b.now}
		b.send(Msg{To: r, Kind: LeaderAndIsr, State: st, Replicas: b.cfg.Replicas, ControllerEpoch: b.ctl.epoch, BrokerEpoch: e})
	}
}

// onAlterPartition stores a leader's ISR change if election.CheckISRChange
// allows it (KIP-497), fenced by the controller epoch.
func (b *Broker) onAlterPartition(m Msg) {
	reply := Msg{To: m.From, Kind: AlterPartitionResp, ReqID: m.ReqID, LeaderEpoch: m.LeaderEpoch}
	defer func() { b.send(reply) }()
	if b.ctl == nil {
		reply.Err = NotController
		return
	}
	live, err := b.zk.brokers()
	if err != nil {
		reply.Err = NotController
		return
	}
	if live[m.From] != m.BrokerEpoch {
		reply.Err = StaleBrokerEpoch
		return
	}
	st, ok, err := b.zk.partitionState()
	if err != nil || !ok {
		reply.Err = NotController
		return
	}
	already, err := election.CheckISRChange(election.ISRChange{Sender: m.From, LeaderEpoch: m.LeaderEpoch,
		PartitionEpoch: m.PartitionEpoch, ISR: m.ISR},
		election.State{Leader: st.Leader, LeaderEpoch: st.LeaderEpoch, ISR: st.ISR}, st.Version, b.cfg.Replicas, liveFunc(live))
	switch {
	case errors.Is(err, election.ErrNewerState):
		reply.Err = NotController
		return
	case errors.Is(err, election.ErrNotLeader):
		reply.Err = NotLeaderOrFollower
		return
	case errors.Is(err, election.ErrFencedLeaderEpoch):
		reply.Err = FencedLeaderEpoch
		return
	case errors.Is(err, election.ErrInvalidUpdateVersion):
		reply.Err = InvalidUpdateVersion
		return
	case err != nil:
		reply.Err = IneligibleReplica
		return
	case already:
		reply.ISR, reply.PartitionEpoch = st.ISR, st.Version
		return
	}
	next := st
	next.ISR = slices.Clone(m.ISR)
	v, err := b.zk.setPartitionState(b.ctl.epoch, next, st.Version)
	if err != nil {
		reply.Err = NotController
		return
	}
	reply.ISR, reply.PartitionEpoch = next.ISR, v
	b.tracef("controller: isr %v stored (version %d)", next.ISR, v)
}
