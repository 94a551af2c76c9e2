package benchmarks

// The systems under test: Strom (the strom binary, data in a temp dir) and
// franz-go's kfake (in-memory Kafka, as cmd/kfakeserver), each run as its
// own process on loopback and reached by the same franz-go client from the
// benchmark's process. Separate processes keep each broker's memory and
// garbage collector apart from the clients': run in the benchmark's
// process, kfake's in-memory log made the shared heap big, so the clients
// collected garbage far less often during kfake's rounds than Strom's.

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// opTimeout bounds one produce or consume round, so a hung broker fails
// the benchmark instead of the whole run.
const opTimeout = 5 * time.Minute

// startTimeout bounds a broker process's start (and stop).
const startTimeout = time.Minute

// system is one broker under test.
type system struct {
	name string // "strom" or "kfake": the metric prefix
	addr string // bootstrap address
	adm  *kadm.Client
	tb   testing.TB
}

// binDir holds the broker binaries, built once per test binary run by
// binaries and removed by TestMain.
var binDir struct {
	once sync.Once
	dir  string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir.dir != "" {
		os.RemoveAll(binDir.dir)
	}
	os.Exit(code)
}

// binaries builds strom and kfakeserver (once) and returns their directory.
func binaries(tb testing.TB) string {
	tb.Helper()
	binDir.once.Do(func() {
		binDir.dir, binDir.err = os.MkdirTemp("", "strom-bench-bin-")
		if binDir.err != nil {
			return
		}
		goCmd := os.Getenv("GO")
		if goCmd == "" {
			goCmd = "go"
		}
		out, err := exec.Command(goCmd, "build", "-o", binDir.dir,
			"github.com/strom-broker/strom/tools/cmd/strom",
			"github.com/strom-broker/strom/benchmarks/cmd/kfakeserver").CombinedOutput()
		if err != nil {
			binDir.err = fmt.Errorf("building the brokers: %v\n%s", err, out)
		}
	})
	if binDir.err != nil {
		tb.Fatal(binDir.err)
	}
	return binDir.dir
}

// freePort returns a loopback port that was free a moment ago.
func freePort(tb testing.TB) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// brokerProcess is a broker running as a child process.
type brokerProcess struct {
	cmd    *exec.Cmd
	output lockedBuffer // stdout and stderr, shown if it fails
	done   chan error   // the process's exit
	Dir    string       // Strom's log dir ("" for kfake)
}

// lockedBuffer is a bytes.Buffer safe to read while a process writes it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startAttempts bounds how often a broker that exits at start is started
// again on another port (another process may take the free port between
// freePort and the broker's bind).
const startAttempts = 3

// start runs bin with the arguments args(port) on a free port, waits until
// a client gets metadata from it and returns the system; the process is
// stopped when tb ends (or by stop).
func (p *brokerProcess) start(tb testing.TB, name, bin string, args func(port int) []string) *system {
	tb.Helper()
	for attempt := 1; ; attempt++ {
		s, err := p.startOnce(tb, name, freePort(tb), bin, args)
		if err == nil {
			return s
		}
		if attempt == startAttempts {
			tb.Fatal(err)
		}
		tb.Logf("%v; starting again", err)
	}
}

// startOnce is one attempt of start: an error if the process exits before
// it serves.
func (p *brokerProcess) startOnce(tb testing.TB, name string, port int, bin string, args func(port int) []string) (*system, error) {
	tb.Helper()
	p.output = lockedBuffer{}
	p.cmd = exec.Command(bin, args(port)...)
	p.cmd.Stdout, p.cmd.Stderr = &p.output, &p.output
	if err := p.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	p.done = make(chan error, 1)
	cmd, done := p.cmd, p.done
	go func() { done <- cmd.Wait() }()
	tb.Cleanup(func() { p.stop(tb) })
	s := newSystem(tb, name, net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	for {
		// A short probe, so that an exit is seen soon even if something
		// else accepts on the port and never answers.
		probe, cancelProbe := context.WithTimeout(ctx, time.Second)
		_, err := s.adm.BrokerMetadata(probe)
		cancelProbe()
		if err == nil {
			return s, nil
		}
		select {
		case err := <-done:
			done <- err
			return nil, fmt.Errorf("%s exited at start: %v\n%s", name, err, p.output.String())
		case <-ctx.Done():
			tb.Fatalf("%s not serving after %v\n%s", name, startTimeout, p.output.String())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// stop sends SIGTERM and waits for the exit (killing after startTimeout);
// stopping twice is harmless.
func (p *brokerProcess) stop(tb testing.TB) {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		p.done <- err
	case <-time.After(startTimeout):
		_ = p.cmd.Process.Kill()
		tb.Errorf("broker did not stop within %v\n%s", startTimeout, p.output.String())
	}
}

// startStrom starts a Strom broker process for tb with the given config
// overrides (a fresh log dir unless one is given).
func startStrom(tb testing.TB, overrides ...string) (*system, *brokerProcess) {
	tb.Helper()
	p := &brokerProcess{Dir: tb.TempDir()}
	for _, o := range overrides {
		if k, v, _ := strings.Cut(o, "="); k == "log.dirs" {
			p.Dir = v
		}
	}
	args := func(port int) []string {
		a := []string{"server",
			"--override", fmt.Sprintf("listeners=PLAINTEXT://127.0.0.1:%d", port),
			"--override", "log.dirs=" + p.Dir}
		for _, o := range overrides {
			a = append(a, "--override", o)
		}
		return a
	}
	return p.start(tb, "strom", filepath.Join(binaries(tb), "strom"), args), p
}

// startKfake starts a one-broker kfake process for tb.
func startKfake(tb testing.TB) *system {
	tb.Helper()
	p := &brokerProcess{}
	return p.start(tb, "kfake", filepath.Join(binaries(tb), "kfakeserver"), func(port int) []string {
		return []string{"-port", strconv.Itoa(port)}
	})
}

func newSystem(tb testing.TB, name, addr string) *system {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(cl.Close)
	return &system{name: name, addr: addr, adm: kadm.NewClient(cl), tb: tb}
}

// both returns Strom and kfake, each started for tb.
func both(tb testing.TB) []*system {
	s, _ := startStrom(tb)
	return []*system{s, startKfake(tb)}
}

// client returns a franz-go client of the system, closed when tb ends.
func (s *system) client(opts ...kgo.Opt) *kgo.Client {
	s.tb.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(s.addr)}, opts...)...)
	if err != nil {
		s.tb.Fatal(err)
	}
	s.tb.Cleanup(cl.Close)
	return cl
}

