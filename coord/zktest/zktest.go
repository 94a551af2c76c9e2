// Package zktest starts a real ZooKeeper ensemble for tests: Debian's
// zookeeper package (ZooKeeper 3.8, /usr/share/java/zookeeper.jar) run with
// java, one process per node, on free loopback ports, each node with its own
// zoo.cfg, myid and data directory under one temporary directory.
//
// Use one ensemble per test package, started from TestMain with Main:
//
//	var ens *zktest.Ensemble
//
//	func TestMain(m *testing.M) {
//		zktest.Main(m, zktest.Options{Nodes: 3}, func(e *zktest.Ensemble) { ens = e })
//	}
//
// Tests then connect to ens.Connect() ("127.0.0.1:p1,127.0.0.1:p2,...") and
// drive faults through the nodes: Kill (SIGKILL), Stop (SIGTERM), Start
// (again, same ports and data), Pause / Resume (SIGSTOP / SIGCONT), and
// WaitServing to wait until every running node serves again. A Proxy
// between a client and the ensemble cuts that one client off (session
// expiry without touching the servers).
//
// Missing Java or ZooKeeper makes Main fail the package with a message
// naming the missing piece and `make test-deps`, which installs both; with
// STROM_SKIP_ZK=1 in the environment it skips the package instead (for
// developers without Java; CI never sets it).
//
// Cleanup: Close kills every node and removes the directory. Node processes
// are started with PR_SET_PDEATHSIG, so they die with the test binary even
// when it panics or times out; directories left by such a binary are removed
// by the next Start.
//
// An Ensemble is safe for concurrent use.
package zktest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Default locations of Debian's zookeeper package and the JVM.
const (
	DefaultJar  = "/usr/share/java/zookeeper.jar"
	DefaultJava = "java"
	// SkipEnv, set to 1, makes Main skip a package when Java or ZooKeeper
	// is missing instead of failing it.
	SkipEnv = "STROM_SKIP_ZK"
)

// slf4jSimple, if present, gives ZooKeeper a log binding (its jar only
// depends on slf4j-api, which logs nothing without one).
const slf4jSimple = "/usr/share/java/slf4j-simple.jar"

// dirPrefix names the temporary directories; the pid of the test binary
// follows, so a later Start can remove directories of dead binaries.
const dirPrefix = "strom-zk-"

// Options configure an ensemble. Zero values select the defaults.
type Options struct {
	// Nodes is the ensemble size: 1 (standalone) or an odd number >= 3.
	// Default 1.
	Nodes int
	// TickTime is ZooKeeper's tickTime; sessions may last 2 to 20 ticks.
	// Default 500 ms (sessions of 1 s to 10 s).
	TickTime time.Duration
	// Jar is the ZooKeeper server jar. Default DefaultJar.
	Jar string
	// Java is the java command. Default DefaultJava (found on PATH).
	Java string
	// StartTimeout bounds how long Start waits for every node to serve.
	// Default 90 s (a loaded machine starts a JVM slowly).
	StartTimeout time.Duration
}

func (o Options) withDefaults() Options {
	if o.Nodes == 0 {
		o.Nodes = 1
	}
	if o.TickTime == 0 {
		o.TickTime = 500 * time.Millisecond
	}
	if o.Jar == "" {
		o.Jar = DefaultJar
	}
	if o.Java == "" {
		o.Java = DefaultJava
	}
	if o.StartTimeout == 0 {
		o.StartTimeout = 90 * time.Second
	}
	return o
}

// Validate reports every invalid option at once.
func (o Options) Validate() error {
	var errs []error
	if o.Nodes < 0 || (o.Nodes > 1 && o.Nodes%2 == 0) {
		errs = append(errs, fmt.Errorf("zktest: %d nodes: want 1 or an odd number >= 3", o.Nodes))
	}
	if o.TickTime < 0 || (o.TickTime > 0 && o.TickTime < time.Millisecond) {
		errs = append(errs, fmt.Errorf("zktest: tickTime %v: want >= 1ms", o.TickTime))
	}
	return errors.Join(errs...)
}

// ErrUnavailable: Java or the ZooKeeper jar is missing.
var ErrUnavailable = errors.New("zookeeper unavailable")

// Available reports why the ensemble cannot run here (nil if it can):
// java not on PATH or the ZooKeeper jar missing.
func Available(o Options) error {
	o = o.withDefaults()
	if _, err := exec.LookPath(o.Java); err != nil {
		return fmt.Errorf("zktest: %w: %s not found (%v); `make test-deps` installs Debian's zookeeper package, which brings a JRE", ErrUnavailable, o.Java, err)
	}
	if _, err := os.Stat(o.Jar); err != nil {
		return fmt.Errorf("zktest: %w: jar: %v; `make test-deps` installs Debian's zookeeper package", ErrUnavailable, err)
	}
	return nil
}

