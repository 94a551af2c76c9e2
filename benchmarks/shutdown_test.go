package benchmarks

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/coord/zktest"
	"github.com/strom-broker/strom/tools/clustertest"
)

// Controlled shutdown (issue #15): how long producers wait when a leader is
// stopped with SIGTERM, and how long a broker leading a third of 10,000
// partitions takes to hand them over.

// clusterShutdownUnavailability: RF 3, min.insync.replicas=2, one
// partition, an idempotent acks=all producer (franz-go) producing without
// pause. Each trial stops the partition's leader with SIGTERM and takes the
// longest wait between two acknowledgements from just before the signal
// until 2 s after the process exited; the broker is restarted and back in
// the ISR before the next trial. Reports the p50 and max over trials.
func clusterShutdownUnavailability(b *testing.B, ens *zktest.Ensemble, trials int) {
	bs := startBrokers(b, ens, 3, "replica.lag.time.max.ms=3000", "replica.fetch.wait.max.ms=200")
	ctx := context.Background()
	var seeds []string
	for _, br := range bs {
		seeds = append(seeds, br.Addr())
	}
	adm := kadm.NewClient(newClient(b, bs))
	minISR := "2"
	resp, err := adm.CreateTopic(ctx, 1, 3, map[string]*string{"min.insync.replicas": &minISR}, "stop")
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		b.Fatal(err)
	}
	fullISR := func() bool {
		for _, br := range bs {
			md, err := metadataOf(ctx, br)
			if err != nil {
				return false
			}
			pd := md.Topics["stop"].Partitions[0]
			if pd.Leader < 0 || len(pd.ISR) != 3 {
				return false
			}
		}
		return true
	}
	waitFor(b, "ISR of three", fullISR)

	prod, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.DefaultProduceTopic("stop"), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordDeliveryTimeout(time.Minute), kgo.MaxBufferedRecords(200))
	if err != nil {
		b.Fatal(err)
	}
	defer prod.Close()
	var mu sync.Mutex
	var acks []time.Time
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			prod.Produce(ctx, &kgo.Record{Value: []byte("v")}, func(_ *kgo.Record, err error) {
				if err == nil {
					mu.Lock()
					acks = append(acks, time.Now())
					mu.Unlock()
				}
			})
		}
	}()
	defer func() {
		close(stop)
		<-done
		_ = prod.Flush(ctx)
	}()
	acked := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(acks)
	}
	var gaps []time.Duration
	for range trials {
		n := acked()
		waitFor(b, "acknowledgements", func() bool { return acked() >= n+1000 })
		md, err := metadataOf(ctx, bs[0])
		if err != nil {
			b.Fatal(err)
		}
		leader := bs[md.Topics["stop"].Partitions[0].Leader-1]
		signalled := time.Now()
		leader.Stop()
		exited := time.Now()
		waitFor(b, "acknowledgements after the stop", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(acks) > 0 && acks[len(acks)-1].After(exited.Add(2*time.Second))
		})
		mu.Lock()
		var gap, gapAt time.Duration
		for i := 1; i < len(acks); i++ {
			if acks[i].Before(signalled) || acks[i-1].After(exited.Add(2*time.Second)) {
				continue
			}
			if d := acks[i].Sub(acks[i-1]); d > gap {
				gap, gapAt = d, acks[i-1].Sub(signalled)
			}
		}
		mu.Unlock()
		b.Logf("stopped leader %d (controller %d): exited after %s; longest wait %s, from %s after the signal",
			leader.ID, md.Controller, exited.Sub(signalled).Round(time.Millisecond), gap.Round(time.Millisecond), gapAt.Round(time.Millisecond))
		gaps = append(gaps, gap)
		if err := leader.Start(); err != nil {
			b.Fatal(err)
		}
		leader.WaitListening()
		waitFor(b, "ISR of three again", fullISR)
	}
	slices.Sort(gaps)
	b.ReportMetric(gaps[len(gaps)/2].Seconds(), "s_unavailable_p50")
	b.ReportMetric(gaps[len(gaps)-1].Seconds(), "s_unavailable_max")
}

// tookRE finds the duration the broker logs for its controlled shutdown.
var tookRE = regexp.MustCompile(`msg="controlled shutdown succeeded" attempts=(\d+) took=(\S+)`)

