package clustertest_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/engine/record"
	netclient "github.com/strom-broker/strom/net/client"
	"github.com/strom-broker/strom/tools/clustertest"
)

// replicatedConfig makes ISR changes quick enough for a test: a follower
// that stops fetching leaves the ISR after 3 s.
var replicatedConfig = []string{"replica.lag.time.max.ms=3000", "replica.fetch.wait.max.ms=200"}

// startReplicated starts brokers 1-3 and creates topic with one partition,
// replication factor 3 and min.insync.replicas=2, and waits until every
// broker reports its ISR as all three.
func startReplicated(t *testing.T, topic string) []*clustertest.Broker {
	t.Helper()
	_, bs := startReplicatedCluster(t, topic)
	return bs
}

// startReplicatedWith is startReplicated with extra broker config lines
// (after replicatedConfig: they win).
func startReplicatedWith(t *testing.T, topic string, extra ...string) []*clustertest.Broker {
	t.Helper()
	_, bs := startReplicatedCluster(t, topic, extra...)
	return bs
}

// startReplicatedCluster is startReplicatedWith, returning the cluster too.
func startReplicatedCluster(t *testing.T, topic string, extra ...string) (*clustertest.Cluster, []*clustertest.Broker) {
	t.Helper()
	c := clustertest.NewCluster(t, ens)
	var bs []*clustertest.Broker
	for id := int32(1); id <= 3; id++ {
		bs = append(bs, c.StartBroker(id, append(slices.Clone(replicatedConfig), extra...)...))
	}
	waitBrokers(t, bs, 1, 2, 3)
	minISR := "2"
	resp, err := kadm.NewClient(client(t, addrs(bs...))).CreateTopic(context.Background(), 1, 3,
		map[string]*string{"min.insync.replicas": &minISR}, topic)
	require.NoError(t, err)
	require.NoError(t, resp.Err)
	waitISR(t, bs, topic, 1, 2, 3)
	return c, bs
}

// partitionOf returns partition 0 of topic as broker b reports it.
func partitionOf(ctx context.Context, t *testing.T, b *clustertest.Broker, topic string) (kadm.PartitionDetail, error) {
	md, err := metadataFrom(ctx, t, b, topic)
	if err != nil {
		return kadm.PartitionDetail{}, err
	}
	td, ok := md.Topics[topic]
	if !ok || td.Err != nil {
		return kadm.PartitionDetail{}, fmt.Errorf("topic %s: %v", topic, td.Err)
	}
	pd, ok := td.Partitions[0]
	if !ok || pd.Err != nil {
		return kadm.PartitionDetail{}, fmt.Errorf("partition 0: %v", pd.Err)
	}
	return pd, nil
}

// waitISR waits until every running broker of bs reports partition 0's
// ISR as exactly ids.
func waitISR(t *testing.T, bs []*clustertest.Broker, topic string, ids ...int32) {
	t.Helper()
	slices.Sort(ids)
	clustertest.Eventually(t, fmt.Sprintf("ISR of %s is %v", topic, ids), func(ctx context.Context) error {
		for _, b := range bs {
			if !b.Running() {
				continue
			}
			pd, err := partitionOf(ctx, t, b, topic)
			if err != nil {
				return err
			}
			isr := slices.Sorted(slices.Values(pd.ISR))
			if !slices.Equal(isr, ids) {
				return fmt.Errorf("broker %d reports ISR %v (leader %d)", b.ID, isr, pd.Leader)
			}
		}
		return nil
	})
}

// producer produces numbered records (0, 1, 2, ...) with acks=all and
// idempotence (franz-go's defaults) until stopped, and records which
// were acknowledged.
type producer struct {
	cl   *kgo.Client
	stop chan struct{}
	done chan struct{}

	mu     sync.Mutex
	acked  map[int]bool
	failed int
	// lastAck and maxGap: the longest wait between two acknowledgements
	// (logged by tests, never asserted: the machine is noisy).
	lastAck time.Time
	maxGap  time.Duration
}

func startProducer(t *testing.T, bs []*clustertest.Broker, topic string) *producer {
	p := &producer{cl: client(t, addrs(bs...), kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordDeliveryTimeout(60*time.Second), kgo.MaxBufferedRecords(200)),
		stop: make(chan struct{}), done: make(chan struct{}), acked: map[int]bool{}}
	go func() {
		defer close(p.done)
		var wg sync.WaitGroup
		for i := 0; ; i++ {
			select {
			case <-p.stop:
				wg.Wait()
				return
			default:
			}
			wg.Add(1)
			p.cl.Produce(context.Background(), &kgo.Record{Value: []byte(strconv.Itoa(i))}, func(_ *kgo.Record, err error) {
				defer wg.Done()
				p.mu.Lock()
				defer p.mu.Unlock()
				if err != nil {
					p.failed++
					return
				}
				p.acked[i] = true
				now := time.Now()
				if !p.lastAck.IsZero() {
					p.maxGap = max(p.maxGap, now.Sub(p.lastAck))
				}
				p.lastAck = now
			})
		}
	}()
	return p
}

