package zktest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// stopGrace is how long Stop waits for a SIGTERM'd node before killing it.
const stopGrace = 30 * time.Second

// Node is one ZooKeeper server of an ensemble.
//
// Invariant (under mu): cmd != nil iff a process was started and has not
// been reaped by Kill/Stop; exited is closed once that process has exited;
// paused is true only while cmd's process is SIGSTOPped.
type Node struct {
	ens                                *Ensemble
	id                                 int // myid, 1-based
	dir                                string
	clientPort, peerPort, electionPort int

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	paused bool
}

// ID returns the node's myid (1-based).
func (n *Node) ID() int { return n.id }

// Addr returns the node's client address, 127.0.0.1:port.
func (n *Node) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(n.clientPort)) }

// LogPath returns the file that collects the node's output.
func (n *Node) LogPath() string { return filepath.Join(n.dir, "zookeeper.log") }

// writeConfig writes the node's zoo.cfg and myid. servers are the
// server.N lines (none for a standalone node).
func (n *Node) writeConfig(servers []string) error {
	data := filepath.Join(n.dir, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		return fmt.Errorf("zktest: %w", err)
	}
	tick := n.ens.opts.TickTime.Milliseconds()
	cfg := []string{
		"tickTime=" + strconv.FormatInt(tick, 10),
		"initLimit=20",
		"syncLimit=10",
		"dataDir=" + data,
		"clientPort=" + strconv.Itoa(n.clientPort),
		"clientPortAddress=127.0.0.1",
		"admin.enableServer=false",
		"4lw.commands.whitelist=*",
		// No snapshot purging or preallocation games; tests are small.
		"preAllocSize=1024",
	}
	cfg = append(cfg, servers...)
	if err := os.WriteFile(filepath.Join(n.dir, "zoo.cfg"), []byte(strings.Join(cfg, "\n")+"\n"), 0o644); err != nil {
		return fmt.Errorf("zktest: %w", err)
	}
	if err := os.WriteFile(filepath.Join(data, "myid"), []byte(strconv.Itoa(n.id)+"\n"), 0o644); err != nil {
		return fmt.Errorf("zktest: %w", err)
	}
	return nil
}

// Start starts the node's process (again, after Kill or Stop: same ports,
// same data). It does not wait for it to serve; see WaitServing.
func (n *Node) Start() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd != nil {
		return fmt.Errorf("zktest: node %d is already running", n.id)
	}
	o := n.ens.opts
	cp := n.dir + ":" + o.Jar
	if _, err := os.Stat(slf4jSimple); err == nil {
		cp += ":" + slf4jSimple
	}
	logFile, err := os.OpenFile(n.LogPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("zktest: %w", err)
	}
	defer logFile.Close() // the child has its own descriptor
	cmd := exec.Command(o.Java,
		"-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xss512k",
		"-Dorg.slf4j.simpleLogger.showDateTime=true",
		"-Dorg.slf4j.simpleLogger.defaultLogLevel=info",
		"-cp", cp,
		"org.apache.zookeeper.server.quorum.QuorumPeerMain",
		filepath.Join(n.dir, "zoo.cfg"))
	cmd.Dir = n.dir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := startLocked(cmd); err != nil {
		return fmt.Errorf("zktest: start node %d: %w", n.id, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	n.cmd, n.exited, n.paused = cmd, exited, false
	return nil
}

// Running reports whether the node's process is alive (possibly paused).
func (n *Node) Running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return false
	}
	select {
	case <-n.exited:
		return false
	default:
		return true
	}
}

// Paused reports whether the node is SIGSTOPped.
func (n *Node) Paused() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.paused
}

// PID returns the node's process id, or 0 if it is not running.
func (n *Node) PID() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return 0
	}
	return n.cmd.Process.Pid
}

// Kill kills the node's process with SIGKILL (a crash) and waits until it is
// gone. A node that is not running is left alone.
func (n *Node) Kill() error { return n.stop(syscall.SIGKILL, 0) }

// Stop stops the node with SIGTERM (an orderly shutdown) and waits until it
// is gone, killing it if it takes longer than 30 s.
func (n *Node) Stop() error { return n.stop(syscall.SIGTERM, stopGrace) }

