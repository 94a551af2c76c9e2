package clustertest_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strom-broker/strom/tools/clustertest"
	"github.com/strom-broker/strom/tools/faultbed/lazyfs"
)

// crashTrial is one run of "every broker's machine crashes at once right
// after acknowledgements": 3 brokers, RF 3, min.insync.replicas=2, an
// idempotent acks=all producer; after at least minAcked acknowledgements
// every broker is killed with SIGKILL at the same moment and, with
// machine set, each log dir (a lazyfs mount) then loses every write its
// broker had not fsynced. The brokers restart on what is left; the trial
// returns the acknowledged records and the partition's records read back
// after recovery.
type crashTrial struct {
	durable  bool // durable.acks.enable on the topic
	machine  bool // lazyfs log dirs, crashed after the kill
	minAcked int
}

type crashResult struct {
	acked    map[int]bool
	log      []int
	reverted int // files the machine crash reverted
}

func (ct crashTrial) run(t *testing.T, topic string) crashResult {
	t.Helper()
	c := clustertest.NewCluster(t, ens)
	c.LazyFS = ct.machine
	var bs []*clustertest.Broker
	for id := int32(1); id <= 3; id++ {
		bs = append(bs, c.NewBroker(id, replicatedConfig...))
	}
	for _, b := range bs {
		require.NoError(t, b.Start())
	}
	for _, b := range bs {
		b.WaitListening()
	}
	waitBrokers(t, bs, 1, 2, 3)
	minISR, durable := "2", strconv.FormatBool(ct.durable)
	resp, err := kadm.NewClient(client(t, addrs(bs...))).CreateTopic(context.Background(), 1, 3,
		map[string]*string{"min.insync.replicas": &minISR, "durable.acks.enable": &durable}, topic)
	require.NoError(t, err)
	require.NoError(t, resp.Err)
	waitISR(t, bs, topic, 1, 2, 3)

	p := startProducer(t, bs, topic)
	p.waitAcked(t, ct.minAcked)
	var res crashResult
	if ct.machine {
		res.reverted, err = clustertest.CrashMachines(bs...)
		require.NoError(t, err)
	} else {
		clustertest.KillAll(bs...)
	}
	// Every acknowledgement the producer has now was sent before the
	// kill: the brokers are gone.
	p.cl.Close()
	res.acked, _ = p.finish()

	waitSessionsExpired(t, c)
	for _, b := range bs {
		require.NoError(t, b.Start())
	}
	for _, b := range bs {
		b.WaitListening()
	}
	waitBrokers(t, bs, 1, 2, 3)
	clustertest.Eventually(t, "a leader for "+topic, func(ctx context.Context) error {
		pd, err := partitionOf(ctx, t, bs[0], topic)
		if err != nil {
			return err
		}
		if pd.Leader < 0 {
			return fmt.Errorf("no leader")
		}
		return nil
	})
	// A new leader's high watermark starts where its checkpoint left it
	// and passes the log end only once its followers fetch again: one
	// more acks=all record, once acknowledged, puts every record before
	// it below the high watermark, where consumeAll reads. (Its value
	// is above every producer value, so the order check holds.)
	sentinel := client(t, addrs(bs...), kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordDeliveryTimeout(clustertest.Deadline))
	ctx, cancel := context.WithTimeout(context.Background(), clustertest.Deadline)
	defer cancel()
	require.NoError(t, sentinel.ProduceSync(ctx, &kgo.Record{Value: []byte(strconv.Itoa(math.MaxInt32))}).FirstErr())
	res.log = consumeAll(t, bs, topic)
	return res
}

// waitSessionsExpired waits until the killed brokers' ZooKeeper sessions
// are gone (their registrations deleted), so that the restarted brokers
// can register again.
func waitSessionsExpired(t *testing.T, c *clustertest.Cluster) {
	t.Helper()
	zkc := plainZK(t, c.Connect)
	clustertest.Eventually(t, "the killed brokers' sessions expire", func(context.Context) error {
		ids, _, err := zkc.Children(zkc.root + "/brokers/ids")
		if err != nil {
			return err
		}
		if len(ids) > 0 {
			return fmt.Errorf("still registered: %v", ids)
		}
		return nil
	})
}

// lost counts the acknowledged records missing from log.
func lost(log []int, acked map[int]bool) int {
	seen := map[int]bool{}
	for _, v := range log {
		seen[v] = true
	}
	n := 0
	for v := range acked {
		if !seen[v] {
			n++
		}
	}
	return n
}

// TestDurableAcksSurviveKillAll: with durable acks, SIGKILL of every
// broker at once right after acknowledgements, then a restart, loses
// nothing acknowledged (the page cache survives a kill, so this half runs
// everywhere, FUSE or not).
func TestDurableAcksSurviveKillAll(t *testing.T) {
	res := crashTrial{durable: true, minAcked: 3000}.run(t, "durable-kill")
	t.Logf("%d acknowledged, %d records after the restart", len(res.acked), len(res.log))
	checkHistory(t, res.log, res.acked)
}

// TestDurableAcksSurviveMachineCrash: with durable acks, every broker's
// machine crashes at once right after acknowledgements (kill -9, then
// every write not fsynced dropped from its log dir, a lazyfs mount), the
// brokers restart on what their disks kept, and every acknowledged record
// is there, exactly once and in order.
func TestDurableAcksSurviveMachineCrash(t *testing.T) {
	if err := lazyfs.Available(); err != nil {
		t.Skipf("skipping the machine crash: %v", err)
	}
	res := crashTrial{durable: true, machine: true, minAcked: 3000}.run(t, "durable-crash")
	t.Logf("%d acknowledged, %d records after the crash, %d files reverted", len(res.acked), len(res.log), res.reverted)
	checkHistory(t, res.log, res.acked)
}

// TestDefaultAcksMachineCrash measures what Kafka's default (no fsync)
// loses when every replica's machine crashes at once: opt-in, as it is a
// measurement, not a pass/fail test (STROM_MACHINE_CRASH_TRIALS=n, `make
// machine-crash`). Each trial logs the acknowledged records lost.
func TestDefaultAcksMachineCrash(t *testing.T) {
	trials, _ := strconv.Atoi(os.Getenv("STROM_MACHINE_CRASH_TRIALS"))
	if trials <= 0 {
		t.Skip("a measurement: set STROM_MACHINE_CRASH_TRIALS=n (make machine-crash)")
	}
	if err := lazyfs.Available(); err != nil {
		t.Skipf("skipping the machine crash: %v", err)
	}
	for _, durable := range []bool{false, true} {
		for i := range trials {
			t.Run(fmt.Sprintf("durable=%v/%d", durable, i), func(t *testing.T) {
				start := time.Now()
				res := crashTrial{durable: durable, machine: true, minAcked: 3000}.run(t, "crash")
				n := lost(res.log, res.acked)
				t.Logf("MACHINE-CRASH durable=%v trial=%d acked=%d lost=%d kept=%d reverted_files=%d (%.1fs)",
					durable, i, len(res.acked), n, len(res.log), res.reverted, time.Since(start).Seconds())
				if durable {
					assert.Zero(t, n, "durable acks lost acknowledged records")
				}
			})
		}
	}
}
