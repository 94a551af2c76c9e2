// Package faultbed is Strom's fault bed: real strom processes on a real
// ZooKeeper ensemble (tools/clustertest, coord/zktest), clients running
// Jepsen's Kafka queue workload (faultbed/workload) through one TCP proxy
// per broker (faultbed/netproxy), a nemesis that injects faults on a
// seeded schedule, and Jepsen's checker (faultbed/checker) over the
// recorded history.
//
// A run: start the ensemble's brokers, create the topic, run the workload
// while the nemesis switches every Interval to a random subset of fault
// kinds (sometimes none) for Duration; then heal everything, wait until
// every broker is back and every partition has a leader, read every key
// from the start (final reads), and check the history.
//
// Each broker has two listeners, INTERNAL (inter-broker traffic, and the
// harness's own admin calls) and CLIENT, each advertised through a proxy,
// and reaches ZooKeeper through proxies of its own (network.go), so a
// partition cuts exactly the links it names.
package faultbed

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strom-broker/strom/coord/zktest"
	"github.com/strom-broker/strom/tools/clustertest"
	"github.com/strom-broker/strom/tools/faultbed/checker"
	"github.com/strom-broker/strom/tools/faultbed/workload"
)

// Options is one run.
type Options struct {
	// Duration is the length of the fault phase; Interval the length of
	// one schedule step (at least the ZooKeeper session timeout plus a
	// second, so that pause-long outlasts the session).
	Duration, Interval time.Duration
	// Seed seeds the schedule and the workload's choices.
	Seed uint64
	// Brokers is the number of brokers (ids 1..Brokers); Keys the number
	// of partitions of the topic.
	Brokers int
	Keys    int32
	// Replicas is the topic's replication factor (default 3, at most
	// Brokers) and MinISR its min.insync.replicas (default 2 with 3
	// replicas, else 1); unclean leader election is off.
	Replicas, MinISR int
	// Kinds are the fault kinds enabled (default: all).
	Kinds []Kind
	// CoverAll adds kinds not injected yet to the first steps until every
	// enabled kind has been injected at least once.
	CoverAll bool
	// Assigners and Subscribers are the workload's worker counts.
	Assigners, Subscribers int
	// Dir receives history.jsonl, report.txt and nemesis.log.
	Dir string
	// FinalTimeout bounds recovery and the final reads, each.
	FinalTimeout time.Duration
	// EveryStep injects every kind of Kinds in every step, in order,
	// instead of a random subset (for targeted runs: TestPlantedBugs).
	EveryStep bool
	// Stagger, if set, separates the starts of one step's faults (in
	// Kinds order) by that long, so that their effects (session expiries,
	// elections) come in a known order; 0 starts them together.
	Stagger time.Duration
	// Tags are build tags for the strom binary ("": the normal build),
	// e.g. a planted bug (replication's strom_plant_* tags).
	Tags string
}

func (o *Options) defaults() {
	if o.Interval == 0 {
		o.Interval = time.Duration(clustertest.SessionTimeoutMs)*time.Millisecond + 2*time.Second
	}
	if o.Brokers == 0 {
		o.Brokers = 3
	}
	if o.Keys == 0 {
		o.Keys = 6
	}
	if o.Replicas == 0 {
		o.Replicas = min(3, o.Brokers)
	}
	if o.MinISR == 0 {
		o.MinISR = min(2, o.Replicas)
		if o.Replicas < 3 {
			o.MinISR = 1
		}
	}
	if o.Kinds == nil {
		o.Kinds = Kinds
	}
	if o.Assigners == 0 {
		o.Assigners = 6
	}
	if o.FinalTimeout == 0 {
		o.FinalTimeout = 90 * time.Second
	}
}

