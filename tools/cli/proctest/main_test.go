package proctest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strom-broker/strom/tools/broker/brokertest"
	"github.com/strom-broker/strom/tools/cli/clitest"
)

// strom is the path of the binary built by TestMain.
var strom string

// hang bounds every wait on a tool process: a tool still running after it
// has failed the test (it is then killed).
const hang = 90 * time.Second

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "strom-proctest")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	strom = filepath.Join(dir, "strom")
	if out, err := exec.Command("go", "build", "-o", strom, "github.com/strom-broker/strom/tools/cmd/strom").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building strom: %v\n%s", err, out)
		os.Exit(2)
	}
	// Kafka's script names next to the binary, as `make build` installs them.
	scripts, err := filepath.Glob("../../scripts/*.sh")
	if err != nil || len(scripts) == 0 {
		fmt.Fprintf(os.Stderr, "no scripts: %v\n", err)
		os.Exit(2)
	}
	for _, sc := range scripts {
		b, err := os.ReadFile(sc)
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, filepath.Base(sc)), b, 0o755)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// startBroker starts a real Strom broker in-process and returns its
// bootstrap address.
func startBroker(t *testing.T, overrides ...string) string {
	t.Helper()
	return startBrokerIn(t, overrides...).Addr()
}

// startBrokerIn is startBroker returning the broker (its Dir, Config).
func startBrokerIn(t *testing.T, overrides ...string) *brokertest.Broker {
	t.Helper()
	return brokertest.Start(t, append([]string{"group.initial.rebalance.delay.ms=0"}, overrides...)...)
}

// deadPort returns a 127.0.0.1 address nothing listens on.
func deadPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// result is what a finished tool process printed and returned.
type result struct {
	Stdout string
	// Stderr leaves out the warning a client tool prints when no broker
	// has answered within a second: on a stalled machine it can appear in
	// any test, so only the tests about it look at RawStderr.
	Stderr, RawStderr string
	Code              int
}

// proc is a running tool process.
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout syncBuffer
	stderr syncBuffer
	done   chan struct{}
	code   int
}

// start starts `strom args...` with stdin as a pipe.
func start(t *testing.T, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(strom, args...)
	in, err := cmd.StdinPipe()
	require.NoError(t, err)
	p := startCmd(t, cmd)
	p.stdin = in
	return p
}

// startCmd starts cmd (a strom command with its stdin set up), capturing
// its output.
func startCmd(t *testing.T, cmd *exec.Cmd) *proc {
	t.Helper()
	p := &proc{t: t, cmd: cmd, done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	require.NoError(t, p.cmd.Start())
	go func() {
		err := p.cmd.Wait()
		var exit *exec.ExitError
		switch {
		case err == nil:
		case errors.As(err, &exit):
			p.code = exit.ExitCode()
		default:
			p.code = -1
		}
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// script returns the path of Kafka's script name (kafka-topics.sh, ...)
// installed next to the binary.
func script(name string) string { return filepath.Join(filepath.Dir(strom), name) }

// run runs `strom args...` with stdin to completion.
func run(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	p := start(t, args...)
	_, err := io.WriteString(p.stdin, stdin)
	require.NoError(t, err)
	require.NoError(t, p.stdin.Close())
	return p.wait()
}

// wait waits for the process to exit (failing the test after hang).
func (p *proc) wait() result {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(hang):
		_ = p.cmd.Process.Kill()
		<-p.done
		p.t.Fatalf("strom %s still running after %s; stdout: %s\nstderr: %s", strings.Join(p.cmd.Args[1:], " "), hang, p.stdout.String(), p.stderr.String())
	}
	raw := p.stderr.String()
	return result{Stdout: p.stdout.String(), Stderr: clitest.WithoutDialWarning(raw), RawStderr: raw, Code: p.code}
}

// exited reports whether the process has exited.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// signal sends sig to the process.
func (p *proc) signal(sig syscall.Signal) {
	p.t.Helper()
	require.NoError(p.t, p.cmd.Process.Signal(sig))
}

// eventually waits until cond holds, failing the test after hang.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(hang)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// requireOK fails the test unless r exited 0.
func requireOK(t *testing.T, r result) {
	t.Helper()
	require.Equal(t, 0, r.Code, "stdout: %s\nstderr: %s", r.Stdout, r.Stderr)
}

// requireError fails the test unless r exited 1 with its last stderr line
// "Error: ..." containing want.
func requireError(t *testing.T, r result, want string) {
	t.Helper()
	require.Equal(t, 1, r.Code, "stdout: %s\nstderr: %s", r.Stdout, r.Stderr)
	lines := strings.Split(strings.TrimRight(r.Stderr, "\n"), "\n")
	last := lines[len(lines)-1]
	require.True(t, strings.HasPrefix(last, "Error: "), "stderr: %q", r.Stderr)
	require.Contains(t, last, want)
}

// readAll returns every record of topic (all partitions, by partition then
// offset) as "key:value", or just "value" for a null key.
func readAll(t *testing.T, bootstrap, topic string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	defer cancel()
	adm, err := kgo.NewClient(kgo.SeedBrokers(bootstrap))
	require.NoError(t, err)
	defer adm.Close()
	ends, err := kadm.NewClient(adm).ListEndOffsets(ctx, topic)
	require.NoError(t, err)
	want := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		require.NoError(t, o.Err)
		if o.Offset > 0 {
			want[o.Partition] = o.Offset
		}
	})
	parts := map[int32]kgo.Offset{}
	for p := range want {
		parts[p] = kgo.NewOffset().AtStart()
	}
	byPart := map[int32][]string{}
	if len(parts) > 0 {
		cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: parts}))
		require.NoError(t, err)
		defer cl.Close()
		got := 0
		total := 0
		for _, n := range want {
			total += int(n)
		}
		for got < total {
			fs := cl.PollFetches(ctx)
			require.NoError(t, ctx.Err(), "read %d of %d records of %s", got, total, topic)
			for _, e := range fs.Errors() {
				require.NoError(t, e.Err)
			}
			fs.EachRecord(func(r *kgo.Record) {
				s := string(r.Value)
				if r.Key != nil {
					s = string(r.Key) + ":" + s
				}
				byPart[r.Partition] = append(byPart[r.Partition], s)
				got++
			})
		}
	}
	var out []string
	for _, p := range slices.Sorted(maps.Keys(byPart)) {
		out = append(out, byPart[p]...)
	}
	return out
}

// lines returns "<prefix>1" ... "<prefix>n".
func lines(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", prefix, i+1)
	}
	return out
}

// sigint is Ctrl-C.
const sigint = syscall.SIGINT