func (n *Node) stop(sig syscall.Signal, grace time.Duration) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return nil
	}
	pid := n.cmd.Process.Pid
	if n.paused && sig != syscall.SIGKILL {
		_ = syscall.Kill(pid, syscall.SIGCONT)
	}
	_ = syscall.Kill(pid, sig)
	if sig != syscall.SIGKILL {
		select {
		case <-n.exited:
		case <-time.After(grace):
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	<-n.exited
	n.cmd, n.exited, n.paused = nil, nil, false
	return nil
}

// Pause stops the node's process with SIGSTOP: it keeps its sockets but
// answers nothing, like a machine that hangs.
func (n *Node) Pause() error { return n.signal(syscall.SIGSTOP, true) }

// Resume continues a paused node with SIGCONT.
func (n *Node) Resume() error { return n.signal(syscall.SIGCONT, false) }

func (n *Node) signal(sig syscall.Signal, paused bool) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return fmt.Errorf("zktest: node %d is not running", n.id)
	}
	if err := syscall.Kill(n.cmd.Process.Pid, sig); err != nil {
		return fmt.Errorf("zktest: signal node %d: %w", n.id, err)
	}
	if sig == syscall.SIGSTOP {
		// kill returns before every thread has stopped; a thread still
		// running could answer one more request.
		WaitStopped(n.cmd.Process.Pid)
	}
	n.paused = paused
	return nil
}

// WaitStopped waits (up to 10 s) until every thread of process pid is
// stopped (state T in /proc/<pid>/task/*/stat), as it is soon after
// SIGSTOP.
func WaitStopped(pid int) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && !allStopped(pid) {
		time.Sleep(time.Millisecond)
	}
}

func allStopped(pid int) bool {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return true // gone
	}
	for _, t := range tasks {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/stat", pid, t.Name()))
		if err != nil {
			continue
		}
		// The state follows the parenthesised command name.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 || i+2 >= len(stat) || stat[i+2] != 'T' {
			return false
		}
	}
	return true
}

// WaitServing waits until the node serves clients, or ctx ends. It fails at
// once if the process exits, with the end of its log.
func (n *Node) WaitServing(ctx context.Context) error {
	for {
		n.mu.Lock()
		exited := n.exited
		n.mu.Unlock()
		if exited == nil {
			return fmt.Errorf("zktest: node %d is not running", n.id)
		}
		select {
		case <-exited:
			return fmt.Errorf("zktest: node %d exited at start; end of %s:\n%s", n.id, n.LogPath(), n.logTail(20))
		default:
		}
		if _, err := n.Mode(ctx); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("zktest: node %d (%s) not serving: %w; end of %s:\n%s",
				n.id, n.Addr(), ctx.Err(), n.LogPath(), n.logTail(20))
		case <-exited:
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Mode asks the node with the `srvr` four-letter word and returns its mode:
// "leader", "follower", "observer" or "standalone". A node that runs but
// does not serve (no quorum) gives an error.
func (n *Node) Mode(ctx context.Context) (string, error) {
	out, err := n.FourLetter(ctx, "srvr")
	if err != nil {
		return "", err
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if m, ok := strings.CutPrefix(sc.Text(), "Mode: "); ok {
			return strings.TrimSpace(m), nil
		}
	}
	return "", fmt.Errorf("zktest: node %d not serving: %q", n.id, strings.TrimSpace(string(out)))
}

// FourLetter sends a four-letter word (srvr, stat, ruok, mntr, cons, ...)
// and returns the answer. Each attempt is bounded by 2 s.
func (n *Node) FourLetter(ctx context.Context, word string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", n.Addr())
	if err != nil {
		return nil, fmt.Errorf("zktest: node %d: %w", n.id, err)
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	if _, err := c.Write([]byte(word)); err != nil {
		return nil, fmt.Errorf("zktest: node %d: %w", n.id, err)
	}
	out, err := io.ReadAll(c)
	if err != nil && !errors.Is(err, io.EOF) {
		return out, fmt.Errorf("zktest: node %d: %w", n.id, err)
	}
	return out, nil
}

// logTail returns the last lines of the node's log.
func (n *Node) logTail(lines int) string {
	data, err := os.ReadFile(n.LogPath())
	if err != nil {
		return err.Error()
	}
	all := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

// startLocked starts cmd from one OS thread that never exits. Pdeathsig
// fires when the thread that forked the child exits, not the process; Go
// may retire threads, so children are forked from a thread locked to a
// goroutine that lives as long as the test binary.
func startLocked(cmd *exec.Cmd) error {
	spawnOnce.Do(func() {
		spawnCh = make(chan spawnReq)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread lives until exit
			for r := range spawnCh {
				r.done <- r.cmd.Start()
			}
		}()
	})
	done := make(chan error, 1)
	spawnCh <- spawnReq{cmd: cmd, done: done}
	return <-done
}

type spawnReq struct {
	cmd  *exec.Cmd
	done chan error
}

var (
	spawnOnce sync.Once
	spawnCh   chan spawnReq
)
