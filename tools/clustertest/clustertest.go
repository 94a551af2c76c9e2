// Package clustertest runs Strom clusters of real processes for tests: the
// strom binary, built once per test binary, started as one process per
// broker with its own server.properties, log dir and loopback port, all
// coordinated by a real ZooKeeper ensemble (coord/zktest). A broker can be
// killed with SIGKILL (the process dies, nothing is flushed), stopped with
// SIGTERM, paused with SIGSTOP and resumed, and started again on the same
// data and port.
//
// Tests of one package share one ensemble (TestMain, zktest.Main) and give
// each cluster its own chroot (NewCluster does), so clusters never see each
// other's metadata.
//
// Every wait is a condition polled against a generous deadline (a hang
// guard), never a timing assertion.
package clustertest

import (
	"bytes"
	"context"
	"fmt"
	mathrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/strom-broker/strom/coord/zktest"
	"github.com/strom-broker/strom/tools/faultbed/lazyfs"
)

// Deadline bounds any single wait; healthy steps take a small fraction.
const Deadline = 90 * time.Second

// SessionTimeoutMs is the ZooKeeper session timeout brokers get by default:
// short, so that failures are detected quickly (the ensemble's tickTime of
// 500 ms allows 1-10 s).
const SessionTimeoutMs = 4000

var (
	buildMu sync.Mutex
	builds  = map[string]build{} // by build tags
)

type build struct {
	path string
	err  error
}

// Strom returns the path of the strom binary, building it (once per test
// binary) from this module's cmd/strom into a temporary directory.
func Strom(t testing.TB) string {
	t.Helper()
	return StromWithTags(t, "")
}

// StromWithTags is Strom built with go build -tags tags (once per test
// binary and tag list), for test builds such as the fault bed's planted
// bugs (replication's strom_plant_* tags).
func StromWithTags(t testing.TB, tags string) string {
	t.Helper()
	buildMu.Lock()
	b, ok := builds[tags]
	if !ok {
		b.path, b.err = buildStrom(tags)
		builds[tags] = b
	}
	buildMu.Unlock()
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

func buildStrom(tags string) (string, error) {
	_, file, _, _ := runtime.Caller(0)
	module := filepath.Dir(filepath.Dir(file)) // tools/
	dir, err := os.MkdirTemp("", "strom-clustertest-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "strom")
	cmd := exec.Command("go", "build", "-tags", tags, "-o", bin, "./cmd/strom")
	cmd.Dir = module
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building strom (tags %q): %v\n%s", tags, err, out)
	}
	// Kafka's script names (kafka-topics.sh, ...) beside the binary,
	// as make build lays them out in bin/.
	scripts, _ := filepath.Glob(filepath.Join(module, "scripts", "*.sh"))
	for _, sc := range scripts {
		data, err := os.ReadFile(sc)
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, filepath.Base(sc)), data, 0o755)
		}
		if err != nil {
			return "", err
		}
	}
	return bin, nil
}

// Script returns the path of one of Kafka's script names (kafka-topics.sh,
// ...) that run the strom binary built by Strom.
func Script(t testing.TB, name string) string {
	t.Helper()
	return filepath.Join(filepath.Dir(Strom(t)), name)
}

// Cluster is a set of broker processes sharing one ZooKeeper chroot.
type Cluster struct {
	t       testing.TB
	bin     string
	Ens     *zktest.Ensemble
	Chroot  string
	Connect string // zookeeper.connect of every broker (with the chroot)
	dir     string

	mu      sync.Mutex
	brokers []*Broker

	// LazyFS puts the log dir of every broker NewBroker prepares on a
	// lazyfs mount (machine.go), for machine crashes.
	LazyFS bool
	// Config are "key=value" lines every broker NewBroker prepares gets.
	Config []string
}

var chroots atomic.Int64

// NewCluster returns an empty cluster on ens under a fresh chroot; its
// processes are killed when t ends.
func NewCluster(t testing.TB, ens *zktest.Ensemble) *Cluster {
	t.Helper()
	name := strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())
	chroot := fmt.Sprintf("/strom-%s-%d", name, chroots.Add(1))
	c := &Cluster{t: t, bin: Strom(t), Ens: ens, Chroot: chroot, Connect: ens.Connect() + chroot, dir: t.TempDir()}
	t.Cleanup(func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, b := range c.brokers {
			b.signalAndWait(syscall.SIGKILL, 0)
			if t.Failed() {
				t.Logf("broker %s log:\n%s", b.name, b.Log())
			}
		}
	})
	return c
}