// Ensemble is a running ZooKeeper ensemble.
type Ensemble struct {
	opts  Options
	dir   string
	nodes []*Node
}

// Start starts an ensemble and waits until every node serves. On error
// nothing is left running.
func Start(opts Options) (*Ensemble, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	if err := Available(opts); err != nil {
		return nil, err
	}
	removeStaleDirs()
	dir, err := os.MkdirTemp("", dirPrefix+strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		return nil, fmt.Errorf("zktest: %w", err)
	}
	e := &Ensemble{opts: opts, dir: dir}
	if err := e.start(); err != nil {
		_ = e.Close()
		return nil, err
	}
	return e, nil
}

func (e *Ensemble) start() error {
	ports, err := freePorts(3 * e.opts.Nodes)
	if err != nil {
		return err
	}
	var servers []string
	for i := range e.opts.Nodes {
		n := &Node{
			ens: e, id: i + 1,
			dir:        filepath.Join(e.dir, "node"+strconv.Itoa(i+1)),
			clientPort: ports[3*i], peerPort: ports[3*i+1], electionPort: ports[3*i+2],
		}
		e.nodes = append(e.nodes, n)
		servers = append(servers, fmt.Sprintf("server.%d=127.0.0.1:%d:%d", n.id, n.peerPort, n.electionPort))
	}
	if e.opts.Nodes == 1 {
		servers = nil // standalone
	}
	for _, n := range e.nodes {
		if err := n.writeConfig(servers); err != nil {
			return err
		}
	}
	for _, n := range e.nodes {
		if err := n.Start(); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), e.opts.StartTimeout)
	defer cancel()
	return e.WaitServing(ctx)
}

// Dir returns the ensemble's directory (one subdirectory per node, holding
// zoo.cfg, data/ and zookeeper.log).
func (e *Ensemble) Dir() string { return e.dir }

// Nodes returns the nodes, in myid order (Nodes()[0] has myid 1).
func (e *Ensemble) Nodes() []*Node { return e.nodes }

// Node returns the node with index i (myid i+1).
func (e *Ensemble) Node(i int) *Node { return e.nodes[i] }

// Servers returns every node's client address, host:port.
func (e *Ensemble) Servers() []string {
	out := make([]string, len(e.nodes))
	for i, n := range e.nodes {
		out[i] = n.Addr()
	}
	return out
}

// Connect returns the ensemble as a zookeeper.connect string,
// "127.0.0.1:p1,127.0.0.1:p2,...".
func (e *Ensemble) Connect() string { return strings.Join(e.Servers(), ",") }

// TickTime returns the ensemble's tickTime.
func (e *Ensemble) TickTime() time.Duration { return e.opts.TickTime }

// WaitServing waits until every node that is running and not paused serves
// clients (a leader, follower or standalone server), or ctx ends.
func (e *Ensemble) WaitServing(ctx context.Context) error {
	for _, n := range e.nodes {
		if !n.Running() || n.Paused() {
			continue
		}
		if err := n.WaitServing(ctx); err != nil {
			return err
		}
	}
	return nil
}

// Leader returns the node that is the ensemble's leader (the only node of a
// standalone ensemble), or an error if no running node says it leads.
func (e *Ensemble) Leader(ctx context.Context) (*Node, error) {
	for _, n := range e.nodes {
		if !n.Running() || n.Paused() {
			continue
		}
		mode, err := n.Mode(ctx)
		if err == nil && (mode == "leader" || mode == "standalone") {
			return n, nil
		}
	}
	return nil, errors.New("zktest: no node is leader")
}

// Close kills every node and removes the ensemble's directory. Idempotent.
func (e *Ensemble) Close() error {
	var errs []error
	for _, n := range e.nodes {
		if err := n.Kill(); err != nil {
			errs = append(errs, err)
		}
	}
	if e.dir != "" {
		if err := os.RemoveAll(e.dir); err != nil {
			errs = append(errs, fmt.Errorf("zktest: remove %s: %w", e.dir, err))
		}
	}
	return errors.Join(errs...)
}

// freePorts reserves n distinct free loopback ports (listening on all of
// them at once so none repeats) and releases them for the nodes to bind.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("zktest: free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// removeStaleDirs removes ensemble directories whose test binary is gone
// (one that panicked or timed out, so its Close never ran).
func removeStaleDirs() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), dirPrefix+"*"))
	for _, d := range dirs {
		pidStr, _, _ := strings.Cut(strings.TrimPrefix(filepath.Base(d), dirPrefix), "-")
		pid, err := strconv.Atoi(pidStr)
		if err != nil || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			_ = os.RemoveAll(d)
		}
	}
}