// Result is what a run found.
type Result struct {
	Report *checker.Report
	// FinalErr is set when recovery or the final reads did not complete.
	FinalErr error
	// Faults counts the faults injected per kind.
	Faults map[Kind]int
	// SendsDuringFaults are the sends invoked while a fault was active;
	// AckedDuringFaults those of them acknowledged.
	SendsDuringFaults, AckedDuringFaults int
	// Recovery is the time from healing to a cluster with every broker
	// back and every partition led.
	Recovery time.Duration
	// Nemesis is the nemesis's log, one line per action.
	Nemesis []string
	// History is the recorded history (also in Dir/history.jsonl).
	History []checker.Op
	// Exits are the broker processes that exited by themselves (each a
	// Strom bug: a broker must ride out every fault the nemesis injects);
	// the watchdog started them again.
	Exits []string
	// ZooKeeperLost lists what the ZooKeeper canary found: acknowledged
	// conditional writes that ZooKeeper lost (empty when it lost none).
	ZooKeeperLost []string
	// RefusedStarts counts restarts refused while the broker's previous
	// ZooKeeper session still held its registration (as Kafka refuses;
	// the watchdog retries until the session expires).
	RefusedStarts int
	canaryWrites  int
}

// Summary is the result in a few lines (the report follows).
func (r *Result) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "faults injected: %v\n", r.Faults)
	share := 0.0
	if r.SendsDuringFaults > 0 {
		share = 100 * float64(r.AckedDuringFaults) / float64(r.SendsDuringFaults)
	}
	fmt.Fprintf(&b, "sends during faults: %d, acknowledged %d (%.1f%%); recovery after healing: %s\n",
		r.SendsDuringFaults, r.AckedDuringFaults, share, r.Recovery.Round(10*time.Millisecond))
	fmt.Fprintf(&b, "zookeeper canary: %d conditional writes acknowledged, %d problems\n", r.canaryWrites, len(r.ZooKeeperLost))
	for _, l := range r.ZooKeeperLost {
		fmt.Fprintf(&b, "ZOOKEEPER: %s\n", l)
	}
	if r.RefusedStarts > 0 {
		fmt.Fprintf(&b, "starts refused while the old session held the registration (as Kafka): %d\n", r.RefusedStarts)
	}
	for _, e := range r.Exits {
		fmt.Fprintf(&b, "UNEXPECTED EXIT: %s\n", e)
	}
	if r.FinalErr != nil {
		fmt.Fprintf(&b, "FINAL PHASE FAILED: %v\n", r.FinalErr)
	}
	b.WriteString(r.Report.String())
	return b.String()
}

const topic = "faultbed"

