package broker_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/net/client"
	"github.com/strom-broker/strom/tools/broker/brokertest"
)

// cleanShutdownMarker is Kafka's clean-shutdown marker file in a log dir.
const cleanShutdownMarker = ".kafka_cleanshutdown"

func markerExists(t *testing.T, dir string) bool {
	t.Helper()
	_, err := os.Stat(filepath.Join(dir, cleanShutdownMarker))
	if os.IsNotExist(err) {
		return false
	}
	require.NoError(t, err)
	return true
}

// TestGracefulRestart: everything produced before a graceful stop is
// readable after a restart on the same dir, topics, configs, partition
// counts and log start offsets survive, deleted topics stay deleted, and
// producing continues at the right offsets.
func TestGracefulRestart(t *testing.T) {
	dir := t.TempDir()
	b := brokertest.StartIn(t, dir, "auto.create.topics.enable=false")
	const topic, perPartition = "durable", 200
	createTopic(t, b, topic, 3, "retention.ms=123456789", "segment.bytes=4096")
	cl := newClient(t, b, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	var sent []*kgo.Record
	for i := range 3 * perPartition {
		sent = append(sent, &kgo.Record{Topic: topic, Partition: int32(i % 3), Value: value(0, i)})
	}
	produceAll(t, cl, sent...)
	cl.Close()

	c := rawConn(t, b)
	cp := kmsg.NewPtrCreatePartitionsRequest()
	cp.TimeoutMillis = 30000
	cpt := kmsg.NewCreatePartitionsRequestTopic()
	cpt.Topic, cpt.Count = topic, 4
	cp.Topics = append(cp.Topics, cpt)
	cpr := request[*kmsg.CreatePartitionsResponse](t, c, cp, 3)
	require.Zero(t, cpr.Topics[0].ErrorCode, deref(cpr.Topics[0].ErrorMessage))
	// A trimmed topic keeps its log start; a deleted one stays deleted.
	createTopic(t, b, "trimmed", 1)
	for i := range 10 {
		require.Zero(t, produceOne(t, c, "trimmed", 0, 1, rawBatch(1000, value(0, i))).ErrorCode)
	}
	require.Zero(t, deleteRecords(t, c, "trimmed", 4).ErrorCode)
	createTopic(t, b, "deleted", 1)
	dt := kmsg.NewPtrDeleteTopicsRequest()
	dt.TimeoutMillis, dt.TopicNames = 30000, []string{"deleted"}
	require.Zero(t, request[*kmsg.DeleteTopicsResponse](t, c, dt, 3).Topics[0].ErrorCode)
	c.Close()

	require.False(t, markerExists(t, dir), "no clean-shutdown marker while running")
	b.Stop()
	require.True(t, markerExists(t, dir), "a graceful stop writes the clean-shutdown marker")

	b = brokertest.StartIn(t, dir, "auto.create.topics.enable=false")
	assert.False(t, markerExists(t, dir), "a running broker removes the marker (a later crash must not look clean)")
	c = rawConn(t, b)
	assert.Len(t, metadataTopic(t, c, topic).Partitions, 4)
	md := kmsg.NewPtrMetadataRequest()
	md.Topics = nil
	var names []string
	for _, mt := range request[*kmsg.MetadataResponse](t, c, md, 12).Topics {
		names = append(names, deref(mt.Topic))
	}
	assert.ElementsMatch(t, []string{topic, "trimmed"}, names)
	assert.Equal(t, int64(4), listOffset(t, c, "trimmed", -2, -1).Offset, "the log start survives")
	assert.Equal(t, int64(10), listOffset(t, c, "trimmed", -1, -1).Offset)
	cfgs := describeTopic(t, c, topic)
	assertConfig(t, cfgs, "retention.ms", "123456789", kmsg.ConfigSourceDynamicTopicConfig)
	assertConfig(t, cfgs, "segment.bytes", "4096", kmsg.ConfigSourceDynamicTopicConfig)

	got := consume(t, b, topic, len(sent))
	require.Len(t, got, len(sent))
	next := map[int32]int64{}
	for _, r := range got {
		require.Equal(t, next[r.Partition], r.Offset, "partition %d in order, no gaps", r.Partition)
		next[r.Partition]++
		assert.Equal(t, string(sent[int(r.Offset)*3+int(r.Partition)].Value), string(r.Value))
	}
	for p := range int32(4) {
		sp := produceOne(t, c, topic, p, -1, rawBatch(1000, []byte("after restart")))
		require.Zero(t, sp.ErrorCode, code(sp.ErrorCode))
		want := int64(perPartition)
		if p == 3 {
			want = 0
		}
		assert.Equal(t, want, sp.BaseOffset, "partition %d continues", p)
	}
}

// TestGracefulShutdownAnswersLongPoll: a fetch long-polling on an empty
// partition is answered (empty, no error) when the broker stops, instead
// of holding the shutdown until max.wait.ms, and the broker then writes
// its clean-shutdown marker.
func TestGracefulShutdownAnswersLongPoll(t *testing.T) {
	b := brokertest.Start(t)
	const topic = "drain"
	createTopic(t, b, topic, 1)
	c := rawConn(t, b)
	got := startFetch(t, b, c, fetchRequest(topic, 0, 0, 10*60*1000, 1, 1<<20, 1<<20))
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		b.Stop()
	}()
	a := <-got
	require.NoError(t, a.err, "the long poll is answered, not cut off")
	fr := a.resp
	require.Len(t, fr.Topics, 1)
	require.Len(t, fr.Topics[0].Partitions, 1)
	assert.Zero(t, fr.Topics[0].Partitions[0].ErrorCode)
	assert.Empty(t, fr.Topics[0].Partitions[0].RecordBatches)
	<-stopped
	assert.True(t, markerExists(t, b.Dir))
}

