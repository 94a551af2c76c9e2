package benchmarks

// BenchmarkReplication measures leader-follower replication (issue #15) on
// three strom processes and a real 3-node ZooKeeper ensemble, all on this
// machine's loopback. Tracked in make bench, not gated (a round takes a
// few minutes).
//
//   - latency: end-to-end latency (producer's timestamp to the consumer's
//     receipt) at half of the configuration's peak rate, RF 3 acks=all
//     against RF 1 acks=1, with the brokers' CPU per MB produced.
//   - catchup: a follower that missed 1 GiB catches up (from its restart
//     until it is back in the ISR), against the physical path it takes:
//     sendfile of a cached file over loopback into a file written by the
//     receiver, measured in the same run.
//   - unavailability: kill -9 of a partition's leader under an acks=all
//     producer, from the kill until the first record acknowledged after
//     it, over 10 trials (target: the 4 s session timeout + 1 s).

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strom-broker/strom/coord/zktest"
	"github.com/strom-broker/strom/tools/clustertest"
)

func BenchmarkReplication(b *testing.B) {
	ens, err := zktest.Start(zktest.Options{Nodes: 3})
	if err != nil {
		b.Fatal(err)
	}
	defer ens.Close()
	b.Run("latency/partitions=12", func(b *testing.B) {
		for range b.N {
			rf1 := replicationLatency(b, ens, 1, kgo.LeaderAck())
			rf3 := replicationLatency(b, ens, 3, kgo.AllISRAcks())
			b.ReportMetric(rf1.p50.Seconds()*1000, "ms_p50_rf1_acks1")
			b.ReportMetric(rf1.p99.Seconds()*1000, "ms_p99_rf1_acks1")
			b.ReportMetric(rf3.p50.Seconds()*1000, "ms_p50_rf3_acksall")
			b.ReportMetric(rf3.p99.Seconds()*1000, "ms_p99_rf3_acksall")
			b.ReportMetric(rf1.rate, "rec/s_rf1_half_peak")
			b.ReportMetric(rf3.rate, "rec/s_rf3_half_peak")
			b.ReportMetric(rf1.cpuPerMB, "cpu_ms/MB_rf1")
			b.ReportMetric(rf3.cpuPerMB, "cpu_ms/MB_rf3")
			// Each MB produced at RF 3 is copied to two followers.
			b.ReportMetric((rf3.cpuPerMB-rf1.cpuPerMB)/2, "cpu_ms/MB_replicated")
		}
	})
	b.Run("catchup/bytes=1GiB", func(b *testing.B) {
		for range b.N {
			followerCatchUp(b, ens, 1<<30)
		}
	})
	b.Run("unavailability/kill/trials=10", func(b *testing.B) {
		for range b.N {
			killUnavailability(b, ens, 10)
		}
	})
}

// startBrokers starts brokers 1..n of a fresh cluster on ens with extra
// config lines and waits until they all see each other.
func startBrokers(b *testing.B, ens *zktest.Ensemble, n int, extra ...string) []*clustertest.Broker {
	c := clustertest.NewCluster(b, ens)
	var bs []*clustertest.Broker
	for id := int32(1); id <= int32(n); id++ {
		bs = append(bs, c.StartBroker(id, extra...))
	}
	cl := newClient(b, bs)
	waitFor(b, "brokers", func() bool {
		md, err := kadm.NewClient(cl).Metadata(context.Background())
		return err == nil && len(md.Brokers) == n
	})
	return bs
}

// newClient returns a franz-go client seeded with bs, closed when b ends.
func newClient(b *testing.B, bs []*clustertest.Broker, opts ...kgo.Opt) *kgo.Client {
	var addrs []string
	for _, br := range bs {
		addrs = append(addrs, br.Addr())
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addrs...)}, opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(cl.Close)
	return cl
}

// createTopic creates topic with partitions partitions and replication
// factor rf (min.insync.replicas 2 when rf is 3).
func createTopic(b *testing.B, cl *kgo.Client, topic string, partitions int32, rf int16) {
	configs := map[string]*string{}
	if rf == 3 {
		two := "2"
		configs["min.insync.replicas"] = &two
	}
	resp, err := kadm.NewClient(cl).CreateTopic(context.Background(), partitions, rf, configs, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		b.Fatal(err)
	}
}