// waitAcked waits until n records more than before have been acknowledged.
func (p *producer) waitAcked(t *testing.T, n int) {
	t.Helper()
	p.mu.Lock()
	target := len(p.acked) + n
	p.mu.Unlock()
	clustertest.Eventually(t, fmt.Sprintf("%d records acknowledged", target), func(context.Context) error {
		p.mu.Lock()
		defer p.mu.Unlock()
		if len(p.acked) < target {
			return fmt.Errorf("%d acknowledged, %d failed", len(p.acked), p.failed)
		}
		return nil
	})
}

func (p *producer) finish() (acked map[int]bool, failed int) {
	close(p.stop)
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.acked, p.failed
}

// consumeAll reads partition 0 of topic from the start up to its high
// watermark and returns the record values as numbers, in log order.
func consumeAll(t *testing.T, bs []*clustertest.Broker, topic string) []int {
	t.Helper()
	var out []int
	for _, s := range consumeValues(t, bs, topic) {
		v, err := strconv.Atoi(s)
		require.NoError(t, err)
		out = append(out, v)
	}
	return out
}

// consumeValues reads partition 0 of topic from the start up to its high
// watermark and returns the record values, in log order.
func consumeValues(t *testing.T, bs []*clustertest.Broker, topic string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clustertest.Deadline)
	defer cancel()
	var running []*clustertest.Broker
	for _, b := range bs {
		if b.Running() {
			running = append(running, b)
		}
	}
	adm := kadm.NewClient(client(t, addrs(running...)))
	ends, err := adm.ListEndOffsets(ctx, topic)
	require.NoError(t, err)
	end, ok := ends.Lookup(topic, 0)
	require.True(t, ok)
	require.NoError(t, end.Err)
	cons := client(t, addrs(running...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var out []string
	next := int64(0)
	for next < end.Offset {
		fs := cons.PollFetches(ctx)
		require.NoError(t, ctx.Err(), "consumed up to %d of %d", next, end.Offset)
		fs.EachError(func(_ string, _ int32, err error) { t.Logf("fetch error (retried): %v", err) })
		fs.EachRecord(func(r *kgo.Record) {
			out = append(out, string(r.Value))
			next = r.Offset + 1
		})
	}
	return out
}

// checkHistory asserts that every acknowledged record is in log exactly
// once, that no record is there twice, and that records are in the order
// they were produced.
func checkHistory(t *testing.T, log []int, acked map[int]bool) {
	t.Helper()
	seen := map[int]int{}
	for i, v := range log {
		if prev, dup := seen[v]; dup {
			t.Errorf("record %d at offsets %d and %d", v, prev, i)
		}
		seen[v] = i
		if i > 0 && v <= log[i-1] {
			t.Errorf("record %d at offset %d follows record %d", v, i, log[i-1])
		}
	}
	lost := 0
	for v := range acked {
		if _, ok := seen[v]; !ok {
			if lost < 10 {
				t.Errorf("acknowledged record %d is lost", v)
			}
			lost++
		}
	}
	assert.Zero(t, lost, "acknowledged records lost")
}

// TestLeaderKilledUnderLoad: RF 3, min.insync.replicas=2, an idempotent
// acks=all producer; the partition's leader is killed with SIGKILL
// mid-stream, the controller elects a new leader from the ISR, producing
// goes on. The killed broker restarts, truncates its unreplicated tail by
// leader epoch and rejoins the ISR. Every acknowledged record is then in
// the log exactly once, in order.
func TestLeaderKilledUnderLoad(t *testing.T) {
	const topic = "acked"
	bs := startReplicated(t, topic)
	ctx := context.Background()
	pd, err := partitionOf(ctx, t, bs[0], topic)
	require.NoError(t, err)
	leader := bs[pd.Leader-1]

	p := startProducer(t, bs, topic)
	p.waitAcked(t, 2000)
	leader.Kill()
	var others []int32
	for _, b := range bs {
		if b != leader {
			others = append(others, b.ID)
		}
	}
	clustertest.Eventually(t, "a new leader from the ISR", func(ctx context.Context) error {
		for _, b := range bs {
			if b == leader {
				continue
			}
			pd, err := partitionOf(ctx, t, b, topic)
			if err != nil {
				return err
			}
			if !slices.Contains(others, pd.Leader) {
				return fmt.Errorf("broker %d reports leader %d", b.ID, pd.Leader)
			}
		}
		return nil
	})
	p.waitAcked(t, 2000)

	require.NoError(t, leader.Start())
	leader.WaitListening()
	waitISR(t, bs, topic, 1, 2, 3)
	p.waitAcked(t, 500)
	acked, failed := p.finish()
	t.Logf("%d records acknowledged, %d failed", len(acked), failed)

	log := consumeAll(t, bs, topic)
	require.GreaterOrEqual(t, len(log), len(acked))
	checkHistory(t, log, acked)

	// One more acks=all record, the last: once acknowledged, every ISR
	// member (all three) has fetched up to the leader's log end. Stopped,
	// the three replicas' segment files are then byte for byte the same:
	// the restarted leader's unreplicated tail was cut by leader epoch and
	// refilled from the new leader.
	require.NoError(t, p.cl.ProduceSync(ctx, &kgo.Record{Value: []byte("last")}).FirstErr())
	sameSegments(t, bs, topic)
}

// TestFollowerRestartRejoinsISR: a follower killed with SIGKILL leaves the
// ISR; acks=all producing goes on with two in-sync replicas; restarted, the
// follower catches up and is back in the ISR.
func TestFollowerRestartRejoinsISR(t *testing.T) {
	const topic = "rejoin"
	bs := startReplicated(t, topic)
	ctx := context.Background()
	pd, err := partitionOf(ctx, t, bs[0], topic)
	require.NoError(t, err)
	var follower *clustertest.Broker
	var rest []int32
	for _, b := range bs {
		if b.ID != pd.Leader && follower == nil {
			follower = b
		} else {
			rest = append(rest, b.ID)
		}
	}
	p := startProducer(t, bs, topic)
	p.waitAcked(t, 500)
	follower.Kill()
	waitISR(t, bs, topic, rest...)
	// Restart it only once its registration is gone (its ZooKeeper
	// session expired): a broker refuses to start beside its own id.
	var running []*clustertest.Broker
	for _, b := range bs {
		if b != follower {
			running = append(running, b)
		}
	}
	waitBrokers(t, running, rest...)
	p.waitAcked(t, 1000)
	require.NoError(t, follower.Start())
	follower.WaitListening()
	waitISR(t, bs, topic, 1, 2, 3)
	p.waitAcked(t, 500)
	acked, _ := p.finish()
	checkHistory(t, consumeAll(t, bs, topic), acked)
}

// TestMinInsyncReplicas: with both followers dead the ISR is the leader
// alone; acks=all is refused with NOT_ENOUGH_REPLICAS (nothing appended)
// while acks=1 is accepted. Once the followers are back in the ISR,
// acks=all commits again and the acks=1 record is on every replica's log
// that the new ISR holds.
func TestMinInsyncReplicas(t *testing.T) {
	const topic = "mininsync"
	bs := startReplicated(t, topic)
	ctx := context.Background()
	pd, err := partitionOf(ctx, t, bs[0], topic)
	require.NoError(t, err)
	leader := bs[pd.Leader-1]
	var followers []*clustertest.Broker
	for _, b := range bs {
		if b != leader {
			followers = append(followers, b)
		}
	}
	for _, f := range followers {
		f.Kill()
	}
	waitBrokers(t, []*clustertest.Broker{leader}, leader.ID)
	waitISR(t, bs, topic, leader.ID)

	produce := func(acks int16, v string) int16 { return produceRaw(t, leader, topic, acks, v) }
	assert.Equal(t, kerr.NotEnoughReplicas.Code, produce(-1, "refused"))
	assert.Zero(t, produce(1, "acks1"))

	for _, f := range followers {
		require.NoError(t, f.Start())
		f.WaitListening()
	}
	waitISR(t, bs, topic, 1, 2, 3)
	assert.Zero(t, produce(-1, "acksall"))
	assert.Equal(t, []string{"acks1", "acksall"}, consumeValues(t, bs, topic), "the refused record was never appended")
}

// produceRaw sends one record to partition 0 of topic on broker b (Produce
// v9, not idempotent) and returns the partition's error code.
func produceRaw(t *testing.T, b *clustertest.Broker, topic string, acks int16, v string) int16 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clustertest.Deadline)
	defer cancel()
	raw, err := netclient.Dial(ctx, b.Addr(), "clustertest")
	require.NoError(t, err)
	defer raw.Close()
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = acks, 30000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = record.NewBuilder(0).Add(time.Now().UnixMilli(), nil, []byte(v)).Build()
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	req.SetVersion(9)
	resp, err := raw.RequestVersion(ctx, req)
	require.NoError(t, err)
	return resp.(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode
}

