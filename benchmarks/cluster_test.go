package benchmarks

// BenchmarkCluster measures a ZooKeeper-coordinated cluster: three strom
// processes (tools/clustertest) on a real 3-node ZooKeeper ensemble
// (coord/zktest), all on loopback. It is part of the tracked suite
// (make bench), not of the CI gate: one round takes about a minute.
//
// Anchor (issue #14): Kafka 1.1 brought the controlled shutdown of a
// broker with 10,000 partitions from 6.5 minutes to 3 seconds (Confluent,
// 2018); Kafka's guidance is at most 4,000 partitions per broker.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strom-broker/strom/coord/zktest"
	"github.com/strom-broker/strom/tools/clustertest"
)

func BenchmarkCluster(b *testing.B) {
	ens, err := zktest.Start(zktest.Options{Nodes: 3})
	if err != nil {
		b.Fatal(err)
	}
	defer ens.Close()
	b.Run("partitions=10000", func(b *testing.B) {
		for range b.N {
			clusterLeadership(b, ens, 10000)
		}
	})
	b.Run("produce/partitions=1000", func(b *testing.B) {
		for range b.N {
			one := clusterProduce(b, ens, 1, 1000, 1, kgo.LeaderAck())
			three := clusterProduce(b, ens, 3, 1000, 1, kgo.LeaderAck())
			b.ReportMetric(one, "rec/s_1broker")
			b.ReportMetric(three, "rec/s_3brokers")
			b.ReportMetric(three/one, "x_1broker")
		}
	})
	// Controlled shutdown (shutdown_test.go; issue #15's targets: <= 1 s
	// of unavailability after SIGTERM of a leader, p50 and max over 10
	// trials; Kafka 1.1: 3 s for 10,000 partitions).
	b.Run("shutdown/unavailability/trials=10", func(b *testing.B) {
		for range b.N {
			clusterShutdownUnavailability(b, ens, 10)
		}
	})
	b.Run("shutdown/partitions=10000/led=3334", func(b *testing.B) {
		for range b.N {
			clusterControlledShutdown(b, ens, 3334, 10000)
		}
	})
	// Replication's cost with one client (issue #15's target: RF 3
	// acks=all >= 0.8x RF 1 acks=1): 12 partitions on 3 brokers.
	b.Run("produce/replication/partitions=12", func(b *testing.B) {
		for range b.N {
			rf1 := clusterProduce(b, ens, 3, 12, 1, kgo.LeaderAck())
			rf3 := clusterProduce(b, ens, 3, 12, 3, kgo.AllISRAcks())
			b.ReportMetric(rf1, "rec/s_rf1_acks1")
			b.ReportMetric(rf3, "rec/s_rf3_acksall")
			b.ReportMetric(rf3/rf1, "x_rf1")
		}
	})
	// Durable acks (durable.acks.enable: the high watermark waits for an
	// fsync on every ISR member) against Kafka's default acks=all, RF 3,
	// same client and topic shape.
	b.Run("produce/durable/partitions=12", func(b *testing.B) {
		on := "true"
		for range b.N {
			def := clusterProduce(b, ens, 3, 12, 3, kgo.AllISRAcks())
			dur := clusterProduceConfig(b, ens, 3, 12, 3, kgo.AllISRAcks(), map[string]*string{"durable.acks.enable": &on})
			b.ReportMetric(def, "rec/s_acksall")
			b.ReportMetric(dur, "rec/s_durable")
			b.ReportMetric(dur/def, "x_acksall")
		}
	})
}

