package benchmarks

// End-to-end benchmarks through a Strom broker and, with the same client,
// records and machine, through kfake. One benchmark iteration is one round
// per system (order alternating); ns/op therefore counts both systems and
// the metrics to read are "<system>_<unit>" and the ratio "x_kfake"
// (Strom / kfake; above 1 Strom is faster).

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// recordsPerRound is how many records one round produces or consumes per
// system: about a quarter to one second of work on a loaded 2-core VM.
func recordsPerRound(size int) int {
	if size >= 1<<10 {
		return 100_000
	}
	return 300_000
}

// BenchmarkProduce: records/s acknowledged, franz-go producer (linger
// 1 ms) into a topic of 1 or 6 partitions.
func BenchmarkProduce(b *testing.B) {
	for _, size := range []int{100, 1 << 10} {
		for _, acks := range []string{"1", "all"} {
			for _, parts := range []int{1, 6} {
				name := fmt.Sprintf("record=%s/acks=%s/partitions=%d", sizeName(size), acks, parts)
				b.Run(name, func(b *testing.B) {
					systems := both(b)
					n, value := recordsPerRound(size), randomValue(size)
					clients := map[string]*kgo.Client{}
					for _, s := range systems {
						s.createTopic("produce", parts)
						clients[s.name] = s.client(producerOpts(acks == "all")...)
						produce(b, clients[s.name], "produce", n/10, value) // warm up
					}
					b.ResetTimer()
					d := rounds(b, systems, func(_ int, s *system) time.Duration {
						return produce(b, clients[s.name], "produce", n, value)
					})
					reportVsKfake(b, float64(n*b.N), "rec/s", d)
					b.ReportMetric(float64(n*b.N*size)/d["strom"].Seconds()/1e6, "strom_MB/s")
				})
			}
		}
	}
}

// BenchmarkConsume: records/s read by a fresh franz-go consumer (no group)
// from the start of a topic already written (Strom: from the page cache).
func BenchmarkConsume(b *testing.B) {
	for _, size := range []int{100, 1 << 10} {
		for _, parts := range []int{1, 6} {
			b.Run(fmt.Sprintf("record=%s/partitions=%d", sizeName(size), parts), func(b *testing.B) {
				systems := both(b)
				n, value := recordsPerRound(size), randomValue(size)
				for _, s := range systems {
					s.createTopic("consume", parts)
					produce(b, s.client(producerOpts(true)...), "consume", n, value)
				}
				b.ResetTimer()
				d := rounds(b, systems, func(_ int, s *system) time.Duration {
					cl := s.consumer("consume")
					defer cl.Close()
					t, _ := consume(b, cl, n, nil)
					return t
				})
				reportVsKfake(b, float64(n*b.N), "rec/s", d)
			})
		}
	}
}

// BenchmarkLatency: end-to-end latency (produce call to the record in a
// consumer's poll) of 100-byte records, acks=all, 1 partition, at a fixed
// rate: half of the lower of the two systems' peak produce rates measured
// just before, so both carry the same absolute load; one iteration is four
// 0.5 s windows per system, alternating. Reports p50/p99/p999
// in ms per system and x_kfake_p99 = kfake p99 / Strom p99 (above 1 Strom
// is faster).
func BenchmarkLatency(b *testing.B) {
	const size = 100
	systems := both(b)
	value := randomValue(size)
	// b.ResetTimer drops metrics reported before it: collect, report last.
	report := map[string]float64{}
	peak := 0.0
	for _, s := range systems {
		s.createTopic("peak", 1)
		cl := s.client(producerOpts(true)...)
		produce(b, cl, "peak", 10_000, value)
		const n = 100_000
		r := n / produce(b, cl, "peak", n, value).Seconds()
		report[s.name+"_peak_rec/s"] = r
		if peak == 0 || r < peak {
			peak = r
		}
		s.deleteTopic("peak")
	}
	rate := peak / 2
	report["rate_rec/s"] = rate
	// Each round measures both systems in short alternating windows, so a
	// machine-wide stall (GC, another job) lands on both alike.
	const windows, window, warm = 4, 500 * time.Millisecond, 100 * time.Millisecond
	lat := map[string][]time.Duration{}
	b.ResetTimer()
	for i := range b.N * windows {
		for j := range systems {
			s := systems[(i+j)%len(systems)]
			topic := topicName("latency", i)
			s.createTopic(topic, 1)
			lat[s.name] = append(lat[s.name], paced(b, s, topic, rate, warm, window)...)
			s.deleteTopic(topic)
		}
	}
	for _, s := range systems {
		l := lat[s.name]
		slices.Sort(l)
		for _, q := range []struct {
			name string
			q    float64
		}{{"p50", 0.5}, {"p99", 0.99}, {"p999", 0.999}} {
			b.ReportMetric(ms(quantile(l, q.q)), s.name+"_"+q.name+"_ms")
		}
	}
	b.ReportMetric(float64(quantile(lat["kfake"], 0.99))/float64(quantile(lat["strom"], 0.99)), "x_kfake_p99")
	for unit, v := range report {
		b.ReportMetric(v, unit)
	}
}

