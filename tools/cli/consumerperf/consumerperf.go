// Package consumerperf is `strom consumer-perf-test`
// (kafka-consumer-perf-test.sh): it consumes --messages records and prints
// Kafka's summary columns. Without --group it reads partitions directly
// (rebalance.time.ms is then 0); with --group it joins that group. Running
// out of --timeout is Kafka's warning and exit 0; a broker that never
// answered within --timeout is an error.
package consumerperf

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strom-broker/strom/tools/cli/clitool"
	"github.com/strom-broker/strom/tools/cli/perfstats"
)

const synopsis = `Usage: strom consumer-perf-test --bootstrap-server HOST:PORT --topic TOPIC --messages N [options]

Measures consumer throughput.

  strom consumer-perf-test --bootstrap-server localhost:9092 --topic t --messages 100000`

// Header is the first output line (Kafka's column names).
const Header = "start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec"

// Run is the `consumer-perf-test` subcommand.
func Run(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := clitool.NewFlagSet("consumer-perf-test", synopsis)
	bootstrap := clitool.Bootstrap(fs)
	topic := fs.String("topic", "", "REQUIRED: the topic to consume.")
	messages := fs.Int64("messages", 0, "REQUIRED: the number of records to consume.")
	group := fs.String("group", "", "Consume as this consumer group (default: no group, read partitions directly).")
	timeoutMs := fs.Int64("timeout", 10000, "The longest wait in ms between returned records before giving up.")
	fetchSize := fs.Int("fetch-size", 1048576, "Bytes to fetch per partition per request.")
	fromLatest := fs.Bool("from-latest", false, "Start at the latest offset instead of the earliest.")
	hideHeader := fs.Bool("hide-header", false, "Do not print the header line.")
	dateFormat := fs.String("date-format", DefaultDateFormat, "How times are printed (Java SimpleDateFormat: y M d H h m s S a E Z, 'text').")
	include := fs.String("include", "", "A regular expression: consume every topic it matches (instead of --topic).")
	interval := fs.Int64("reporting-interval", 5000, "Milliseconds between progress lines on stderr.")
	var props clitool.StringList
	fs.Var(&props, "consumer-property", "Consumer property key=value; repeatable (client.id, fetch.max.bytes, fetch.min.bytes, ...).")
	consumerConfig := fs.String("consumer.config", "", "A consumer properties file; --consumer-property wins over it.")
	threads := fs.Int("threads", 1, "Deprecated in Kafka and ignored.")
	fetchThreads := fs.Int("num-fetch-threads", 1, "Deprecated in Kafka and ignored.")
	fs.Int("socket-buffer-size", 2097152, "Accepted and ignored: the OS default receive buffer is used.")
	commandConfig := clitool.CommandConfig(fs)
	if done, code := fs.Parse(args, stdout, stderr); done {
		return code
	}
	if *threads != 1 || *fetchThreads != 1 {
		fmt.Fprintln(stderr, "WARNING: option [threads] and [num-fetch-threads] have been deprecated and will be ignored by the test")
	}
	df, err := ParseDateFormat(*dateFormat)
	if err != nil {
		return clitool.Fail(stderr, err)
	}
	p := params{*bootstrap, *topic, *include, *group, *messages, time.Duration(*timeoutMs) * time.Millisecond,
		*fetchSize, *fromLatest, *hideHeader, time.Duration(*interval) * time.Millisecond, df}
	if err := p.run(ctx, props, []string{*commandConfig, *consumerConfig}, stdout, stderr); err != nil {
		return clitool.Fail(stderr, err)
	}
	return clitool.ExitOK
}

type params struct {
	bootstrap, topic, include, group string
	messages                         int64
	timeout                          time.Duration
	fetchSize                        int
	fromLatest, hideHeader           bool
	interval                         time.Duration
	dateFormat                       DateFormat
}