// stromProcess is a broker running as a child process.
type stromProcess struct {
	cmd    *exec.Cmd
	addr   string
	exited chan struct{} // closed when the process has exited
	err    error         // its exit status, set before exited is closed
}

// buildStrom builds the strom command into a temporary dir.
func buildStrom(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "strom")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/strom-broker/strom/tools/cmd/strom").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

// startStrom runs `strom server` on dir with a free loopback port and
// waits until it answers.
func startStrom(t *testing.T, bin, dir string) *stromProcess {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	require.NoError(t, ln.Close())
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	stderr, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	require.NoError(t, err)
	cmd := exec.Command(bin, "server",
		"--override", "listeners=PLAINTEXT://"+addr,
		"--override", "advertised.listeners=PLAINTEXT://"+addr,
		"--override", "log.dirs="+dir,
		"--override", "auto.create.topics.enable=false")
	cmd.Stdout, cmd.Stderr = stderr, stderr
	require.NoError(t, cmd.Start())
	p := &stromProcess{cmd: cmd, addr: addr, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		stderr.Close()
		close(p.exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			out, _ := os.ReadFile(stderr.Name())
			t.Logf("strom server output:\n%s", out)
		}
	})
	waitFor(t, "strom server to answer", func() bool {
		select {
		case <-p.exited:
			out, _ := os.ReadFile(stderr.Name())
			t.Fatalf("strom server exited: %v\n%s", p.err, out)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		defer cancel()
		c, err := client.Dial(ctx, addr, "probe")
		if err != nil {
			return false
		}
		c.Close()
		return true
	})
	return p
}

