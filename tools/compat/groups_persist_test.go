package compat

// Committed offsets survive a broker restart: a clean one (in-process,
// same log dir) and a kill -9 of a broker process run from the built
// strom binary (with log.flush.interval.messages=1, so that what the
// broker acknowledged is on disk). After either, a consumer in the same
// group resumes at exactly the committed offsets.

import (
	"context"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strom-broker/strom/tools/broker/brokertest"
)

// consumeCommit reads n records of topic as group (from the start when
// the group has no offsets), commits exactly those, and leaves; it returns
// the lowest offset read per partition and the values read.
func consumeCommit(t *testing.T, bs, topic, group string, n int) (first map[int32]int64, values []string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(bs), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
	require.NoError(t, err)
	defer cl.Close()
	ctx := caseContext(t)
	first = map[int32]int64{}
	var recs []*kgo.Record
	for len(recs) < n {
		fs := cl.PollRecords(ctx, n-len(recs))
		require.NoError(t, ctx.Err(), "read %d of %d records", len(recs), n)
		for _, fe := range fs.Errors() {
			require.NoError(t, fe.Err, "fetch %s/%d", fe.Topic, fe.Partition)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if o, ok := first[r.Partition]; !ok || r.Offset < o {
				first[r.Partition] = r.Offset
			}
			recs = append(recs, r)
			values = append(values, string(r.Value))
		})
	}
	require.NoError(t, cl.CommitRecords(ctx, recs...))
	return first, values
}

// checkResume runs the scenario around restart: 100 records, 60 consumed
// and committed, restart (which returns the new bootstrap), the remaining
// 40 consumed from exactly the committed offsets.
func checkResume(t *testing.T, bs string, restart func() string) {
	t.Helper()
	topic := topicFor(t)
	group := topic + ".group"
	createTopic(t, bs, topic, 3)
	prod := newKgo(t, bs)
	produceValues(t, prod, topic, "r", 0, 100)
	prod.Close()
	_, firstRun := consumeCommit(t, bs, topic, group, 60)
	before := committedOffsets(t, kadm.NewClient(newKgo(t, bs)), group, topic)
	sum := int64(0)
	for _, o := range before {
		sum += o
	}
	require.EqualValues(t, 60, sum, "committed before the restart: %v", before)

	bs = restart()
	after := committedOffsets(t, kadm.NewClient(newKgo(t, bs)), group, topic)
	assert.Equal(t, before, after, "committed offsets after the restart")
	first, secondRun := consumeCommit(t, bs, topic, group, 40)
	for p, o := range first {
		assert.Equal(t, before[p], o, "partition %d resumed at", p)
	}
	assert.ElementsMatch(t, valueSet("r", 0, 100), append(firstRun, secondRun...))
}

func TestGroupOffsetsSurviveCleanRestart(t *testing.T) {
	dir := t.TempDir()
	b := brokertest.StartIn(t, dir, groupBrokerOverrides...)
	checkResume(t, b.Addr(), func() string {
		b.Stop()
		return brokertest.StartIn(t, dir, groupBrokerOverrides...).Addr()
	})
}

// brokerProcess is a strom server run as a child process.
type brokerProcess struct {
	cmd  *exec.Cmd
	addr string
}

// startProcess runs bin as a broker on addr with its data in dir and waits
// until it answers.
func startProcess(t *testing.T, bin, dir, addr string) *brokerProcess {
	t.Helper()
	args := []string{"server", "--override", "listeners=PLAINTEXT://" + addr, "--override", "log.dirs=" + dir,
		"--override", "log.flush.interval.messages=1"}
	for _, o := range groupBrokerOverrides {
		args = append(args, "--override", o)
	}
	cmd := exec.Command(bin, args...)
	require.NoError(t, cmd.Start())
	p := &brokerProcess{cmd: cmd, addr: addr}
	t.Cleanup(func() { p.kill() })
	cl := newKgo(t, addr)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	for {
		if err := cl.Ping(ctx); err == nil {
			return p
		}
		select {
		case <-ctx.Done():
			t.Fatalf("broker process on %s never answered", addr)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// kill sends SIGKILL and reaps the process.
func (p *brokerProcess) kill() {
	if p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Kill()
	_ = p.cmd.Wait()
}

// freeAddr returns a loopback address with a port the kernel just had free.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return "127.0.0.1:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// buildStrom builds the strom command into a temp dir.
func buildStrom(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "strom")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/strom-broker/strom/tools/cmd/strom").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

func TestGroupOffsetsSurviveKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the strom binary")
	}
	bin := buildStrom(t)
	dir := t.TempDir()
	addr := freeAddr(t)
	p := startProcess(t, bin, dir, addr)
	checkResume(t, addr, func() string {
		p.kill()
		state := p.cmd.ProcessState
		require.NotNil(t, state)
		require.False(t, state.Success(), "the broker was killed, not stopped: %v", state)
		startProcess(t, bin, dir, addr)
		return addr
	})
}
