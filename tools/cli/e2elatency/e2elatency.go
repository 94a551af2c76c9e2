// Package e2elatency is `strom e2e-latency` (kafka-e2e-latency.sh): it
// produces one record at a time, waits until a consumer reads it back,
// and reports the round-trip latency: average and percentiles.
//
// The topic is created (broker defaults) when missing; the consumer reads
// every partition from its end, so it sees only this run's records.
package e2elatency

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strom-broker/strom/tools/cli/clitool"
	"github.com/strom-broker/strom/tools/cli/perfstats"
)

const synopsis = `Usage: strom e2e-latency BOOTSTRAP TOPIC NUM_MESSAGES PRODUCER_ACKS MESSAGE_SIZE_BYTES [PROPERTIES_FILE]

Measures end-to-end latency: each record is produced (PRODUCER_ACKS 1 or all)
and consumed back before the next is sent. Progress (every 1000th latency in
ms) goes to stderr; the average and percentiles to stdout. PROPERTIES_FILE
holds extra producer properties.

  strom e2e-latency localhost:9092 latency 10000 all 100`

// pollTimeout bounds the wait for one record to come back.
const pollTimeout = 60 * time.Second

// Run is the `e2e-latency` subcommand.
func Run(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := clitool.NewFlagSet("e2e-latency", synopsis)
	if done, code := fs.Parse(args, stdout, stderr); done {
		return code
	}
	p, err := parseArgs(fs.Args())
	if err == nil {
		err = p.run(ctx, stdout, stderr)
	}
	if err != nil {
		return clitool.Fail(stderr, err)
	}
	return clitool.ExitOK
}

type params struct {
	bootstrap, topic, acks, propsFile string
	numMessages                       int64
	size                              int
}

func parseArgs(pos []string) (*params, error) {
	if len(pos) < 5 || len(pos) > 6 {
		return nil, clitool.Usagef("want BOOTSTRAP TOPIC NUM_MESSAGES PRODUCER_ACKS MESSAGE_SIZE_BYTES [PROPERTIES_FILE] (see --help)")
	}
	p := &params{bootstrap: pos[0], topic: pos[1], acks: pos[3]}
	if len(pos) == 6 {
		p.propsFile = pos[5]
	}
	n, err := strconv.ParseInt(pos[2], 10, 64)
	if err != nil || n < 1 {
		return nil, clitool.Usagef("NUM_MESSAGES %q: want a count >= 1", pos[2])
	}
	p.numMessages = n
	size, err := strconv.Atoi(pos[4])
	if err != nil || size < 0 {
		return nil, clitool.Usagef("MESSAGE_SIZE_BYTES %q: want bytes >= 0", pos[4])
	}
	p.size = size
	if p.acks != "1" && p.acks != "all" && p.acks != "-1" {
		return nil, clitool.Usagef("latency testing requires synchronous acknowledgement: PRODUCER_ACKS must be 1 or all, not %q", p.acks)
	}
	return p, nil
}

func (p *params) run(ctx context.Context, stdout, stderr io.Writer) error {
	pp := map[string]string{}
	if p.propsFile != "" {
		if err := clitool.MergePropertiesFile(pp, p.propsFile); err != nil {
			return fmt.Errorf("properties file: %w", err)
		}
	}
	pp["acks"] = p.acks
	if _, ok := pp["linger.ms"]; !ok {
		pp["linger.ms"] = "0"
	}
	popts, err := clitool.ProducerOpts(pp, stderr)
	if err != nil {
		return err
	}
	producer, err := clitool.NewClient(p.bootstrap, append(popts, kgo.DefaultProduceTopic(p.topic))...)
	if err != nil {
		return err
	}
	defer producer.Close()
	if err := ensureTopic(ctx, producer, p.topic); err != nil {
		return err
	}
	ends, err := endOffsets(ctx, producer, p.topic)
	if err != nil {
		return err
	}
	consumer, err := clitool.NewClient(p.bootstrap, kgo.ConsumePartitions(ends), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		return err
	}
	defer consumer.Close()

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	value := make([]byte, p.size)
	start := time.Now()
	stats := perfstats.NewRecorder(p.numMessages, start)
	for i := int64(0); i < p.numMessages; i++ {
		for j := range value {
			value[j] = byte('A' + rng.IntN(26))
		}
		begin := time.Now()
		if err := producer.ProduceSync(ctx, &kgo.Record{Value: value}).FirstErr(); err != nil {
			return fmt.Errorf("message %d: produce: %w", i, err)
		}
		if err := awaitRecord(ctx, consumer, value); err != nil {
			return fmt.Errorf("message %d: %w", i, err)
		}
		elapsed := time.Since(begin)
		stats.Record(p.size, elapsed)
		if i%1000 == 0 {
			fmt.Fprintf(stderr, "%d\t%.4f\n", i, perfstats.Ms(elapsed))
		}
	}
	total := stats.Total()
	pc := stats.Percentiles(0.5, 0.99, 0.999)
	fmt.Fprintf(stdout, "Avg latency: %.4f ms\n", perfstats.Ms(total.TotalLatency)/float64(total.Count))
	fmt.Fprintf(stdout, "Percentiles: 50th = %d, 99th = %d, 99.9th = %d\n", pc[0].Milliseconds(), pc[1].Milliseconds(), pc[2].Milliseconds())
	return nil
}

// ensureTopic creates topic with the broker's defaults if it is missing.
func ensureTopic(ctx context.Context, cl *kgo.Client, topic string) error {
	adm := kadm.NewClient(cl)
	_, err := adm.CreateTopic(ctx, -1, -1, nil, topic)
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("creating topic %s: %w", topic, err)
	}
	return nil
}

// endOffsets returns where every partition of topic ends now, so the
// consumer's first records are this run's.
func endOffsets(ctx context.Context, cl *kgo.Client, topic string) (map[string]map[int32]kgo.Offset, error) {
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("listing end offsets of %s: %w", topic, err)
	}
	out := map[string]map[int32]kgo.Offset{topic: {}}
	ends.Each(func(o kadm.ListedOffset) { out[topic][o.Partition] = kgo.NewOffset().At(o.Offset) })
	if len(out[topic]) == 0 {
		return nil, fmt.Errorf("topic %s has no partitions", topic)
	}
	return out, nil
}

// awaitRecord polls until the record with value arrives.
func awaitRecord(ctx context.Context, cl *kgo.Client, value []byte) error {
	deadline := time.Now().Add(pollTimeout)
	for time.Now().Before(deadline) {
		pollCtx, cancel := context.WithDeadline(ctx, deadline)
		fetches := cl.PollRecords(pollCtx, 1)
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		for _, fe := range fetches.Errors() {
			if !errors.Is(fe.Err, context.DeadlineExceeded) {
				return fmt.Errorf("consume: %w", fe.Err)
			}
		}
		recs := fetches.Records()
		if len(recs) == 0 {
			continue
		}
		if !bytes.Equal(recs[0].Value, value) {
			return errors.New("consumed a record that is not the one just sent")
		}
		return nil
	}
	return fmt.Errorf("no record consumed within %s", pollTimeout)
}