func (p *params) run(ctx context.Context, props, configFiles []string, stdout, stderr io.Writer) error {
	if err := clitool.Required("bootstrap-server", p.bootstrap); err != nil {
		return err
	}
	if (p.topic == "") == (p.include == "") {
		return clitool.Usagef("exactly one of --topic or --include is required")
	}
	consume := kgo.ConsumeTopics(p.topic)
	if p.include != "" {
		if _, err := regexp.Compile(p.include); err != nil {
			return clitool.Usagef("--include %q is not a regular expression: %v", p.include, err)
		}
		consume = kgo.ConsumeTopics("^(?:" + p.include + ")$")
	}
	switch {
	case p.messages < 1:
		return clitool.Usagef("--messages must be >= 1")
	case p.timeout <= 0:
		return clitool.Usagef("--timeout must be >= 1")
	case p.fetchSize < 1:
		return clitool.Usagef("--fetch-size must be >= 1")
	case p.interval <= 0:
		return clitool.Usagef("--reporting-interval must be >= 1")
	}
	cc, err := clitool.LoadClientConfig(configFiles, props, "--consumer-property")
	if err != nil {
		return err
	}
	if p.group == "" {
		p.group = cc["group.id"]
	}
	start := kgo.NewOffset().AtStart()
	if p.fromLatest {
		start = kgo.NewOffset().AtEnd()
	}
	opts := []kgo.Opt{consume, kgo.ConsumeResetOffset(start), kgo.FetchMaxPartitionBytes(int32(p.fetchSize))}
	if p.include != "" {
		opts = append(opts, kgo.ConsumeRegex())
	}
	more, err := clitool.ConsumerOpts(cc, stderr)
	if err != nil {
		return err
	}
	opts = append(opts, more...)

	begin := time.Now()
	var (
		assignedMu sync.Mutex
		assigned   time.Time // first assignment: ends the rebalance time
	)
	if p.group != "" {
		opts = append(opts, kgo.ConsumerGroup(p.group),
			kgo.OnPartitionsAssigned(func(context.Context, *kgo.Client, map[string][]int32) {
				assignedMu.Lock()
				defer assignedMu.Unlock()
				if assigned.IsZero() {
					assigned = time.Now()
				}
			}))
	}
	cl, err := clitool.Dial(ctx, clitool.DialConfig{
		Bootstrap: p.bootstrap, Opts: opts, Block: p.timeout, BlockName: "--timeout", Warn: stderr,
	})
	if err != nil {
		return err
	}
	defer cl.Close()

	stats := perfstats.NewRecorder(p.messages, begin)
	lastProgress := begin
	var consumeErr error
	for stats.Total().Count < p.messages {
		pollCtx, cancel := context.WithTimeout(ctx, p.timeout)
		fetches := cl.PollRecords(pollCtx, int(p.messages-stats.Total().Count))
		timedOut := pollCtx.Err() != nil && ctx.Err() == nil
		cancel()
		if ctx.Err() != nil {
			consumeErr = fmt.Errorf("interrupted after %d of %d messages", stats.Total().Count, p.messages)
			break
		}
		if timedOut && fetches.NumRecords() == 0 {
			// Kafka's words; the results are still printed and the exit
			// code is 0, as in Kafka.
			fmt.Fprintf(stderr, "WARNING: Exiting before consuming the expected number of messages: timeout (%d ms) exceeded. You can use the --timeout option to increase the timeout.\n",
				p.timeout.Milliseconds())
			break
		}
		fetches.EachRecord(func(r *kgo.Record) { stats.Record(len(r.Key)+len(r.Value), 0) })
		if now := time.Now(); now.Sub(lastProgress) >= p.interval {
			w := stats.Total()
			fmt.Fprintf(stderr, "%d messages (%.4f MB) consumed so far\n", w.Count, perfstats.MB(w.Bytes))
			lastProgress = now
		}
	}
	end := time.Now()
	assignedMu.Lock()
	rebalance := time.Duration(0)
	if !assigned.IsZero() {
		rebalance = assigned.Sub(begin)
	}
	assignedMu.Unlock()
	if !p.hideHeader {
		fmt.Fprintln(stdout, Header)
	}
	fmt.Fprintln(stdout, SummaryLine(p.dateFormat, begin, end, rebalance, stats.Total()))
	return consumeErr
}

// SummaryLine is Kafka's result row for a run from begin to end that spent
// rebalance joining the group.
func SummaryLine(df DateFormat, begin, end time.Time, rebalance time.Duration, w perfstats.Window) string {
	elapsed := end.Sub(begin)
	fetch := elapsed - rebalance
	mb := perfstats.MB(w.Bytes)
	return fmt.Sprintf("%s, %s, %.4f, %.4f, %d, %.4f, %d, %d, %.4f, %.4f",
		df.Format(begin), df.Format(end), mb, perfstats.Rate(mb, elapsed),
		w.Count, perfstats.Rate(float64(w.Count), elapsed), rebalance.Milliseconds(), fetch.Milliseconds(),
		perfstats.Rate(mb, fetch), perfstats.Rate(float64(w.Count), fetch))
}