// clusterLeadership creates a topic of n partitions (RF 1) on three
// brokers and measures the time until every broker's Metadata shows a
// leader for each; then kills the controller (kill -9) and measures the
// time until a new controller is elected and every live broker's Metadata
// shows the dead broker's partitions without a leader and the others
// unchanged. It reports ZooKeeper's request counts for both.
func clusterLeadership(b *testing.B, ens *zktest.Ensemble, n int) {
	bs := startBrokers(b, ens, 3)
	ctx := context.Background()
	adm := kadm.NewClient(newClient(b, bs[:1], kgo.RequestTimeoutOverhead(5*time.Minute)))
	adm.SetTimeoutMillis(int32((5 * time.Minute).Milliseconds()))

	zk0 := zkPackets(b, ens)
	start := time.Now()
	resp, err := adm.CreateTopic(ctx, int32(n), 1, nil, "many")
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		b.Fatalf("create %d partitions: %v", n, err)
	}
	leaders := map[int32]int32{}
	for _, br := range bs {
		waitFor(b, "every partition led, on "+br.Addr(), func() bool {
			l, err := brokerLeaders(ctx, br, "many")
			if err != nil || len(l) != n {
				return false
			}
			for _, id := range l {
				if id < 0 {
					return false
				}
			}
			leaders = l
			return true
		})
	}
	created := time.Since(start)
	b.ReportMetric(created.Seconds(), "s_create")
	b.ReportMetric(float64(zkPackets(b, ens)-zk0)/float64(n), "zk_req/partition_create")

	md, err := adm.Metadata(ctx)
	if err != nil {
		b.Fatal(err)
	}
	dead := md.Controller
	moved := 0
	for _, id := range leaders {
		if id == dead {
			moved++
		}
	}
	zk1 := zkPackets(b, ens)
	killed := time.Now()
	bs[dead-1].Kill()
	// Each surviving broker is polled by its own goroutine, so that one
	// broker's slow answer does not delay seeing the other's.
	var (
		wg    sync.WaitGroup
		views = make([]failoverView, len(bs))
	)
	for i, br := range bs {
		if br == bs[dead-1] {
			continue
		}
		wg.Go(func() {
			views[i] = watchFailover(ctx, br, "many", dead, leaders)
		})
	}
	wg.Wait()
	var elected, failover time.Time
	var propagation []time.Duration
	for _, v := range views {
		if v.err != nil {
			b.Fatal(v.err)
		}
		if v.seen == nil {
			continue
		}
		if elected.IsZero() || v.elected.Before(elected) {
			elected = v.elected
		}
		failover = maxTime(failover, v.done)
	}
	for _, v := range views {
		for _, t := range v.seen {
			propagation = append(propagation, t.Sub(elected))
		}
	}
	slices.Sort(propagation)
	for _, br := range bs {
		for line := range strings.Lines(br.Log()) {
			if strings.Contains(line, "controller fail-over") || strings.Contains(line, "became controller") {
				b.Log(strings.TrimSpace(line))
			}
		}
	}
	b.Logf("killed at %s; first new controller seen %s later", killed.Format("15:04:05.000"), elected.Sub(killed).Round(time.Millisecond))
	b.ReportMetric(failover.Sub(killed).Seconds(), "s_failover")
	b.ReportMetric((failover.Sub(killed) - clustertest.SessionTimeoutMs*time.Millisecond).Seconds(), "s_failover_after_session")
	b.ReportMetric(failover.Sub(elected).Seconds(), "s_metadata_after_election")
	b.ReportMetric(propagation[len(propagation)/2].Seconds(), "s_propagation_p50")
	b.ReportMetric(propagation[len(propagation)*99/100].Seconds(), "s_propagation_p99")
	b.ReportMetric(float64(moved), "partitions_moved")
	b.ReportMetric(float64(zkPackets(b, ens)-zk1)/float64(max(moved, 1)), "zk_req/leader_change")
}

// failoverView is what one surviving broker's Metadata showed during a
// fail-over: when it first named a new controller, when it first showed
// each moved partition's new state, and when it showed all of them.
type failoverView struct {
	elected time.Time
	seen    map[int32]time.Time // partition -> first answer with its new leader
	done    time.Time
	err     error
}