// UseBinary makes the cluster start its brokers (from their next Start)
// with bin, e.g. a test build from StromWithTags.
func (c *Cluster) UseBinary(bin string) { c.bin = bin }

// Broker is one broker process.
type Broker struct {
	c    *Cluster
	name string
	// ID is the configured broker.id (-1: generated).
	ID   int32
	Port int
	Dir  string // log dir
	conf string // server.properties

	disk *lazyfs.FS // the log dir's mount, if on lazyfs

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	state  *os.ProcessState
	log    *bytes.Buffer
}

// StartBroker starts a broker with broker.id id (-1: generated) and the
// given "key=value" lines added to its server.properties, and waits until
// it accepts connections.
func (c *Cluster) StartBroker(id int32, extra ...string) *Broker {
	c.t.Helper()
	b := c.NewBroker(id, extra...)
	if err := b.Start(); err != nil {
		c.t.Fatal(err)
	}
	b.WaitListening()
	return b
}

// NewBroker prepares a broker (its port, log dir and server.properties)
// without starting it.
func (c *Cluster) NewBroker(id int32, extra ...string) *Broker {
	c.t.Helper()
	port, err := FreePort()
	if err != nil {
		c.t.Fatal(err)
	}
	c.mu.Lock()
	n := len(c.brokers)
	b := &Broker{c: c, name: fmt.Sprintf("b%d(id %d)", n, id), ID: id, Port: port,
		Dir: filepath.Join(c.dir, fmt.Sprintf("broker-%d", n), "logs"), conf: filepath.Join(c.dir, fmt.Sprintf("broker-%d.properties", n))}
	c.brokers = append(c.brokers, b)
	c.mu.Unlock()
	lines := []string{
		"broker.id=" + strconv.Itoa(int(id)),
		"listeners=PLAINTEXT://127.0.0.1:" + strconv.Itoa(port),
		"log.dirs=" + b.Dir,
		"zookeeper.connect=" + c.Connect,
		"zookeeper.session.timeout.ms=" + strconv.Itoa(SessionTimeoutMs),
		"zookeeper.connection.timeout.ms=20000",
		"offsets.topic.replication.factor=1",
		"group.initial.rebalance.delay.ms=0",
	}
	lines = append(append(lines, c.Config...), extra...)
	if c.LazyFS {
		b.disk = c.mountLazyFS(b)
	}
	if err := os.WriteFile(b.conf, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		c.t.Fatal(err)
	}
	return b
}

// AppendConfig adds "key=value" lines at the end of the broker's
// server.properties (the last duplicate of a key wins), for settings that
// need the broker's port, such as a second listener; it applies from the
// next Start.
func (b *Broker) AppendConfig(lines ...string) error {
	f, err := os.OpenFile(b.conf, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("clustertest: %w", err)
	}
	_, err = f.WriteString(strings.Join(lines, "\n") + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("clustertest: %w", err)
	}
	return nil
}

// Brokers returns the brokers started so far (running or not).
func (c *Cluster) Brokers() []*Broker {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*Broker(nil), c.brokers...)
}

// Addr is host:port of the broker's listener.
func (b *Broker) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(b.Port)) }

// Pid returns the process id of the broker's current process (0 if it
// was never started), e.g. to read its CPU time in /proc.
func (b *Broker) Pid() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd == nil || b.cmd.Process == nil {
		return 0
	}
	return b.cmd.Process.Pid
}

// Start starts the process (again, on the same data and port).
func (b *Broker) Start() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd != nil && !b.exitedLocked() {
		return fmt.Errorf("clustertest: broker %s already running", b.name)
	}
	if b.log == nil {
		b.log = &bytes.Buffer{}
	}
	cmd := exec.Command(b.c.bin, "server", b.conf)
	w := &lockedWriter{mu: &b.mu, buf: b.log}
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("clustertest: start broker %s: %w", b.name, err)
	}
	exited := make(chan struct{})
	b.cmd, b.exited, b.state = cmd, exited, nil
	go func() {
		_ = cmd.Wait()
		b.mu.Lock()
		b.state = cmd.ProcessState
		b.mu.Unlock()
		close(exited)
	}()
	return nil
}