// TestUncleanStopRecovers runs the broker as a process, produces with
// acks=1 to a topic flushed on every message, kills the process with
// SIGKILL while producing, tears the tail of the last segment, and
// restarts it on the same dir: every acknowledged record is there at its
// acknowledged offset, nothing is duplicated, the torn bytes are never
// served, and producing continues after the last record.
func TestUncleanStopRecovers(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the strom binary")
	}
	bin := buildStrom(t)
	dir := t.TempDir()
	const topic = "crash"

	p := startStrom(t, bin, dir)
	c, err := client.Dial(testCtx(t), p.addr, "crash-test")
	require.NoError(t, err)
	defer c.Close()
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, 1, 1
	one := "1"
	fc := kmsg.NewCreateTopicsRequestTopicConfig()
	fc.Name, fc.Value = "flush.messages", &one
	rt.Configs = append(rt.Configs, fc)
	req.Topics, req.TimeoutMillis = append(req.Topics, rt), 30000
	cr := request[*kmsg.CreateTopicsResponse](t, c, req, 5)
	require.Zero(t, cr.Topics[0].ErrorCode, deref(cr.Topics[0].ErrorMessage))

	type ack struct {
		offset int64
		value  string
	}
	acked := make(chan ack, 1<<16)
	produced := make(chan error, 1)
	ctx := testCtx(t)
	go func() {
		defer close(acked)
		for i := 0; ; i++ {
			v := value(9, i)
			req := produceRequest(topic, 0, 1, rawBatch(int64(1000+i), v))
			req.SetVersion(9)
			resp, err := c.RequestVersion(ctx, req)
			if err != nil {
				produced <- err // the broker was killed
				return
			}
			sp := resp.(*kmsg.ProduceResponse).Topics[0].Partitions[0]
			if sp.ErrorCode != 0 {
				produced <- fmt.Errorf("record %d: %s", i, code(sp.ErrorCode))
				return
			}
			acked <- ack{sp.BaseOffset, string(v)}
		}
	}()
	var acks []ack
	for len(acks) < 300 {
		a, ok := <-acked
		if !ok {
			t.Fatalf("producer stopped early: %v", <-produced)
		}
		acks = append(acks, a)
	}
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGKILL))
	<-p.exited
	for a := range acked {
		acks = append(acks, a)
	}
	require.Error(t, <-produced, "producing stops with the broker")
	require.False(t, markerExists(t, dir), "a killed broker leaves no clean-shutdown marker")
	// A torn write at the tail: the start of a batch header whose length
	// runs past the end of the file. Recovery must cut it off.
	segs, err := filepath.Glob(filepath.Join(dir, topic+"-0", "*.log"))
	require.NoError(t, err)
	require.NotEmpty(t, segs)
	f, err := os.OpenFile(segs[len(segs)-1], os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	torn := rawBatch(1, []byte("torn write"))
	_, err = f.Write(torn[:len(torn)/2])
	require.NoError(t, err)
	require.NoError(t, f.Close())

	p = startStrom(t, bin, dir)
	c2, err := client.Dial(testCtx(t), p.addr, "crash-test-2")
	require.NoError(t, err)
	defer c2.Close()
	var offsets []int64
	var values []string
	for off := int64(0); ; {
		fp := fetchOne(t, c2, fetchRequest(topic, 0, off, 0, 1, 1<<20, 1<<20))
		require.Zero(t, fp.ErrorCode, code(fp.ErrorCode))
		offs, vals, _ := batchValues(t, fp.RecordBatches)
		if len(offs) == 0 {
			require.Equal(t, off, fp.HighWatermark, "read up to the high watermark")
			break
		}
		offsets = append(offsets, offs...)
		for _, v := range vals {
			values = append(values, string(v))
		}
		off = offs[len(offs)-1] + 1
	}
	require.GreaterOrEqual(t, len(values), len(acks), "every acknowledged record survived")
	seen := map[string]bool{}
	for i, v := range values {
		assert.Equal(t, int64(i), offsets[i], "offsets are dense")
		assert.False(t, seen[v], "no duplicates: %s", v)
		seen[v] = true
	}
	for _, a := range acks {
		require.Less(t, a.offset, int64(len(values)), "acknowledged offset %d is in the log", a.offset)
		assert.Equal(t, a.value, values[a.offset], "acknowledged record at offset %d", a.offset)
	}
	sp := produceOne(t, c2, topic, 0, 1, rawBatch(5000, []byte("after crash")))
	require.Zero(t, sp.ErrorCode)
	assert.Equal(t, int64(len(values)), sp.BaseOffset, "producing continues after the recovered log")

	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	<-p.exited
	require.NoError(t, p.err, "a graceful stop exits 0")
	assert.True(t, markerExists(t, dir))
}

// TestIdempotenceSurvivesRestart: after a restart a retried batch of an
// idempotent producer is still recognised as a duplicate, its next
// sequence continues, and new producer ids do not reuse old ones.
func TestIdempotenceSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	b := brokertest.StartIn(t, dir)
	const topic = "idem-restart"
	createTopic(t, b, topic, 1)
	c := rawConn(t, b)
	ip := request[*kmsg.InitProducerIDResponse](t, c, kmsg.NewPtrInitProducerIDRequest(), 4)
	require.Zero(t, ip.ErrorCode)
	pid, epoch := ip.ProducerID, ip.ProducerEpoch
	for i := range 3 {
		sp := produceOne(t, c, topic, 0, -1, idempotentBatch(1000, pid, epoch, int32(i), value(0, i)))
		require.Zero(t, sp.ErrorCode, code(sp.ErrorCode))
	}
	c.Close()
	b.Stop()

	b = brokertest.StartIn(t, dir)
	c = rawConn(t, b)
	dup := produceOne(t, c, topic, 0, -1, idempotentBatch(1000, pid, epoch, 2, value(0, 2)))
	require.Zero(t, dup.ErrorCode, code(dup.ErrorCode))
	assert.Equal(t, int64(2), dup.BaseOffset, "the retried batch is a duplicate of offset 2")
	next := produceOne(t, c, topic, 0, -1, idempotentBatch(1000, pid, epoch, 3, value(0, 3)))
	require.Zero(t, next.ErrorCode, code(next.ErrorCode))
	assert.Equal(t, int64(3), next.BaseOffset)
	ip = request[*kmsg.InitProducerIDResponse](t, c, kmsg.NewPtrInitProducerIDRequest(), 4)
	require.Zero(t, ip.ErrorCode)
	assert.NotEqual(t, pid, ip.ProducerID, "producer ids are not reused")
}
