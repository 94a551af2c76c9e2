package faultbed

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/strom-broker/strom/coord/zktest"
	"github.com/strom-broker/strom/tools/clustertest"
	"github.com/strom-broker/strom/tools/faultbed/netproxy"
)

// Kind is a kind of fault the nemesis injects.
type Kind string

// The fault kinds. Broker faults pick their target as the leader of a
// random partition, the controller, or a random broker.
const (
	// Kill: kill -9 a broker; it is started again when the fault heals.
	Kill Kind = "kill"
	// PauseShort: SIGSTOP a broker for half the ZooKeeper session timeout
	// (its session survives), then SIGCONT.
	PauseShort Kind = "pause-short"
	// PauseLong: SIGSTOP a broker for the whole step, longer than the
	// session timeout (its session expires; it must register again).
	PauseLong Kind = "pause-long"
	// Bounce: SIGTERM a broker (orderly shutdown) and start it again at once.
	Bounce Kind = "bounce"
	// ZKKill: kill -9 one ZooKeeper node (the quorum survives); started
	// again when the fault heals.
	ZKKill Kind = "zk-kill"
	// PartitionLoud: reset every client connection to a broker (its proxy)
	// and every new one, until healed.
	PartitionLoud Kind = "partition-loud"
	// PartitionSilent: stop forwarding between clients and a broker, in one
	// direction or both, connections kept open, until healed.
	PartitionSilent Kind = "partition-silent"
	// MachineCrash: kill -9 a broker and drop every write it had not
	// fsynced (its log dir is a lazyfs mount: machine.go); started again
	// when the fault heals. Not in Kinds: it puts every log dir on lazyfs
	// and turns durable acks on (see README.md).
	MachineCrash Kind = "machine-crash"
)

// Kinds lists every fault kind.
var Kinds = append([]Kind{Kill, PauseShort, PauseLong, Bounce, ZKKill, PartitionLoud, PartitionSilent}, NetKinds...)

// brokerProcess reports whether a kind acts on a broker's process (at most
// one such fault per broker at a time).
func (k Kind) brokerProcess() bool {
	return k == Kill || k == PauseShort || k == PauseLong || k == Bounce || k == MachineCrash
}

// fault is one injected fault; heal undoes it (idempotent).
type fault struct {
	kind   Kind
	target string
	heal   func()
}

// nemesis injects faults on a schedule: every step it heals what is
// active, then starts a random subset of the enabled kinds (sometimes
// none), each on a random target.
type nemesis struct {
	opts    Options
	rng     *rand.Rand
	ens     *zktest.Ensemble
	brokers []*clustertest.Broker // broker id i+1
	proxies []*netproxy.Proxy     // in front of brokers[i]'s client listener
	net     *network              // every proxy (network.go)
	admin   *kadm.Client          // on the inter-broker listeners, never cut
	topic   string
	logf    func(format string, args ...any)

	mu      sync.Mutex
	active  []fault
	counts  map[Kind]int
	covered map[Kind]bool
	windows []window // when at least one fault was active
	log     []string
	// down marks brokers the nemesis took down on purpose (killed, or in
	// a bounce); any other broker process that is not running exited by
	// itself: the watchdog records it in exits and starts it again.
	down  map[int]bool
	exits []string
	// refused counts starts refused because the broker's previous
	// registration was still held by its old, not yet expired session
	// (Kafka's broker refuses to start then too); not a failure.
	refused int
}

// staleRegistration is how strom refuses to start while its broker id is
// still registered by another session.
const staleRegistration = "is registered by another live broker"

// window is a span of the run with faults active.
type window struct{ from, to time.Time }

func (n *nemesis) note(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	n.mu.Lock()
	n.log = append(n.log, time.Now().Format("15:04:05.000")+" "+line)
	n.mu.Unlock()
	n.logf("nemesis: %s", line)
}

// run steps through the schedule until ctx ends, then heals everything.
func (n *nemesis) run(ctx context.Context) {
	defer n.healAll()
	for step := 0; ; step++ {
		n.healAll()
		kinds := n.pick()
		n.note("step %d: %v", step, kinds)
		if len(kinds) > 0 {
			n.windows = append(n.windows, window{from: time.Now()})
		}
		used := map[int]bool{} // broker indexes with a process fault this step
		for i, k := range kinds {
			if i > 0 && n.opts.Stagger > 0 {
				time.Sleep(n.opts.Stagger)
			}
			n.start(ctx, k, used)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(n.opts.Interval):
		}
	}
}

// pick chooses this step's kinds: none one time in five, else each enabled
// kind with probability 2/5; with CoverAll, up to two kinds not injected
// yet come first, until every kind has been injected.
func (n *nemesis) pick() []Kind {
	if n.opts.EveryStep {
		return slices.Clone(n.opts.Kinds)
	}
	var kinds []Kind
	if n.opts.CoverAll {
		for _, k := range n.opts.Kinds {
			if !n.covered[k] && len(kinds) < 2 {
				kinds = append(kinds, k)
			}
		}
	}
	if n.rng.IntN(5) != 0 {
		for _, k := range n.opts.Kinds {
			if n.rng.IntN(5) < 2 && !slices.Contains(kinds, k) {
				kinds = append(kinds, k)
			}
		}
	}
	return kinds
}