// cpuTime is the CPU time the processes' threads have run so far (the
// first field of each thread's /proc/<pid>/task/<tid>/schedstat, in ns;
// more precise than /proc/<pid>/stat's clock ticks). Threads that ended
// are not counted: the Go runtime keeps its threads.
func cpuTime(b *testing.B, bs []*clustertest.Broker) time.Duration {
	var total time.Duration
	for _, br := range bs {
		tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", br.Pid()))
		if err != nil || len(tasks) == 0 {
			b.Fatalf("threads of broker %d: %v", br.ID, err)
		}
		for _, task := range tasks {
			data, err := os.ReadFile(task)
			if err != nil {
				continue // the thread ended
			}
			ns, err := strconv.ParseInt(strings.Fields(string(data))[0], 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			total += time.Duration(ns)
		}
	}
	return total
}

type latencyResult struct {
	p50, p99 time.Duration
	rate     float64 // records/s at half of peak
	cpuPerMB float64 // broker CPU ms per MB produced at peak
}

// replicationLatency measures the peak produce rate of 1 KiB records over
// 12 partitions at replication factor rf with acks, then the end-to-end
// latency of records produced at half of that rate for 5 s.
func replicationLatency(b *testing.B, ens *zktest.Ensemble, rf int16, acks kgo.Acks) latencyResult {
	bs := startBrokers(b, ens, 3, "replica.fetch.wait.max.ms=500")
	ctx := context.Background()
	topic := "latency"
	createTopic(b, newClient(b, bs), topic, 12, rf)
	opts := []kgo.Opt{kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(acks), kgo.RecordPartitioner(kgo.RoundRobinPartitioner())}
	if acks != kgo.AllISRAcks() {
		opts = append(opts, kgo.DisableIdempotentWrite())
	}
	prod := newClient(b, bs, opts...)
	value := make([]byte, 1024)
	if _, err := rand.Read(value); err != nil {
		b.Fatal(err)
	}
	produce := func(n int) {
		for range n {
			prod.Produce(ctx, &kgo.Record{Value: value}, nil)
		}
		if err := prod.Flush(ctx); err != nil {
			b.Fatal(err)
		}
	}
	produce(1000) // warm up
	// The consumer starts at the end. The peak is what goes through end
	// to end, produced and consumed at once, as in the latency run.
	cons := newClient(b, bs, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()),
		kgo.FetchMaxWait(100*time.Millisecond))
	cons.PollFetches(pollCtx(ctx, time.Second)) // offsets resolved
	const peakRecords = 200_000
	cpu0, start := cpuTime(b, bs), time.Now()
	consumed := make(chan struct{})
	go func() {
		defer close(consumed)
		deadline := pollCtx(ctx, 2*time.Minute)
		for n := 0; n < peakRecords && deadline.Err() == nil; {
			n += cons.PollFetches(deadline).NumRecords()
		}
	}()
	produce(peakRecords)
	cpu := cpuTime(b, bs) - cpu0
	<-consumed
	peak := peakRecords / time.Since(start).Seconds()
	b.Logf("rf %d: %d records through in %s; brokers' CPU while producing %s", rf, peakRecords, time.Since(start), cpu)
	res := latencyResult{rate: peak / 2, cpuPerMB: float64(cpu.Milliseconds()) / (peakRecords * 1024 / 1e6)}

	// Records produced at half of the peak, every millisecond a share,
	// for 5 s; each carries its production time as the record timestamp.
	const span = 5 * time.Second
	total := int(res.rate * span.Seconds())
	var lat []time.Duration
	done := make(chan struct{})
	go func() {
		defer close(done)
		deadline := pollCtx(ctx, 2*time.Minute)
		for len(lat) < total && deadline.Err() == nil {
			fs := cons.PollFetches(deadline)
			now := time.Now()
			fs.EachRecord(func(r *kgo.Record) { lat = append(lat, now.Sub(r.Timestamp)) })
		}
	}()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	t0 := time.Now()
	for sent := 0; sent < total; {
		<-tick.C
		due := min(total, int(time.Since(t0).Seconds()*res.rate))
		for ; sent < due; sent++ {
			prod.Produce(ctx, &kgo.Record{Value: value, Timestamp: time.Now()}, nil)
		}
	}
	if err := prod.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	<-done
	if len(lat) < total {
		b.Fatalf("consumed %d of %d records", len(lat), total)
	}
	slices.Sort(lat)
	res.p50, res.p99 = lat[len(lat)/2], lat[len(lat)*99/100]
	return res
}