// sameSegments stops every broker of bs and asserts that their segment
// files of partition 0 of topic are byte for byte the same.
func sameSegments(t *testing.T, bs []*clustertest.Broker, topic string) {
	t.Helper()
	segments := map[string][]byte{}
	var names []string
	for i, b := range bs {
		b.Stop()
		files, err := filepath.Glob(filepath.Join(b.Dir, topic+"-0", "*.log"))
		require.NoError(t, err)
		require.NotEmpty(t, files)
		var these []string
		for _, f := range files {
			these = append(these, filepath.Base(f))
		}
		if i == 0 {
			names = these
		}
		assert.Equal(t, names, these, "broker %d: the same segments", b.ID)
		for _, f := range files {
			data, err := os.ReadFile(f)
			require.NoError(t, err)
			name := filepath.Base(f)
			if want, ok := segments[name]; ok {
				assert.True(t, bytes.Equal(want, data), "broker %d: segment %s differs from another replica's (%d vs %d bytes)",
					b.ID, name, len(data), len(want))
			} else {
				segments[name] = data
			}
		}
	}
}

// TestRestartedLeaderTruncatesUnreplicatedTail is KIP-101's first
// scenario on real processes. The followers are paused (SIGSTOP) while the
// leader appends acks=1 records nobody else has; the leader is killed, the
// followers resume and one of them is elected (they are still in the ISR)
// and takes acks=all records. The old leader restarts as a follower: it
// asks the new leader where its epoch ends (OffsetForLeaderEpoch), cuts its
// unreplicated tail there and copies the new leader. (That the cut is
// never at the high watermark is replication's unit tests' subject.) In the end the three replicas' segments are identical, the
// acks=all records are all there and the acks=1 tail is gone (but for what
// a fetch in flight at the pause carried to a follower).
func TestRestartedLeaderTruncatesUnreplicatedTail(t *testing.T) {
	const topic = "tail"
	bs := startReplicated(t, topic)
	ctx := context.Background()
	pd, err := partitionOf(ctx, t, bs[0], topic)
	require.NoError(t, err)
	leader := bs[pd.Leader-1]
	var followers []*clustertest.Broker
	var followerIDs []int32
	for _, b := range bs {
		if b != leader {
			followers = append(followers, b)
			followerIDs = append(followerIDs, b.ID)
		}
	}
	for i := 0; i < 20; i++ {
		require.Zero(t, produceRaw(t, leader, topic, -1, fmt.Sprint("committed-", i)))
	}

	for _, f := range followers {
		f.Pause()
	}
	for i := 0; i < 20; i++ {
		require.Zero(t, produceRaw(t, leader, topic, 1, fmt.Sprint("tail-", i)))
	}
	leader.Kill()
	for _, f := range followers {
		f.Resume()
	}
	var newLeader *clustertest.Broker
	clustertest.Eventually(t, "a follower elected", func(ctx context.Context) error {
		pd, err := partitionOf(ctx, t, followers[0], topic)
		if err != nil {
			return err
		}
		if !slices.Contains(followerIDs, pd.Leader) {
			return fmt.Errorf("leader %d", pd.Leader)
		}
		newLeader = bs[pd.Leader-1]
		return nil
	})
	clustertest.Eventually(t, "acks=all on the new leader", func(context.Context) error {
		if code := produceRaw(t, newLeader, topic, -1, "after-0"); code != 0 {
			return fmt.Errorf("error code %d", code)
		}
		return nil
	})
	for i := 1; i < 20; i++ {
		require.Zero(t, produceRaw(t, newLeader, topic, -1, fmt.Sprint("after-", i)))
	}
	waitBrokers(t, followers, followerIDs...) // the old leader's session is gone
	require.NoError(t, leader.Start())
	leader.WaitListening()
	waitISR(t, bs, topic, 1, 2, 3)
	require.Zero(t, produceRaw(t, newLeader, topic, -1, "last"))
	assert.Contains(t, leader.Log(), "follower truncated by leader epoch", "the old leader cut its tail by epoch")

	// A follower's fetch in flight when it was paused may carry the first
	// tail records: those were replicated and stay. The rest are gone.
	values := consumeValues(t, bs, topic)
	kept := 0
	for _, v := range values {
		if strings.HasPrefix(v, "tail-") {
			kept++
		}
	}
	assert.Less(t, kept, 20, "the unreplicated tail is gone")
	var want []string
	for i := 0; i < 20; i++ {
		want = append(want, fmt.Sprint("committed-", i))
	}
	for i := 0; i < kept; i++ {
		want = append(want, fmt.Sprint("tail-", i))
	}
	for i := 0; i < 20; i++ {
		want = append(want, fmt.Sprint("after-", i))
	}
	assert.Equal(t, append(want, "last"), values, "acks=all records all there, in order")
	sameSegments(t, bs, topic)
}