// paced produces records at rate for warm+window, each carrying its send
// time, while a consumer measures their arrival; it returns the latencies
// of records sent after warm.
func paced(b *testing.B, s *system, topic string, rate float64, warm, window time.Duration) []time.Duration {
	base := time.Now()
	n := int(rate * (warm + window).Seconds())
	prod := s.client(producerOpts(true)...)
	cons := s.consumer(topic)
	defer prod.Close()
	defer cons.Close()
	lat := make([]time.Duration, 0, n)
	var g sync.WaitGroup
	goTracked(&g, func() {
		consume(b, cons, n, func(r *kgo.Record) {
			sent := time.Duration(binary.BigEndian.Uint64(r.Value))
			if sent >= warm {
				lat = append(lat, time.Since(base)-sent)
			}
		})
	})
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	interval := time.Duration(float64(time.Second) / rate)
	for i := range n {
		if ahead := time.Duration(i)*interval - time.Since(base); ahead > 500*time.Microsecond {
			time.Sleep(ahead) // pacing the load, not synchronisation
		}
		v := make([]byte, 100)
		binary.BigEndian.PutUint64(v, uint64(time.Since(base)))
		prod.Produce(ctx, &kgo.Record{Topic: topic, Value: v}, func(_ *kgo.Record, err error) {
			if err != nil {
				b.Errorf("%s: produce: %v", s.name, err)
			}
		})
	}
	if err := prod.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	g.Wait()
	return lat
}

func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(q*float64(len(sorted))))]
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

// BenchmarkManyPartitions: a topic of 1,000 partitions: creating it
// (CreateTopics round trip), reopening it (Strom only: broker restart on
// the same log dir until its metadata answers), and producing 100-byte
// records round-robin over all partitions (acks=all).
func BenchmarkManyPartitions(b *testing.B) {
	// The usual round: 300 records per partition, so every partition's
	// active segment gets index entries during the measured pass.
	const parts, size, n = 1000, 100, 300_000
	value := randomValue(size)
	strom, br := startStrom(b)
	systems := []*system{strom, startKfake(b)}
	create := map[string]time.Duration{}
	for _, s := range systems {
		create[s.name] = s.createTopic("many", parts)
	}

	// Reopen: restart Strom's process on the same data; the time runs from
	// the start of the process to the first answered Metadata request.
	br.stop(b)
	t0 := time.Now()
	strom2, _ := startStrom(b, "log.dirs="+br.Dir)
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	md, err := strom2.adm.Metadata(ctx, "many")
	if err != nil {
		b.Fatal(err)
	}
	reopen := time.Since(t0)
	if got := len(md.Topics["many"].Partitions); got != parts {
		b.Fatalf("reopened with %d partitions, want %d", got, parts)
	}
	systems[0] = strom2

	clients := map[string]*kgo.Client{}
	for _, s := range systems {
		clients[s.name] = s.client(append(producerOpts(true), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))...)
		produce(b, clients[s.name], "many", parts*2, value) // warm up every partition
	}
	b.ResetTimer()
	d := rounds(b, systems, func(_ int, s *system) time.Duration {
		return produce(b, clients[s.name], "many", n, value)
	})
	reportVsKfake(b, float64(n*b.N), "rec/s", d)
	// After the rounds: b.ResetTimer drops metrics reported before it.
	b.ReportMetric(ms(create["strom"]), "strom_create_ms")
	b.ReportMetric(ms(create["kfake"]), "kfake_create_ms")
	b.ReportMetric(ms(reopen), "strom_reopen_ms")
}

// BenchmarkLargeRecords: 512 KiB records end to end (a producer and a
// consumer running together; time from the first produce to the last
// record consumed) against two physical baselines measured in the same
// rounds: a raw loopback TCP copy of the same bytes in 1 MiB writes
// (x_raw = Strom MB/s / raw MB/s, the ratio) and the bare
// store-and-forward path of socket, file and sendfile (x_relay, see
// storeAndForward), the ceiling of a broker that reads requests into
// memory and writes them to its log, as Kafka does.
func BenchmarkLargeRecords(b *testing.B) {
	const size, n = 512 << 10, 200 // 100 MiB per round and system
	systems := both(b)
	value := randomValue(size)
	conn, stop := drainedConn(b)
	defer stop()
	dir := b.TempDir()
	var raw, relay time.Duration
	baselines := func() {
		raw += tcpCopy(b, conn, size*n, 1<<20)
		relay += storeAndForward(b, dir, size*n, size)
	}
	b.SetBytes(size * n)
	b.ResetTimer()
	d := rounds(b, systems, func(i int, s *system) time.Duration {
		if s.name == "strom" && i%2 == 0 {
			baselines()
		}
		topic := topicName("large", i)
		s.createTopic(topic, 1)
		defer s.deleteTopic(topic)
		prod := s.client(producerOpts(true)...)
		cons := s.consumer(topic)
		defer prod.Close()
		defer cons.Close()
		var g sync.WaitGroup
		t0 := time.Now()
		goTracked(&g, func() { consume(b, cons, n, nil) })
		produce(b, prod, topic, n, value)
		g.Wait()
		d := time.Since(t0)
		if s.name == "strom" && i%2 == 1 {
			baselines()
		}
		return d
	})
	total := float64(size*n) * float64(b.N)
	for _, name := range []string{"strom", "kfake"} {
		b.ReportMetric(total/d[name].Seconds()/1e6, name+"_MB/s")
	}
	b.ReportMetric(total/raw.Seconds()/1e6, "raw_MB/s")
	b.ReportMetric(total/relay.Seconds()/1e6, "relay_MB/s")
	b.ReportMetric(raw.Seconds()/d["strom"].Seconds(), "x_raw")
	b.ReportMetric(relay.Seconds()/d["strom"].Seconds(), "x_relay")
	b.ReportMetric(d["kfake"].Seconds()/d["strom"].Seconds(), "x_kfake")
}