// pollCtx is ctx with a timeout whose cancel is left to the timer.
func pollCtx(ctx context.Context, d time.Duration) context.Context {
	c, cancel := context.WithTimeout(ctx, d)
	time.AfterFunc(d, cancel)
	return c
}

// followerCatchUp stops the follower of a 1-partition RF 2 topic, writes
// size bytes to the leader (acks=1), restarts the follower and measures
// the time until it is back in the ISR; then the physical path alone.
func followerCatchUp(b *testing.B, ens *zktest.Ensemble, size int) {
	bs := startBrokers(b, ens, 2, "replica.lag.time.max.ms=3000", "replica.fetch.max.bytes=8388608")
	ctx := context.Background()
	admCl := newClient(b, bs)
	createTopic(b, admCl, "catchup", 1, 2)
	isr := func() []int32 {
		md, err := kadm.NewClient(admCl).Metadata(ctx, "catchup")
		if err != nil {
			return nil
		}
		return md.Topics["catchup"].Partitions[0].ISR
	}
	waitFor(b, "ISR of two", func() bool { return len(isr()) == 2 })
	md, err := kadm.NewClient(admCl).Metadata(ctx, "catchup")
	if err != nil {
		b.Fatal(err)
	}
	leader := md.Topics["catchup"].Partitions[0].Leader
	follower := bs[0]
	if follower.ID == leader {
		follower = bs[1]
	}
	follower.Kill()
	waitFor(b, "ISR of one", func() bool { return len(isr()) == 1 })

	prod := newClient(b, bs, kgo.DefaultProduceTopic("catchup"), kgo.RequiredAcks(kgo.LeaderAck()),
		kgo.DisableIdempotentWrite(), kgo.ProducerBatchMaxBytes(1<<20), kgo.ProducerBatchCompression(kgo.NoCompression()))
	value := make([]byte, 100<<10)
	if _, err := rand.Read(value); err != nil {
		b.Fatal(err)
	}
	for range size / len(value) {
		prod.Produce(ctx, &kgo.Record{Value: value}, nil)
	}
	if err := prod.Flush(ctx); err != nil {
		b.Fatal(err)
	}

	syscall.Sync() // both timed phases start with no dirty pages
	start := time.Now()
	if err := follower.Start(); err != nil {
		b.Fatal(err)
	}
	waitFor(b, "the follower back in the ISR", func() bool { return len(isr()) == 2 })
	catchUp := time.Since(start)
	raw := sendfileStore(b, b.TempDir(), int64(size))
	b.ReportMetric(catchUp.Seconds(), "s_catchup")
	b.ReportMetric(float64(size)/catchUp.Seconds()/1e9, "GB/s_catchup")
	b.ReportMetric(float64(size)/raw.Seconds()/1e9, "GB/s_raw")
	b.ReportMetric(raw.Seconds()/catchUp.Seconds(), "x_raw")
}

// sendfileStore is a follower's catch-up path with nothing else: a file
// of size bytes, in the page cache, is sent with sendfile over a loopback
// socket to a receiver that writes it to a new file. It returns the time
// from the first byte sent to the last written.
func sendfileStore(b *testing.B, dir string, size int64) time.Duration {
	src, err := os.Create(filepath.Join(dir, "leader"))
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	chunk := make([]byte, 1<<20)
	if _, err := rand.Read(chunk); err != nil {
		b.Fatal(err)
	}
	for off := int64(0); off < size; off += int64(len(chunk)) {
		if _, err := src.Write(chunk); err != nil {
			b.Fatal(err)
		}
	}
	syscall.Sync() // as before the catch-up: no dirty pages to wait for
	dst, err := os.Create(filepath.Join(dir, "follower"))
	if err != nil {
		b.Fatal(err)
	}
	defer dst.Close()
	out, in := loopbackPair(b)
	rc, err := out.SyscallConn()
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	var werr error
	t0 := time.Now()
	wg.Go(func() {
		buf := make([]byte, 1<<20)
		for off := int64(0); off < size; {
			n, err := io.ReadFull(in, buf[:min(int64(len(buf)), size-off)])
			if err != nil {
				werr = err
				return
			}
			if _, err := dst.WriteAt(buf[:n], off); err != nil {
				werr = err
				return
			}
			off += int64(n)
		}
	})
	if err := sendfileAll(rc, src, 0, size); err != nil {
		b.Fatal(err)
	}
	wg.Wait()
	if werr != nil {
		b.Fatal(werr)
	}
	return time.Since(t0)
}