func (b *Broker) exitedLocked() bool {
	select {
	case <-b.exited:
		return true
	default:
		return false
	}
}

// lockedWriter appends a process's output to a buffer under its broker's
// lock.
type lockedWriter struct {
	mu  *sync.Mutex
	buf *bytes.Buffer
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

// Log returns everything the process wrote so far (all its lives).
func (b *Broker) Log() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.log == nil {
		return ""
	}
	return b.log.String()
}

// WaitListening waits until the broker accepts TCP connections (failing
// the test if its process exits first).
func (b *Broker) WaitListening() {
	b.c.t.Helper()
	deadline := time.Now().Add(Deadline)
	for time.Now().Before(deadline) {
		b.mu.Lock()
		done := b.exited
		b.mu.Unlock()
		select {
		case <-done:
			b.c.t.Fatalf("broker %s exited at start:\n%s", b.name, b.Log())
		default:
		}
		if c, err := net.DialTimeout("tcp", b.Addr(), time.Second); err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.c.t.Fatalf("broker %s never listened on %s:\n%s", b.name, b.Addr(), b.Log())
}

// WaitExit waits for the process to exit by itself and returns its exit
// code (-1 if killed by a signal).
func (b *Broker) WaitExit() int {
	b.c.t.Helper()
	b.mu.Lock()
	done := b.exited
	b.mu.Unlock()
	select {
	case <-done:
	case <-time.After(Deadline):
		b.c.t.Fatalf("broker %s did not exit:\n%s", b.name, b.Log())
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state.ExitCode()
}

// Kill sends SIGKILL and waits until the process is gone.
func (b *Broker) Kill() { b.signalAndWait(syscall.SIGKILL, Deadline) }

// Stop sends SIGTERM (an orderly shutdown) and waits until it exits.
func (b *Broker) Stop() { b.signalAndWait(syscall.SIGTERM, Deadline) }

// Pause stops the process with SIGSTOP; Resume continues it.
func (b *Broker) Pause() { b.signal(syscall.SIGSTOP) }

// Resume continues a paused process (SIGCONT).
func (b *Broker) Resume() { b.signal(syscall.SIGCONT) }

func (b *Broker) signal(sig syscall.Signal) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd != nil && !b.exitedLocked() {
		_ = syscall.Kill(b.cmd.Process.Pid, sig)
		if sig == syscall.SIGSTOP {
			zktest.WaitStopped(b.cmd.Process.Pid)
		}
	}
}

func (b *Broker) signalAndWait(sig syscall.Signal, wait time.Duration) {
	b.mu.Lock()
	cmd, done := b.cmd, b.exited
	b.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = syscall.Kill(cmd.Process.Pid, sig)
	if sig == syscall.SIGTERM {
		_ = syscall.Kill(cmd.Process.Pid, syscall.SIGCONT) // a paused process must run to exit
	}
	if wait == 0 {
		wait = Deadline
	}
	select {
	case <-done:
	case <-time.After(wait):
		_ = syscall.Kill(cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

// Running reports whether the process is alive (maybe paused).
func (b *Broker) Running() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cmd != nil && !b.exitedLocked()
}

// Eventually polls cond every 20 ms until it returns nil or the deadline
// passes, then fails the test with cond's last error.
func Eventually(t testing.TB, what string, cond func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Deadline)
	defer cancel()
	var err error
	for {
		callCtx, callCancel := context.WithTimeout(ctx, 5*time.Second)
		err = cond(callCtx)
		callCancel()
		if err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: not reached within %s: %v", what, Deadline, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// FreePort returns a loopback port that was free a moment ago, for a
// broker that must listen on the same port again after a restart. It is
// picked at random below Linux's default ephemeral range (32768-60999):
// a kernel-chosen port lies inside that range, where every outgoing
// connection of the machine takes its local port, so while the broker is
// down one of them could take it and the restart would fail with "address
// already in use" (seen in the fault bed). Falls back to a kernel-chosen
// port if no random one binds.
func FreePort() (int, error) {
	for range 100 {
		port := freePortLow + mathrand.IntN(freePortHigh-freePortLow)
		if ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port))); err == nil {
			ln.Close()
			return port, nil
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// FreePort's range: below the ephemeral ports, above the well-known ones
// and the usual service ports.
const freePortLow, freePortHigh = 20000, 32768
