// Package producerperf is `strom producer-perf-test`
// (kafka-producer-perf-test.sh): it sends --num-records records of
// --record-size bytes at up to --throughput records/s and prints Kafka's
// summary line. Window lines (every --reporting-interval), the final line
// and the metrics with --print-metrics go to stdout, as Kafka prints them.
package producerperf

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strom-broker/strom/tools/cli/clitool"
	"github.com/strom-broker/strom/tools/cli/perfstats"
)

const synopsis = `Usage: strom producer-perf-test --topic TOPIC --num-records N --record-size BYTES --throughput RATE
         (--bootstrap-server HOST:PORT | --producer-props bootstrap.servers=HOST:PORT) [options]

Measures producer throughput and latency.

  strom producer-perf-test --topic t --num-records 100000 --record-size 100 --throughput -1 \
      --producer-props bootstrap.servers=localhost:9092 acks=1`

// Run is the `producer-perf-test` subcommand.
func Run(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := clitool.NewFlagSet("producer-perf-test", synopsis)
	bootstrap := clitool.Bootstrap(fs)
	topic := fs.String("topic", "", "REQUIRED: the topic to produce to.")
	numRecords := fs.Int64("num-records", 0, "REQUIRED: the number of records to send.")
	recordSize := fs.Int("record-size", -1, "The value size of each record, in bytes (this or --payload-file is required).")
	payloadFile := fs.String("payload-file", "", "Values are chosen at random from this file's contents split at --payload-delimiter.")
	payloadDelimiter := fs.String("payload-delimiter", `\n`, "With --payload-file: what separates the values (\\n, \\t and \\r are unescaped).")
	throughput := fs.Float64("throughput", 0, "REQUIRED: the most records per second to send; -1 for no limit.")
	var props clitool.StringList
	fs.Var(&props, "producer-props", "Producer properties key=value, several after one flag or the flag repeated (bootstrap.servers, acks, linger.ms, batch.size, compression.type, ...).")
	producerConfig := fs.String("producer.config", "", "A producer properties file; --producer-props win over it.")
	commandConfig := clitool.CommandConfig(fs)
	printMetrics := fs.Bool("print-metrics", false, "Print producer metrics at the end.")
	interval := fs.Int64("reporting-interval", 5000, "Milliseconds between progress lines on stderr.")
	if done, code := fs.Parse(clitool.ExpandMulti(args, "producer-props"), stdout, stderr); done {
		return code
	}
	p := params{
		bootstrap: *bootstrap, topic: *topic, numRecords: *numRecords, recordSize: *recordSize,
		payloadFile: *payloadFile, payloadDelimiter: *payloadDelimiter,
		throughput: *throughput, printMetrics: *printMetrics, interval: time.Duration(*interval) * time.Millisecond,
	}
	if err := p.run(ctx, props, []string{*commandConfig, *producerConfig}, stdout, stderr); err != nil {
		return clitool.Fail(stderr, err)
	}
	return clitool.ExitOK
}

// params are the validated flags.
type params struct {
	bootstrap, topic string
	numRecords       int64
	recordSize       int
	payloadFile      string
	payloadDelimiter string
	throughput       float64
	printMetrics     bool
	interval         time.Duration
}