// clusterControlledShutdown: four brokers; a broker that is not the
// controller leads led partitions of replication factor 2 (followers
// spread over the other three), and total-led more partitions of
// replication factor 1 sit on the other three (metadata the controller
// reads too). It is stopped with SIGTERM. Reports the controlled shutdown's
// duration as the broker logs it (from the signal's handling to the
// controller's answer that nothing is left and the requests' arrival), the
// time from the signal until the process exited, and until the other
// brokers' Metadata show every partition of "led" led by one of them.
// (One topic of 10,000 partitions at RF 2 or 3 would need more than the
// 20,000 open files a process may have here: three per replica.)
func clusterControlledShutdown(b *testing.B, ens *zktest.Ensemble, led, total int) {
	c := clustertest.NewCluster(b, ens)
	var bs []*clustertest.Broker
	for id := int32(1); id <= 4; id++ {
		bs = append(bs, c.StartBroker(id))
	}
	ctx := context.Background()
	cl, err := kgo.NewClient(kgo.SeedBrokers(bs[0].Addr()), kgo.RequestTimeoutOverhead(5*time.Minute))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	var md kadm.Metadata
	waitFor(b, "four brokers", func() bool {
		md, err = adm.Metadata(ctx)
		return err == nil && len(md.Brokers) == 4 && md.Controller > 0
	})
	victim := bs[0]
	if md.Controller == victim.ID {
		victim = bs[1]
	}
	var others []int32
	for _, br := range bs {
		if br != victim {
			others = append(others, br.ID)
		}
	}
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = int32((5 * time.Minute).Milliseconds())
	for _, spec := range []struct {
		name string
		n    int
		of   func(p int) []int32
	}{
		{"led", led, func(p int) []int32 { return []int32{victim.ID, others[p%3]} }},
		{"rest", total - led, func(p int) []int32 { return []int32{others[p%3]} }},
	} {
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = spec.name, -1, -1
		for p := range spec.n {
			a := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
			a.Partition, a.Replicas = int32(p), spec.of(p)
			rt.ReplicaAssignment = append(rt.ReplicaAssignment, a)
		}
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		b.Fatal(err)
	}
	for _, t := range resp.Topics {
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			b.Fatalf("create %s: %v", t.Topic, err)
		}
	}
	ledBy := func(br *clustertest.Broker, topic string, n int, ok func(int32) bool) func() bool {
		return func() bool {
			l, err := brokerLeaders(ctx, br, topic)
			if err != nil || len(l) != n {
				return false
			}
			for _, id := range l {
				if !ok(id) {
					return false
				}
			}
			return true
		}
	}
	for _, br := range bs {
		waitFor(b, "the victim leads every partition of led, on "+br.Addr(), ledBy(br, "led", led, func(id int32) bool { return id == victim.ID }))
		waitFor(b, "every partition of rest led, on "+br.Addr(), ledBy(br, "rest", total-led, func(id int32) bool { return id >= 0 }))
	}
	signalled := time.Now()
	victim.Stop()
	exited := time.Since(signalled)
	for _, br := range bs {
		if br != victim {
			waitFor(b, "leaders moved, seen by "+br.Addr(), ledBy(br, "led", led, func(id int32) bool { return id >= 0 && id != victim.ID }))
		}
	}
	seen := time.Since(signalled)
	m := tookRE.FindStringSubmatch(victim.Log())
	if m == nil {
		b.Fatalf("no successful controlled shutdown in the log:\n%s", victim.Log())
	}
	took, err := time.ParseDuration(m[2])
	if err != nil {
		b.Fatal(err)
	}
	attempts, _ := strconv.Atoi(m[1])
	b.ReportMetric(took.Seconds(), "s_controlled_shutdown")
	b.ReportMetric(exited.Seconds(), "s_sigterm_to_exit")
	b.ReportMetric(seen.Seconds(), "s_leaders_moved_seen")
	b.ReportMetric(float64(attempts), "attempts")
	fmt.Fprintf(b.Output(), "controlled shutdown of broker %d leading %d of %d partitions: %s\n", victim.ID, led, total, took)
}