// createTopic creates topic with the given partition count and returns
// how long the CreateTopics call took.
func (s *system) createTopic(topic string, partitions int) time.Duration {
	s.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	t0 := time.Now()
	resp, err := s.adm.CreateTopic(ctx, int32(partitions), 1, nil, topic)
	d := time.Since(t0)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		s.tb.Fatalf("%s: create topic %s: %v", s.name, topic, err)
	}
	return d
}

// deleteTopic deletes topic (to free kfake's memory and Strom's disk).
func (s *system) deleteTopic(topic string) {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	if _, err := s.adm.DeleteTopic(ctx, topic); err != nil {
		s.tb.Logf("%s: delete topic %s: %v", s.name, topic, err)
	}
}

// producerOpts are the producer settings every end-to-end benchmark uses:
// linger 1 ms, no compression (franz-go's default is snappy, which would
// measure the codec instead of the broker's byte path) and the given acks;
// idempotence stays on (franz-go's default) with acks=all, and is off with
// acks=1 because franz-go refuses idempotence without acks=all.
func producerOpts(acksAll bool) []kgo.Opt {
	opts := []kgo.Opt{kgo.ProducerLinger(time.Millisecond), kgo.ProducerBatchCompression(kgo.NoCompression())}
	if acksAll {
		return append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	}
	return append(opts, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
}

// produce sends n records of value to topic through cl and waits until
// all are acknowledged; it returns the elapsed time.
func produce(tb testing.TB, cl *kgo.Client, topic string, n int, value []byte) time.Duration {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	var failed atomic.Pointer[error]
	done := func(_ *kgo.Record, err error) {
		if err != nil {
			failed.CompareAndSwap(nil, &err)
		}
	}
	t0 := time.Now()
	for range n {
		cl.Produce(ctx, &kgo.Record{Topic: topic, Value: value}, done)
	}
	if err := cl.Flush(ctx); err != nil {
		tb.Fatalf("flush: %v", err)
	}
	d := time.Since(t0)
	if err := failed.Load(); err != nil {
		tb.Fatalf("produce: %v", *err)
	}
	return d
}

// consumer returns a client reading every partition of topic from the
// start, without a group.
func (s *system) consumer(topic string, extra ...kgo.Opt) *kgo.Client {
	return s.client(append([]kgo.Opt{
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(100 * time.Millisecond),
	}, extra...)...)
}

// consume polls cl until n records arrived and returns the elapsed time
// and the record bytes seen; each record is also passed to each (if not
// nil) as it arrives.
func consume(tb testing.TB, cl *kgo.Client, n int, each func(*kgo.Record)) (time.Duration, int64) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	t0 := time.Now()
	got, bytes := 0, int64(0)
	for got < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			tb.Fatalf("consume: %d of %d records: %v", got, n, err)
		}
		fs.EachError(func(t string, p int32, err error) {
			tb.Fatalf("consume %s/%d: %v", t, p, err)
		})
		fs.EachRecord(func(r *kgo.Record) {
			got++
			bytes += int64(len(r.Value))
			if each != nil {
				each(r)
			}
		})
	}
	return time.Since(t0), bytes
}

// rounds runs one round per system for b.N iterations, alternating which
// system goes first, and sums each system's returned durations.
func rounds(b *testing.B, systems []*system, round func(i int, s *system) time.Duration) map[string]time.Duration {
	total := map[string]time.Duration{}
	for i := range b.N {
		for j := range systems {
			s := systems[(i+j)%len(systems)]
			total[s.name] += round(i, s)
		}
	}
	return total
}

// reportVsKfake reports per-system rates (units per second of work, named
// "<system>_<unit>") and x_kfake = Strom's rate / kfake's.
func reportVsKfake(b *testing.B, work float64, unit string, d map[string]time.Duration) {
	for _, name := range []string{"strom", "kfake"} {
		b.ReportMetric(work/d[name].Seconds(), name+"_"+unit)
	}
	b.ReportMetric(d["kfake"].Seconds()/d["strom"].Seconds(), "x_kfake")
}

// randomValue returns size incompressible bytes (a fixed seed, so every
// run sends the same records).
func randomValue(size int) []byte {
	v := make([]byte, size)
	var seed [32]byte
	binary.LittleEndian.PutUint64(seed[:], uint64(size))
	rand.NewChaCha8(seed).Read(v)
	return v
}

// topicName returns a unique topic name for round i of system s.
func topicName(prefix string, i int) string { return fmt.Sprintf("%s-%d", prefix, i) }

// wg runs f in a goroutine tracked by g.
func goTracked(g *sync.WaitGroup, f func()) {
	g.Add(1)
	go func() { defer g.Done(); f() }()
}