func (p *params) run(ctx context.Context, props, configFiles []string, stdout, stderr io.Writer) error {
	pp, err := clitool.LoadClientConfig(configFiles, props, "--producer-props")
	if err != nil {
		return err
	}
	if p.bootstrap == "" {
		p.bootstrap = pp["bootstrap.servers"]
	}
	switch {
	case p.topic == "":
		return clitool.Usagef("missing required option --topic")
	case p.numRecords < 1:
		return clitool.Usagef("--num-records must be >= 1")
	case (p.recordSize >= 0) == (p.payloadFile != ""):
		return clitool.Usagef("either --record-size or --payload-file must be specified but not both")
	case p.throughput == 0:
		return clitool.Usagef("--throughput must be positive, or -1 for no limit")
	case p.bootstrap == "":
		return clitool.Usagef("missing required option --bootstrap-server (or --producer-props bootstrap.servers=...)")
	case p.interval <= 0:
		return clitool.Usagef("--reporting-interval must be >= 1")
	}
	opts, err := clitool.ProducerOpts(pp, stderr)
	if err != nil {
		return err
	}
	block, err := clitool.BlockFrom(pp, "max.block.ms")
	if err != nil {
		return err
	}
	m := &metrics{}
	cl, err := clitool.Dial(ctx, clitool.DialConfig{
		Bootstrap: p.bootstrap, Opts: append(opts, kgo.DefaultProduceTopic(p.topic), kgo.WithHooks(m)),
		Topics: []string{p.topic}, AutoCreate: true, Block: block, BlockName: "max.block.ms", Warn: stderr,
	})
	if err != nil {
		return err
	}
	defer cl.Close()

	rng := rand.New(rand.NewPCG(1, 2))
	payloads, err := p.payloads(rng, stdout)
	if err != nil {
		return err
	}

	start := time.Now()
	stats := perfstats.NewRecorder(p.numRecords, start)
	throttle := perfstats.NewThrottler(p.throughput, start)
	var (
		errMu    sync.Mutex
		firstErr error
		failed   int64
	)
	stopProgress := progress(stats, p.interval, stdout)
	defer stopProgress()
	for i := int64(0); i < p.numRecords; i++ {
		if d := throttle.Wait(i, time.Now()); d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
			}
		}
		if ctx.Err() != nil {
			break
		}
		sent := time.Now()
		payload := payloads[0]
		if len(payloads) > 1 {
			payload = payloads[rng.IntN(len(payloads))]
		}
		cl.Produce(ctx, &kgo.Record{Value: payload}, func(r *kgo.Record, err error) {
			if err != nil {
				errMu.Lock()
				failed++
				if firstErr == nil {
					firstErr = err
				}
				errMu.Unlock()
				return
			}
			stats.Record(len(r.Value), time.Since(sent))
		})
	}
	flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
	defer cancel()
	if err := cl.Flush(flushCtx); err != nil {
		return fmt.Errorf("flushing records: %w", err)
	}
	stopProgress()
	fmt.Fprintln(stdout, stats.TotalLine(time.Now()))
	if p.printMetrics {
		m.print(stdout, stats.Total())
	}
	errMu.Lock()
	defer errMu.Unlock()
	if firstErr != nil {
		return fmt.Errorf("%d of %d records failed: %w", failed, p.numRecords, firstErr)
	}
	return nil
}

// payloads are the values to send: Kafka's random upper-case letters in
// one buffer of --record-size for every record, or the --payload-file's
// non-empty pieces (Kafka's "Reading payloads from" lines go to stdout).
func (p *params) payloads(rng *rand.Rand, stdout io.Writer) ([][]byte, error) {
	if p.payloadFile == "" {
		payload := make([]byte, p.recordSize)
		for i := range payload {
			payload[i] = byte('A' + rng.IntN(26))
		}
		return [][]byte{payload}, nil
	}
	fmt.Fprintf(stdout, "Reading payloads from: %s\n", p.payloadFile)
	b, err := os.ReadFile(p.payloadFile)
	if err != nil {
		return nil, fmt.Errorf("--payload-file: %w", err)
	}
	delim := clitool.Unescape(p.payloadDelimiter)
	if delim == "" {
		return nil, clitool.Usagef("--payload-delimiter must not be empty")
	}
	var out [][]byte
	for _, piece := range strings.Split(string(b), delim) {
		if piece != "" {
			out = append(out, []byte(piece))
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--payload-file %s: no payloads in it", p.payloadFile)
	}
	fmt.Fprintf(stdout, "Number of messages read: %d\n", len(out))
	return out, nil
}

// progress prints a window line to w every interval until stopped; stop is
// idempotent and waits for the printer to exit.
func progress(stats *perfstats.Recorder, interval time.Duration, w io.Writer) (stop func()) {
	done := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case now := <-t.C:
				if win := stats.Rotate(now); win.Count > 0 { // like Kafka: no line for an empty window
					fmt.Fprintln(w, perfstats.WindowLine(win, now))
				}
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() { close(done); <-exited })
	}
}