func (n *nemesis) start(ctx context.Context, k Kind, used map[int]bool) {
	var f fault
	switch {
	case k.brokerProcess():
		i, why := n.target(ctx, used)
		if i < 0 {
			n.note("%s: no broker left this step", k)
			return
		}
		used[i] = true
		b := n.brokers[i]
		f = fault{kind: k, target: fmt.Sprintf("broker %d (%s)", i+1, why)}
		switch k {
		case Kill:
			n.setDown(i, true)
			b.Kill()
			f.heal = func() { n.startBroker(b, i); n.setDown(i, false) }
		case MachineCrash:
			n.setDown(i, true)
			if reverted, err := b.CrashMachine(); err != nil {
				n.note("machine-crash: %v", err)
			} else {
				f.target += fmt.Sprintf(", %d files reverted", reverted)
			}
			f.heal = func() { n.startBroker(b, i); n.setDown(i, false) }
		case PauseShort:
			b.Pause()
			t := time.AfterFunc(time.Duration(clustertest.SessionTimeoutMs/2)*time.Millisecond, b.Resume)
			f.heal = func() { t.Stop(); b.Resume() }
		case PauseLong:
			b.Pause()
			f.heal = b.Resume
		case Bounce:
			n.setDown(i, true)
			b.Stop()
			n.startBroker(b, i)
			n.setDown(i, false)
			f.heal = func() {}
		}
	case k == ZKKill:
		node := n.ens.Node(n.rng.IntN(len(n.ens.Nodes())))
		if err := node.Kill(); err != nil {
			n.note("zk-kill: %v", err)
			return
		}
		f = fault{kind: k, target: fmt.Sprintf("zookeeper node %d", node.ID()), heal: func() {
			if !node.Running() {
				if err := node.Start(); err != nil {
					n.note("zookeeper node %d: restart: %v", node.ID(), err)
				}
			}
			// Wait until it has rejoined before the next step may kill
			// another node: two nodes down at once make ZooKeeper 3.8.0
			// lose acknowledged writes (finding F3), which is not what
			// the fault bed tests.
			wctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := node.WaitServing(wctx); err != nil {
				n.note("zookeeper node %d: not serving after restart: %v", node.ID(), err)
			}
		}}
	case k.netCut():
		f = n.startNetwork(ctx, k)
	case k == PartitionLoud || k == PartitionSilent:
		i := n.rng.IntN(len(n.proxies))
		p := n.proxies[i]
		f = fault{kind: k, target: fmt.Sprintf("clients <-> broker %d", i+1), heal: p.Heal}
		if k == PartitionLoud {
			p.Reset()
		} else {
			dirs := [][]netproxy.Direction{{netproxy.ToServer, netproxy.ToClient}, {netproxy.ToServer}, {netproxy.ToClient}}[n.rng.IntN(3)]
			p.Silence(dirs...)
			f.target += map[int]string{2: " both ways"}[len(dirs)]
			if len(dirs) == 1 && dirs[0] == netproxy.ToServer {
				f.target += " (requests held)"
			} else if len(dirs) == 1 {
				f.target += " (responses held)"
			}
		}
	}
	n.note("start %s on %s", k, f.target)
	n.mu.Lock()
	n.active = append(n.active, f)
	n.counts[k]++
	n.covered[k] = true
	n.mu.Unlock()
}

func (n *nemesis) setDown(i int, down bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.down[i] = down
}

// watchdog restarts, until ctx ends, every broker that exited by itself,
// and records each such exit with the end of its log.
func (n *nemesis) watchdog(ctx context.Context) {
	for {
		n.restartExited()
		select {
		case <-ctx.Done():
			return
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// restartExited is one round of the watchdog.
func (n *nemesis) restartExited() {
	for i, b := range n.brokers {
		n.mu.Lock() // held across both checks: setDown cannot slip between them
		exited := !n.down[i] && !b.Running()
		n.mu.Unlock()
		if !exited {
			continue
		}
		last := tail(b.Log(), 1)
		exit := fmt.Sprintf("broker %d exited by itself: %s", i+1, last)
		n.note("%s", exit)
		n.mu.Lock()
		if strings.Contains(last, staleRegistration) {
			n.refused++
		} else {
			n.exits = append(n.exits, exit)
		}
		n.mu.Unlock()
		n.startBroker(b, i)
	}
}

// startBroker starts a stopped broker again (a no-op if it runs).
func (n *nemesis) startBroker(b *clustertest.Broker, i int) {
	if b.Running() {
		return
	}
	if err := b.Start(); err != nil {
		n.note("broker %d: restart: %v", i+1, err)
	}
}

// target picks a broker for a process fault not used yet this step: the
// leader of a random partition, the controller, or a random broker.
func (n *nemesis) target(ctx context.Context, used map[int]bool) (int, string) {
	free := func(id int32) bool { return id >= 1 && int(id) <= len(n.brokers) && !used[int(id)-1] }
	mctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	switch n.rng.IntN(3) {
	case 0:
		if md, err := n.admin.Metadata(mctx, n.topic); err == nil {
			if td, ok := md.Topics[n.topic]; ok && len(td.Partitions) > 0 {
				p := int32(n.rng.IntN(len(td.Partitions)))
				if pd, ok := td.Partitions[p]; ok && free(pd.Leader) {
					return int(pd.Leader) - 1, fmt.Sprintf("leader of partition %d", p)
				}
			}
		}
	case 1:
		if md, err := n.admin.BrokerMetadata(mctx); err == nil && free(md.Controller) {
			return int(md.Controller) - 1, "controller"
		}
	}
	var ids []int
	for i := range n.brokers {
		if !used[i] {
			ids = append(ids, i)
		}
	}
	if len(ids) == 0 {
		return -1, ""
	}
	return ids[n.rng.IntN(len(ids))], "random"
}

// healAll heals every active fault and closes the fault window.
func (n *nemesis) healAll() {
	n.mu.Lock()
	active := n.active
	n.active = nil
	n.mu.Unlock()
	for _, f := range active {
		f.heal()
		n.note("heal %s on %s", f.kind, f.target)
	}
	if len(n.windows) > 0 && n.windows[len(n.windows)-1].to.IsZero() {
		n.windows[len(n.windows)-1].to = time.Now()
	}
}
