// Package sim is a deterministic, seeded simulator of Strom's replication
// and controller decisions (issue #15 item 7). Brokers are state machines
// (broker.go, controller.go) running the broker's own decision functions —
// replication's rules.go and truncation.go, engine/epoch's cache answers,
// coord/election's election and AlterPartition checks — driven by
// messages and ticks; this file is the driver: virtual time, an event
// queue, links with delay, loss, reordering and cuts, process crashes,
// machine crashes that lose unsynced writes, a ZooKeeper model with
// sessions (zk.go), producers with acks=all and acks=1 (client.go), and
// the invariant checker (check.go) run after every event.
//
// One run is a pure function of its Config and seed: the same seed gives
// the same run, event for event, so a failing seed is a reproducible bug
// report. What is modelled and what is not: README.md in the module.
package sim

import (
	"container/heap"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// ClientBase is the node id of the first client (brokers are 1..n).
const ClientBase = 100

// Broken selects a deliberately wrong variant, to show the simulator
// catches it.
type Broken struct {
	// TruncateToHW: a follower truncates to its high watermark on becoming
	// follower instead of asking the leader where its epoch ends
	// (Kafka before KIP-101).
	TruncateToHW bool
	// AckBeforeISR: acks=all is answered as soon as the leader appended,
	// before the ISR has the batch.
	AckBeforeISR bool
	// StopTruncatingAtLogEnd: the follower stops asking OffsetForLeaderEpoch
	// when the truncation point is at or beyond its log end even though
	// TruncationPoint said to ask again, and keeps an epoch that starts at
	// its log end — the rule replication/fetcher.go and partlog.TruncateTo
	// have today; after unclean elections it leaves a diverged log.
	StopTruncatingAtLogEnd bool
	// ResetISROnRefusal: a leader whose ISR change the controller refuses
	// with NOT_LEADER_OR_FOLLOWER, FENCED_LEADER_EPOCH or
	// INVALID_UPDATE_VERSION goes back to its committed ISR at once,
	// though an earlier send of the change may have been stored — what
	// tools/broker's isrSender does today (Partition.CompleteISRChange
	// without ok for every per-partition error). A stale leader may then
	// commit, and acknowledge, with fewer replicas than the stored ISR.
	ResetISROnRefusal bool
}

// Config describes a simulated cluster with one partition.
type Config struct {
	Brokers  int     // brokers 1..Brokers
	Replicas []int32 // the partition's assignment (default 1..min(3, Brokers))
	MinISR   int     // min.insync.replicas
	Unclean  bool    // unclean.leader.election.enable
	// AcksAll and AcksOne are how many producing clients use each.
	AcksAll, AcksOne int

	Tick, SessionTimeout, MaxLag, FetchWait, FetchBackoff, RequestTimeout time.Duration
	ISRRetryBackoff, FlushInterval, CheckpointInterval, ResendInterval    time.Duration
	ProduceInterval                                                       time.Duration
	// AckTimeout is the producers' timeout_ms: how long an acks=all
	// produce waits for the ISR (0: RequestTimeout).
	AckTimeout      time.Duration
	MaxFetchRecords int

	// Links: each message takes MinDelay..MaxDelay (so messages reorder)
	// and is lost with probability Loss.
	MinDelay, MaxDelay time.Duration
	Loss               float64

	// FirstBroker, if set, starts first (so it becomes the controller).
	FirstBroker int32

	Broken Broken
	// Trace, if set, receives the protocol events (scenario output).
	Trace func(line string)
}

// DefaultConfig is the seeded runs' cluster: 3 brokers, RF 3,
// min.insync.replicas=2, unclean election off, one acks=all and one
// acks=1 producer, times scaled down from Kafka's defaults.
func DefaultConfig() Config {
	return Config{Brokers: 3, MinISR: 2, AcksAll: 1, AcksOne: 1,
		Tick: 10 * time.Millisecond, SessionTimeout: 300 * time.Millisecond, MaxLag: 200 * time.Millisecond,
		FetchWait: 50 * time.Millisecond, FetchBackoff: 20 * time.Millisecond, RequestTimeout: 150 * time.Millisecond,
		ISRRetryBackoff: 100 * time.Millisecond, FlushInterval: 100 * time.Millisecond,
		CheckpointInterval: 50 * time.Millisecond, ResendInterval: 50 * time.Millisecond,
		ProduceInterval: 20 * time.Millisecond, MaxFetchRecords: 5,
		MinDelay: time.Millisecond, MaxDelay: 8 * time.Millisecond, Loss: 0.02}
}

// event is a message delivery, a node's tick, or a function (faults,
// timers) at a virtual time.
type event struct {
	at   time.Time
	seq  uint64
	node int32 // tick target (0: none)
	msg  *Msg
	fn   func()
}

// eventQueue is a min-heap of events (container/heap): by time, then by
// the order they were scheduled, so a run is deterministic.
type eventQueue []*event

func (q eventQueue) Len() int { return len(q) }
func (q eventQueue) Less(i, j int) bool {
	if !q[i].at.Equal(q[j].at) {
		return q[i].at.Before(q[j].at)
	}
	return q[i].seq < q[j].seq
}
func (q eventQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *eventQueue) Push(x any)   { *q = append(*q, x.(*event)) }
func (q *eventQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

// node is a broker slot: the process (nil while down) and what survives it.
type node struct {
	b     *Broker
	log   *memLog
	hwCkp int64
	conn  *zkConn
}

// World is one simulated cluster.
type World struct {
	cfg     Config
	rng     *rand.Rand
	start   time.Time
	now     time.Time
	seq     uint64
	queue   eventQueue
	nodes   map[int32]*node
	ids     []int32 // the brokers, in order
	clients map[int32]*Client
	zk      *zkModel
	cut     map[[2]int32]bool // directed link -> down (0 is ZooKeeper)
	check   *checker
	events  int
	// stopFaults ends the fault schedule (the healing period).
	stopFaults bool
	// tainted: machine-crashed brokers still in the stored ISR (nemesis.go).
	tainted map[int32]bool
}

// NewWorld builds a cluster (every broker up, ticking) from cfg and seed.
func NewWorld(cfg Config, seed uint64) *World {
	if len(cfg.Replicas) == 0 {
		for i := 1; i <= min(3, cfg.Brokers); i++ {
			cfg.Replicas = append(cfg.Replicas, int32(i))
		}
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	w := &World{cfg: cfg, rng: rand.New(rand.NewPCG(seed, seed^0x5eed)), start: start, now: start,
		nodes: map[int32]*node{}, clients: map[int32]*Client{}, zk: newZK(cfg.SessionTimeout, cfg.Replicas),
		cut: map[[2]int32]bool{}, tainted: map[int32]bool{}}
	w.check = newChecker(w)
	for id := int32(1); id <= int32(cfg.Brokers); id++ {
		w.nodes[id] = &node{log: &memLog{}}
		w.ids = append(w.ids, id)
		w.startBroker(id)
	}
	for i := 0; i < cfg.AcksAll+cfg.AcksOne; i++ {
		c := &Client{id: ClientBase + int32(i), acks: -1, auto: true}
		if i >= cfg.AcksAll {
			c.acks = 1
		}
		w.clients[c.id] = c
		w.schedule(&event{at: w.now.Add(cfg.ProduceInterval + time.Duration(i)*time.Millisecond), node: c.id})
	}
	w.schedule(&event{at: w.now.Add(cfg.Tick), fn: w.zkTick})
	return w
}

func (w *World) schedule(e *event) {
	w.seq++
	e.seq = w.seq
	heap.Push(&w.queue, e)
}

// after runs fn at virtual time d from now.
func (w *World) after(d time.Duration, fn func()) { w.schedule(&event{at: w.now.Add(d), fn: fn}) }

// zkTick expires sessions every tick.
func (w *World) zkTick() {
	w.zk.expire(w.now)
	w.after(w.cfg.Tick, w.zkTick)
}

func (w *World) tracef(format string, args ...any) {
	if w.cfg.Trace != nil {
		w.cfg.Trace(fmt.Sprintf("%5dms ", w.Now().Milliseconds()) + fmt.Sprintf(format, args...))
	}
}

// startBroker starts broker id's process on what survived in its node.
func (w *World) startBroker(id int32) {
	n := w.nodes[id]
	n.conn = &zkConn{z: w.zk, now: func() time.Time { return w.now }, reachable: func() bool { return !w.cut[[2]int32{id, 0}] }}
	var trace func(string, ...any)
	if w.cfg.Trace != nil {
		trace = w.tracef
	}
	n.b = newBroker(id, &w.cfg, n.log, n.hwCkp, n.conn, trace)
	// Ticks are phased by broker id so brokers do not act in lockstep.
	phase := time.Duration(id) * time.Millisecond
	if w.cfg.FirstBroker > 0 && w.now.Equal(w.start) {
		if phase += time.Millisecond; id == w.cfg.FirstBroker {
			phase = time.Millisecond
		}
	}
	w.schedule(&event{at: w.now.Add(phase), node: id})
}

// Crash kills broker id's process (its log and checkpoint survive: page
// cache and files); with machine, unsynced records are lost too.
func (w *World) Crash(id int32, machine bool) {
	n := w.nodes[id]
	if n.b == nil {
		return
	}
	n.hwCkp = n.b.hwCkp
	n.b = nil
	if machine {
		lost := n.log.leo() - int64(n.log.synced)
		n.log.crash()
		n.hwCkp = min(n.hwCkp, n.log.leo())
		w.tracef("b%d: machine crash (%d unsynced records lost)", id, lost)
	} else {
		w.tracef("b%d: process crash", id)
	}
	w.check.crashed(id)
}

// Restart starts a crashed broker again.
func (w *World) Restart(id int32) {
	if w.nodes[id].b != nil {
		return
	}
	w.tracef("b%d: restart", id)
	w.startBroker(id)
}

// Cut takes the directed link from -> to down (0 is ZooKeeper); Heal
// brings every link up.
func (w *World) Cut(from, to int32) {
	w.tracef("cut %s -> %s", nodeName(from), nodeName(to))
	w.cut[[2]int32{from, to}] = true
}

// nodeName is b<id>, or zk for 0.
func nodeName(id int32) string {
	if id == 0 {
		return "zk"
	}
	return fmt.Sprintf("b%d", id)
}

// Uncut brings the directed link from -> to up again.
func (w *World) Uncut(from, to int32) {
	w.tracef("uncut %s -> %s", nodeName(from), nodeName(to))
	delete(w.cut, [2]int32{from, to})
}

// Heal brings every link up.
func (w *World) Heal() {
	if len(w.cut) > 0 {
		w.tracef("heal")
	}
	clear(w.cut)
}

// send queues m with the link's delay, or loses it.
func (w *World) send(m Msg) {
	if w.cfg.Loss > 0 && w.rng.Float64() < w.cfg.Loss {
		return
	}
	d := w.cfg.MinDelay
	if w.cfg.MaxDelay > w.cfg.MinDelay {
		d += time.Duration(w.rng.Int64N(int64(w.cfg.MaxDelay - w.cfg.MinDelay + 1)))
	}
	w.schedule(&event{at: w.now.Add(d), msg: &m})
}

// step runs the next event and the invariant checks; false when none is left.
func (w *World) step() bool {
	if len(w.queue) == 0 {
		return false
	}
	e := heap.Pop(&w.queue).(*event)
	w.now = e.at
	w.events++
	switch {
	case e.fn != nil:
		e.fn()
	case e.msg != nil:
		w.deliver(*e.msg)
	case e.node >= ClientBase:
		c := w.clients[e.node]
		c.tick(w)
		w.schedule(&event{at: w.now.Add(w.cfg.ProduceInterval), node: c.id})
	default:
		n := w.nodes[e.node]
		if n.b == nil {
			break // a crashed process ticks no more; Restart schedules anew
		}
		n.b.Tick(w.now)
		w.flush(n.b)
		w.schedule(&event{at: w.now.Add(w.cfg.Tick), node: e.node})
	}
	w.check.afterEvent()
	return true
}

// deliver hands m to its destination if the link is up and it runs.
func (w *World) deliver(m Msg) {
	if w.cut[[2]int32{m.From, m.To}] {
		return
	}
	if c, ok := w.clients[m.To]; ok {
		c.step(w, m)
		return
	}
	n := w.nodes[m.To]
	if n == nil || n.b == nil {
		return
	}
	n.b.Step(w.now, m)
	w.flush(n.b)
}

// flush sends what b has ready.
func (w *World) flush(b *Broker) {
	for _, m := range b.Ready() {
		w.send(m)
	}
}

// RunFor runs events for d of virtual time; it stops early at the first
// invariant violation, which it returns.
func (w *World) RunFor(d time.Duration) error {
	end := w.now.Add(d)
	for len(w.queue) > 0 && !w.queue[0].at.After(end) && w.check.err == nil {
		w.step()
	}
	if w.check.err == nil {
		w.now = end
	}
	return w.check.err
}

// RunUntil runs events until cond holds after one (true) or d passed.
func (w *World) RunUntil(d time.Duration, cond func() bool) (bool, error) {
	end := w.now.Add(d)
	for len(w.queue) > 0 && !w.queue[0].at.After(end) && w.check.err == nil {
		w.step()
		if cond() {
			return true, w.check.err
		}
	}
	return false, w.check.err
}

// onProduceResult records a client's answer.
func (w *World) onProduceResult(c *Client, value string, m Msg) {
	acks := "all"
	if c.acks == 1 {
		acks = "1"
	}
	if m.Err != None {
		w.tracef("c%d: %s refused by b%d: %s", c.id-ClientBase, value, m.From, m.Err)
		return
	}
	w.tracef("c%d: %s acknowledged by b%d at offset %d (acks=%s, epoch %d)", c.id-ClientBase, value, m.From, m.Offset, acks, m.LeaderEpoch)
	if c.acks == -1 {
		w.check.acked(ack{value: value, offset: m.Offset, epoch: m.LeaderEpoch, at: w.now})
	}
}

// Now is the virtual time since the start.
func (w *World) Now() time.Duration { return w.now.Sub(w.start) }

// Events is how many events ran.
func (w *World) Events() int { return w.events }

// Broker returns broker id's running process, nil if it is down.
func (w *World) Broker(id int32) *Broker { return w.nodes[id].b }

// State describes the cluster: ZooKeeper's partition state and each
// broker's role, log end, high watermark and log.
func (w *World) State() string {
	var b strings.Builder
	if w.zk.hasState {
		fmt.Fprintf(&b, "zk: %s controller=%d\n", w.zk.state, w.zk.controller)
	}
	for _, id := range w.ids {
		n := w.nodes[id]
		if n.b == nil {
			fmt.Fprintf(&b, "b%d: down; log %s\n", id, n.log)
			continue
		}
		br := n.b
		role := "follower"
		switch {
		case !br.hasRole:
			role = "no role"
		case br.isLeader():
			role = fmt.Sprintf("leader isr=%v", br.isr)
		case br.leader < 0:
			role = "no leader"
		}
		fmt.Fprintf(&b, "b%d: %s epoch=%d hw=%d; log %s\n", id, role, br.leaderEpoch, br.hw, n.log)
	}
	return b.String()
}
