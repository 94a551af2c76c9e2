package benchmarks

// The systems under test: Strom (a real broker started in-process on
// loopback, data in a temp dir) and franz-go's kfake (in-memory Kafka, in
// the same process), both reached by the same franz-go client over
// loopback TCP.

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strom-broker/strom/tools/broker/brokertest"
)

// opTimeout bounds one produce or consume round, so a hung broker fails
// the benchmark instead of the whole run.
const opTimeout = 5 * time.Minute

// system is one broker under test.
type system struct {
	name string // "strom" or "kfake": the metric prefix
	addr string // bootstrap address
	adm  *kadm.Client
	tb   testing.TB
}

// startStrom starts a Strom broker for tb with the given config overrides.
func startStrom(tb testing.TB, overrides ...string) (*system, *brokertest.Broker) {
	tb.Helper()
	br := brokertest.Start(tb, overrides...)
	return newSystem(tb, "strom", br.Addr()), br
}

// startKfake starts a one-broker kfake cluster for tb.
func startKfake(tb testing.TB) *system {
	tb.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(c.Close)
	return newSystem(tb, "kfake", strings.Join(c.ListenAddrs(), ","))
}

func newSystem(tb testing.TB, name, addr string) *system {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(cl.Close)
	return &system{name: name, addr: addr, adm: kadm.NewClient(cl), tb: tb}
}

// both returns Strom and kfake, each started for tb.
func both(tb testing.TB) []*system {
	s, _ := startStrom(tb)
	return []*system{s, startKfake(tb)}
}

// client returns a franz-go client of the system, closed when tb ends.
func (s *system) client(opts ...kgo.Opt) *kgo.Client {
	s.tb.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(s.addr)}, opts...)...)
	if err != nil {
		s.tb.Fatal(err)
	}
	s.tb.Cleanup(cl.Close)
	return cl
}

// createTopic creates topic with the given partition count and returns
// how long the CreateTopics call took.
func (s *system) createTopic(topic string, partitions int) time.Duration {
	s.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	t0 := time.Now()
	resp, err := s.adm.CreateTopic(ctx, int32(partitions), 1, nil, topic)
	d := time.Since(t0)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		s.tb.Fatalf("%s: create topic %s: %v", s.name, topic, err)
	}
	return d
}

// deleteTopic deletes topic (to free kfake's memory and Strom's disk).
func (s *system) deleteTopic(topic string) {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	if _, err := s.adm.DeleteTopic(ctx, topic); err != nil {
		s.tb.Logf("%s: delete topic %s: %v", s.name, topic, err)
	}
}

// producerOpts are the producer settings every end-to-end benchmark uses:
// linger 1 ms, no compression (franz-go's default is snappy, which would
// measure the codec instead of the broker's byte path) and the given acks;
// idempotence stays on (franz-go's default) with acks=all, and is off with
// acks=1 because franz-go refuses idempotence without acks=all.
func producerOpts(acksAll bool) []kgo.Opt {
	opts := []kgo.Opt{kgo.ProducerLinger(time.Millisecond), kgo.ProducerBatchCompression(kgo.NoCompression())}
	if acksAll {
		return append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	}
	return append(opts, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
}

// produce sends n records of value to topic through cl and waits until
// all are acknowledged; it returns the elapsed time.
func produce(tb testing.TB, cl *kgo.Client, topic string, n int, value []byte) time.Duration {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	var failed atomic.Pointer[error]
	done := func(_ *kgo.Record, err error) {
		if err != nil {
			failed.CompareAndSwap(nil, &err)
		}
	}
	t0 := time.Now()
	for range n {
		cl.Produce(ctx, &kgo.Record{Topic: topic, Value: value}, done)
	}
	if err := cl.Flush(ctx); err != nil {
		tb.Fatalf("flush: %v", err)
	}
	d := time.Since(t0)
	if err := failed.Load(); err != nil {
		tb.Fatalf("produce: %v", *err)
	}
	return d
}

// consumer returns a client reading every partition of topic from the
// start, without a group.
func (s *system) consumer(topic string, extra ...kgo.Opt) *kgo.Client {
	return s.client(append([]kgo.Opt{
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(100 * time.Millisecond),
	}, extra...)...)
}

// consume polls cl until n records arrived and returns the elapsed time
// and the record bytes seen; each record is also passed to each (if not
// nil) as it arrives.
func consume(tb testing.TB, cl *kgo.Client, n int, each func(*kgo.Record)) (time.Duration, int64) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	t0 := time.Now()
	got, bytes := 0, int64(0)
	for got < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			tb.Fatalf("consume: %d of %d records: %v", got, n, err)
		}
		fs.EachError(func(t string, p int32, err error) {
			tb.Fatalf("consume %s/%d: %v", t, p, err)
		})
		fs.EachRecord(func(r *kgo.Record) {
			got++
			bytes += int64(len(r.Value))
			if each != nil {
				each(r)
			}
		})
	}
	return time.Since(t0), bytes
}

// rounds runs one round per system for b.N iterations, alternating which
// system goes first, and sums each system's returned durations.
func rounds(b *testing.B, systems []*system, round func(i int, s *system) time.Duration) map[string]time.Duration {
	total := map[string]time.Duration{}
	for i := range b.N {
		for j := range systems {
			s := systems[(i+j)%len(systems)]
			total[s.name] += round(i, s)
		}
	}
	return total
}

// reportVsKfake reports per-system rates (units per second of work, named
// "<system>_<unit>") and x_kfake = Strom's rate / kfake's.
func reportVsKfake(b *testing.B, work float64, unit string, d map[string]time.Duration) {
	for _, name := range []string{"strom", "kfake"} {
		b.ReportMetric(work/d[name].Seconds(), name+"_"+unit)
	}
	b.ReportMetric(d["kfake"].Seconds()/d["strom"].Seconds(), "x_kfake")
}

// randomValue returns size incompressible bytes (a fixed seed, so every
// run sends the same records).
func randomValue(size int) []byte {
	v := make([]byte, size)
	var seed [32]byte
	binary.LittleEndian.PutUint64(seed[:], uint64(size))
	rand.NewChaCha8(seed).Read(v)
	return v
}

// topicName returns a unique topic name for round i of system s.
func topicName(prefix string, i int) string { return fmt.Sprintf("%s-%d", prefix, i) }

// wg runs f in a goroutine tracked by g.
func goTracked(g *sync.WaitGroup, f func()) {
	g.Add(1)
	go func() { defer g.Done(); f() }()
}