// watchFailover polls br's Metadata for topic (one request per round)
// until it names a controller other than dead and shows every partition
// led by dead without a leader and the others unchanged. Each moved
// partition's first sighting is recorded: the metadata propagation delay.
func watchFailover(ctx context.Context, br *clustertest.Broker, topic string, dead int32, before map[int32]int32) failoverView {
	v := failoverView{seen: map[int32]time.Time{}}
	cl, err := kgo.NewClient(kgo.SeedBrokers(br.Addr()), kgo.MetadataMinAge(10*time.Millisecond))
	if err != nil {
		return failoverView{err: err}
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	deadline := time.Now().Add(10 * time.Minute)
	for time.Now().Before(deadline) {
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		md, err := adm.Metadata(rctx, topic)
		cancel()
		now := time.Now()
		if err != nil || md.Controller < 0 || md.Controller == dead {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if v.elected.IsZero() {
			v.elected = now
		}
		td := md.Topics[topic]
		same := len(td.Partitions) == len(before)
		for p, pd := range td.Partitions {
			want := before[p]
			if want == dead {
				want = -1
			}
			if pd.Leader != want {
				same = false
				continue
			}
			if _, ok := v.seen[p]; !ok && before[p] == dead {
				v.seen[p] = now
			}
		}
		if same {
			v.done = now
			return v
		}
	}
	return failoverView{err: fmt.Errorf("fail-over not seen by %s within 10 minutes", br.Addr())}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// clusterProduce produces 100-byte records with acks to a topic of
// partitions partitions and replication factor rf spread over brokers
// brokers, and returns records per second.
func clusterProduce(b *testing.B, ens *zktest.Ensemble, brokers, partitions int, rf int16, acks kgo.Acks) float64 {
	return clusterProduceConfig(b, ens, brokers, partitions, rf, acks, nil)
}

// clusterProduceConfig is clusterProduce to a topic created with configs.
func clusterProduceConfig(b *testing.B, ens *zktest.Ensemble, brokers, partitions int, rf int16, acks kgo.Acks, configs map[string]*string) float64 {
	bs := startBrokers(b, ens, brokers)
	var addrs []string
	for _, br := range bs {
		addrs = append(addrs, br.Addr())
	}
	ctx := context.Background()
	resp, err := kadm.NewClient(newClient(b, bs)).CreateTopic(ctx, int32(partitions), rf, configs, "spread")
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		b.Fatal(err)
	}
	opts := []kgo.Opt{kgo.SeedBrokers(addrs...), kgo.DefaultProduceTopic("spread"), kgo.RequiredAcks(acks),
		kgo.ProducerLinger(5 * time.Millisecond), kgo.RecordPartitioner(kgo.RoundRobinPartitioner())}
	if acks != kgo.AllISRAcks() {
		opts = append(opts, kgo.DisableIdempotentWrite()) // franz-go's idempotence needs acks=all
	}
	prod, err := kgo.NewClient(opts...)
	if err != nil {
		b.Fatal(err)
	}
	defer prod.Close()
	const records = 400_000
	value := bytes.Repeat([]byte("x"), 100)
	// Warm up: metadata and one batch per partition.
	for p := 0; p < partitions; p++ {
		prod.Produce(ctx, &kgo.Record{Value: value}, nil)
	}
	if err := prod.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	errs := make(chan error, 1)
	for range records {
		prod.Produce(ctx, &kgo.Record{Value: value}, func(_ *kgo.Record, err error) {
			if err != nil {
				select {
				case errs <- err:
				default:
				}
			}
		})
	}
	if err := prod.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
	return records / time.Since(start).Seconds()
}

// metadataOf asks broker br alone for the cluster metadata.
func metadataOf(ctx context.Context, br *clustertest.Broker) (kadm.Metadata, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(br.Addr()))
	if err != nil {
		return kadm.Metadata{}, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return kadm.NewClient(cl).Metadata(ctx)
}

// brokerLeaders returns each partition's leader of topic as br reports it.
func brokerLeaders(ctx context.Context, br *clustertest.Broker, topic string) (map[int32]int32, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(br.Addr()))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	md, err := kadm.NewClient(cl).Metadata(ctx, topic)
	if err != nil {
		return nil, err
	}
	td, ok := md.Topics[topic]
	if !ok || td.Err != nil {
		return nil, fmt.Errorf("topic %s: %v", topic, td.Err)
	}
	out := make(map[int32]int32, len(td.Partitions))
	for p, pd := range td.Partitions {
		out[p] = pd.Leader
	}
	return out, nil
}

// zkPackets is the ensemble's total of requests received (mntr's
// zk_packets_received, summed over the nodes).
func zkPackets(b *testing.B, ens *zktest.Ensemble) int64 {
	var total int64
	for _, n := range ens.Nodes() {
		out, err := n.FourLetter(context.Background(), "mntr")
		if err != nil {
			b.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "zk_packets_received\t"); ok {
				n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				total += n
			}
		}
	}
	return total
}

// waitFor polls cond every 50 ms for up to 10 minutes (a hang guard).
func waitFor(b *testing.B, what string, cond func() bool) {
	b.Helper()
	deadline := time.Now().Add(10 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			b.Fatalf("%s: not reached", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