// killUnavailability kills the leader of a 1-partition RF 3 topic
// (min.insync.replicas 2) under an acks=all idempotent producer sending a
// record every millisecond, trials times (restarting it and waiting for a
// full ISR in between), and reports the time from each kill until the
// first record acknowledged after it.
func killUnavailability(b *testing.B, ens *zktest.Ensemble, trials int) {
	bs := startBrokers(b, ens, 3, "replica.lag.time.max.ms=3000", "replica.fetch.wait.max.ms=200")
	ctx := context.Background()
	admCl := newClient(b, bs, kgo.MetadataMinAge(10*time.Millisecond))
	createTopic(b, admCl, "avail", 1, 3)
	partition := func() kadm.PartitionDetail {
		md, err := kadm.NewClient(admCl).Metadata(ctx, "avail")
		if err != nil {
			return kadm.PartitionDetail{Leader: -1}
		}
		return md.Topics["avail"].Partitions[0]
	}
	// franz-go refreshes metadata at most every 5 s by default
	// (MetadataMinAge): a kill just after a refresh would be measured as
	// the client's wait, not the cluster's.
	prod := newClient(b, bs, kgo.DefaultProduceTopic("avail"), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordDeliveryTimeout(time.Minute), kgo.RetryBackoffFn(func(int) time.Duration { return 10 * time.Millisecond }),
		kgo.MetadataMinAge(100*time.Millisecond))
	var (
		mu   sync.Mutex
		acks []time.Time // acknowledgement times, in order
		errs []error
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			prod.Produce(ctx, &kgo.Record{Value: []byte("v")}, func(_ *kgo.Record, err error) {
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err)
					return
				}
				acks = append(acks, time.Now())
			})
		}
	})
	var gaps []time.Duration
	for range trials {
		waitFor(b, "a full ISR", func() bool { p := partition(); return p.Leader >= 0 && len(p.ISR) == 3 })
		leader := partition().Leader
		md, err := kadm.NewClient(admCl).Metadata(ctx)
		if err != nil {
			b.Fatal(err)
		}
		wasController := md.Controller == leader
		killed := time.Now()
		bs[leader-1].Kill()
		dead := time.Now() // the process is gone: later acknowledgements come from the new leader
		var after time.Time
		waitFor(b, "an acknowledgement after the kill", func() bool {
			mu.Lock()
			defer mu.Unlock()
			if len(acks) > 0 && acks[len(acks)-1].After(dead) {
				i, _ := slices.BinarySearchFunc(acks, dead, func(t, k time.Time) int { return t.Compare(k) })
				after = acks[i]
				return true
			}
			return false
		})
		gaps = append(gaps, after.Sub(killed))
		b.Logf("trial %d: leader %d (controller: %v) killed; first acknowledgement %s later", len(gaps), leader, wasController,
			after.Sub(killed).Round(time.Millisecond))
		if err := bs[leader-1].Start(); err != nil {
			b.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	if err := prod.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(errs) > 0 {
		b.Fatalf("%d records failed, first: %v", len(errs), errs[0])
	}
	slices.Sort(gaps)
	b.Logf("unavailability per trial: %v", gaps)
	b.ReportMetric(gaps[len(gaps)/2].Seconds(), "s_p50")
	b.ReportMetric(gaps[len(gaps)-1].Seconds(), "s_max")
	b.ReportMetric((gaps[len(gaps)-1] - clustertest.SessionTimeoutMs*time.Millisecond).Seconds(), "s_max_after_session")
}