// Run runs one fault-bed run against a cluster of its own on ens (which
// must be a 3-node ensemble the run may kill nodes of) and returns what it
// found; setup failures fail t.
func Run(t testing.TB, ens *zktest.Ensemble, opts Options) *Result {
	t.Helper()
	opts.defaults()
	if opts.Interval < time.Duration(clustertest.SessionTimeoutMs+1000)*time.Millisecond {
		t.Fatalf("faultbed: interval %s is shorter than the session timeout + 1 s", opts.Interval)
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	c := clustertest.NewCluster(t, ens)
	onLazyFS(t, c, opts)
	if opts.Tags != "" {
		c.UseBinary(clustertest.StromWithTags(t, opts.Tags))
	}
	brokers, nw := startBrokers(t, c, ens, opts)
	var internal []string
	for _, b := range brokers {
		internal = append(internal, b.Addr())
	}
	admCl, err := kgo.NewClient(kgo.SeedBrokers(internal...), kgo.MetadataMinAge(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer admCl.Close()
	admin := kadm.NewClient(admCl)
	ctx := context.Background()
	clustertest.Eventually(t, "every broker registered, the topic created and led", func(ctx context.Context) error {
		return ready(ctx, admin, opts, true)
	})

	hist, err := os.Create(filepath.Join(opts.Dir, "history.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer hist.Close()
	rec := workload.NewRecorder(hist)
	var seeds []string
	for _, p := range nw.clients {
		seeds = append(seeds, p.Addr())
	}
	wl := workload.New(workload.Config{Seeds: seeds, Topic: topic, Keys: opts.Keys,
		Assigners: opts.Assigners, Subscribers: opts.Subscribers, Group: "faultbed",
		SendTimeout: 3 * time.Second, PollTimeout: 500 * time.Millisecond, Seed: opts.Seed, Logf: t.Logf}, rec)
	nem := &nemesis{opts: opts, rng: rand.New(rand.NewPCG(opts.Seed, 0x6e656d)), ens: ens, brokers: brokers, proxies: nw.clients, net: nw,
		admin: admin, topic: topic, logf: t.Logf, counts: map[Kind]int{}, covered: map[Kind]bool{}, down: map[int]bool{}}

	can, err := newCanary(ens.Servers(), c.Chroot+"-canary")
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithTimeout(ctx, opts.Duration)
	dogCtx, stopDog := context.WithCancel(ctx)
	var wg, dog sync.WaitGroup
	wg.Go(func() { wl.Run(runCtx) })
	wg.Go(func() { can.run(runCtx) })
	dog.Go(func() { nem.watchdog(dogCtx) })
	nem.run(runCtx) // returns after Duration, every fault healed
	stop()
	wg.Wait()

	healed := time.Now()
	rctx, cancel := context.WithTimeout(ctx, opts.FinalTimeout)
	finalErr := waitRecovered(rctx, admin, ens, brokers, opts)
	cancel()
	recovery := time.Since(healed)
	if finalErr == nil {
		fctx, cancel := context.WithTimeout(ctx, opts.FinalTimeout)
		finalErr = wl.FinalReads(fctx)
		cancel()
	}
	stopDog()
	dog.Wait()
	zkLost := can.close()
	res := &Result{ZooKeeperLost: zkLost, canaryWrites: len(can.acked), Faults: nem.counts, Nemesis: nem.log, Exits: nem.exits, RefusedStarts: nem.refused, FinalErr: finalErr, Recovery: recovery}
	if err := rec.Flush(); err != nil {
		t.Errorf("faultbed: history: %v", err)
	}
	ops := rec.Ops()
	res.History = ops
	res.Report = checker.Check(ops)
	if err := checker.WriteOrders(opts.Dir, ops); err != nil {
		t.Errorf("faultbed: plots: %v", err)
	}
	res.SendsDuringFaults, res.AckedDuringFaults = duringFaults(ops, rec, nem.windows)
	_ = os.WriteFile(filepath.Join(opts.Dir, "nemesis.log"), []byte(strings.Join(res.Nemesis, "\n")+"\n"), 0o644)
	for i, b := range brokers {
		_ = os.WriteFile(filepath.Join(opts.Dir, fmt.Sprintf("broker-%d.log", i+1)), []byte(b.Log()), 0o644)
	}
	_ = os.WriteFile(filepath.Join(opts.Dir, "report.txt"), []byte(fmt.Sprintf("seed %d, duration %s, interval %s\n%s", opts.Seed, opts.Duration, opts.Interval, res.Summary())), 0o644)
	return res
}

// startBrokers starts the brokers, each behind its proxies (network.go),
// with the fault-aware settings of a run: replicas dropped from the ISR
// after 3 s of lag (replica.lag.time.max.ms), follower fetches waiting at
// most 200 ms, no unclean leader election, and an offsets topic as
// replicated as the workload's topic.
func startBrokers(t testing.TB, c *clustertest.Cluster, ens *zktest.Ensemble, opts Options) ([]*clustertest.Broker, *network) {
	var brokers []*clustertest.Broker
	nw := &network{}
	for id := 1; id <= opts.Brokers; id++ {
		b := c.NewBroker(int32(id))
		lines := append(nw.add(t, b, ens, c.Chroot),
			"auto.create.topics.enable=false",
			"offsets.topic.num.partitions=6",
			"offsets.topic.replication.factor="+strconv.Itoa(opts.Replicas),
			"min.insync.replicas="+strconv.Itoa(opts.MinISR),
			"unclean.leader.election.enable=false",
			"replica.lag.time.max.ms=3000",
			"replica.fetch.wait.max.ms=200",
		)
		if err := b.AppendConfig(lines...); err != nil {
			t.Fatal(err)
		}
		if err := b.Start(); err != nil {
			t.Fatal(err)
		}
		b.WaitListening()
		brokers = append(brokers, b)
	}
	return brokers, nw
}

// ready reports nil once every broker is registered and the topic exists
// (created if create) with a leader for every partition.
func ready(ctx context.Context, admin *kadm.Client, opts Options, create bool) error {
	md, err := admin.Metadata(ctx)
	if err != nil {
		return err
	}
	if len(md.Brokers) != opts.Brokers {
		return fmt.Errorf("%d of %d brokers registered", len(md.Brokers), opts.Brokers)
	}
	td, ok := md.Topics[topic]
	if !ok || errors.Is(td.Err, kerr.UnknownTopicOrPartition) {
		if !create {
			return fmt.Errorf("topic %s missing", topic)
		}
		minISR, unclean := strconv.Itoa(opts.MinISR), "false"
		resp, err := admin.CreateTopic(ctx, opts.Keys, int16(opts.Replicas),
			map[string]*string{"min.insync.replicas": &minISR, "unclean.leader.election.enable": &unclean}, topic)
		if err != nil {
			return err
		}
		return fmt.Errorf("topic created (%v), waiting for its leaders", resp.Err)
	}
	if len(td.Partitions) != int(opts.Keys) {
		return fmt.Errorf("topic has %d of %d partitions", len(td.Partitions), opts.Keys)
	}
	for p, pd := range td.Partitions {
		if pd.Leader < 0 {
			return fmt.Errorf("partition %d has no leader", p)
		}
		if len(pd.ISR) < opts.MinISR {
			return fmt.Errorf("partition %d has ISR %v, below min.insync.replicas %d", p, pd.ISR, opts.MinISR)
		}
	}
	return nil
}

// waitRecovered waits until the ensemble serves (the watchdog restarts
// brokers that exited), and every broker reports all brokers and a leader for every
// partition.
func waitRecovered(ctx context.Context, admin *kadm.Client, ens *zktest.Ensemble, brokers []*clustertest.Broker, opts Options) error {
	if err := ens.WaitServing(ctx); err != nil {
		return fmt.Errorf("faultbed: zookeeper after healing: %w", err)
	}
	var last error
	for {
		if last = ready(ctx, admin, opts, false); last == nil {
			for _, b := range brokers {
				if last = readyAt(ctx, b, opts); last != nil {
					break
				}
			}
			if last == nil {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("faultbed: cluster not recovered: %w", last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// readyAt asks one broker only.
func readyAt(ctx context.Context, b *clustertest.Broker, opts Options) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
	if err != nil {
		return err
	}
	defer cl.Close()
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := ready(cctx, kadm.NewClient(cl), opts, false); err != nil {
		return fmt.Errorf("broker at %s: %w", b.Addr(), err)
	}
	return nil
}

// duringFaults counts the sends invoked inside a fault window, and those
// of them acknowledged.
func duringFaults(ops []checker.Op, rec *workload.Recorder, windows []window) (sends, acked int) {
	in := func(t int64) bool {
		for _, w := range windows {
			if t >= rec.Since(w.from) && (w.to.IsZero() || t <= rec.Since(w.to)) {
				return true
			}
		}
		return false
	}
	invoked := map[int]bool{} // process -> its pending send was invoked in a window
	for _, op := range ops {
		if op.F != checker.FSend {
			continue
		}
		if op.Type == checker.Invoke {
			invoked[op.Process] = in(op.Time)
			if invoked[op.Process] {
				sends++
			}
			continue
		}
		if invoked[op.Process] && op.Type == checker.OK {
			acked++
		}
	}
	return sends, acked
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
