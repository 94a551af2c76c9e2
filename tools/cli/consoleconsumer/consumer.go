// Package consoleconsumer is `strom console-consumer`
// (kafka-console-consumer.sh): it prints a topic's records to stdout in
// Kafka's format and reports "Processed a total of N messages" on stderr.
//
// Without --group (or group.id) it reads partitions directly (no group
// coordinator needed); with a group it joins it and commits offsets. It
// first waits for a broker to answer, at most default.api.timeout.ms (or
// --timeout-ms when smaller), so an unreachable broker is an error, not
// an empty topic. --formatter picks Kafka's default, no-op or
// __consumer_offsets formatter.
package consoleconsumer

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strom-broker/strom/tools/cli/clitool"
)

const synopsis = `Usage: strom console-consumer (--bootstrap-server HOST:PORT | --zookeeper HOST:PORT[/CHROOT]) --topic TOPIC [options]

Prints records of TOPIC to standard output until interrupted, --max-messages
records were printed, or no record arrived for --timeout-ms.

  strom console-consumer --bootstrap-server localhost:9092 --topic t --from-beginning \
      --property print.key=true --property print.timestamp=true`

// args are the parsed flags.
type args struct {
	bootstrap, topic, offset, group string
	fromBeginning                   bool
	partition, maxMessages          int
	timeoutMs                       int64
	props, consumerProps            clitool.StringList
	include, isolation, formatter   string
	keyDeser, valueDeser            string
	formatterConfig                 string
	skipOnError                     bool
	commandConfig, consumerConfig   string
	// block bounds the wait for a first answer from a broker: --timeout-ms
	// when set, else default.api.timeout.ms; blockName names which.
	block     time.Duration
	blockName string
	// zookeeper is --zookeeper; zk is its state once connected
	// (zookeeper.go).
	zookeeper string
	zk        *zkConsumer
}

// Run is the `console-consumer` subcommand.
func Run(ctx context.Context, argv []string, _ io.Reader, stdout, stderr io.Writer) int {
	var a args
	fs := clitool.NewFlagSet("console-consumer", synopsis)
	bs := clitool.Bootstrap(fs)
	fs.StringVar(&a.topic, "topic", "", "The topic to consume (this or --include is required).")
	fs.StringVar(&a.include, "include", "", "A regular expression: consume every topic it matches.")
	fs.Alias("whitelist", "include")
	fs.StringVar(&a.isolation, "isolation-level", "", "read_uncommitted or read_committed (default read_uncommitted).")
	fs.StringVar(&a.formatter, "formatter", "", "Kafka's formatter class: DefaultMessageFormatter (default), NoOpMessageFormatter, or OffsetsMessageFormatter (decodes __consumer_offsets).")
	fs.StringVar(&a.keyDeser, "key-deserializer", "", "Same as --property key.deserializer=CLASS.")
	fs.StringVar(&a.valueDeser, "value-deserializer", "", "Same as --property value.deserializer=CLASS.")
	fs.StringVar(&a.formatterConfig, "formatter-config", "", "A properties file of formatter properties (as --property; --property wins).")
	fs.BoolVar(&a.skipOnError, "skip-message-on-error", false, "Report a record that cannot be formatted on stderr and go on, instead of failing.")
	fs.StringVar(&a.consumerConfig, "consumer.config", "", "A consumer properties file; --consumer-property wins over it.")
	a.commandConfigFlag(fs)
	fs.BoolVar(&a.fromBeginning, "from-beginning", false, "Start at the earliest offset instead of the latest (when there is no committed offset).")
	fs.IntVar(&a.partition, "partition", -1, "Consume only this partition (-1: all partitions).")
	fs.StringVar(&a.offset, "offset", "", "With --partition: start offset N, earliest or latest (default latest).")
	fs.IntVar(&a.maxMessages, "max-messages", -1, "Exit after this many records (-1: no limit).")
	fs.Int64Var(&a.timeoutMs, "timeout-ms", -1, "Exit when no record arrives for this many ms (-1: wait forever).")
	fs.StringVar(&a.group, "group", "", "Consume as this consumer group and commit offsets.")
	fs.StringVar(&a.zookeeper, "zookeeper", "", "HOST:PORT[,HOST:PORT...][/CHROOT]: find the brokers through the cluster's ZooKeeper, and with --group keep the group's offsets in /consumers/GROUP/offsets/TOPIC/PARTITION, as Kafka 0.8's consumer did.")
	fs.Var(&a.props, "property", "Formatter property key=value; repeatable: print.timestamp, print.partition, print.offset, print.headers, print.key, print.value, key.separator, line.separator, headers.separator, null.literal, key.deserializer, value.deserializer.")
	fs.Var(&a.consumerProps, "consumer-property", "Consumer property key=value; repeatable: group.id, auto.offset.reset, client.id, fetch.max.bytes, max.partition.fetch.bytes, fetch.min.bytes, fetch.max.wait.ms, isolation.level, session.timeout.ms, ...")
	if done, code := fs.Parse(argv, stdout, stderr); done {
		return code
	}
	a.bootstrap = *bs
	out := bufio.NewWriter(stdout)
	n, err := consume(ctx, &a, out, stderr)
	if ferr := out.Flush(); err == nil && ferr != nil {
		err = fmt.Errorf("writing output: %w", ferr)
	}
	if n >= 0 {
		fmt.Fprintf(stderr, "Processed a total of %d messages\n", n)
	}
	if err != nil {
		return clitool.Fail(stderr, err)
	}
	return clitool.ExitOK
}

// consume prints records until a stop condition; it returns the count (-1
// when it failed before consuming).
func consume(ctx context.Context, a *args, out *bufio.Writer, stderr io.Writer) (int, error) {
	if a.zookeeper != "" {
		zc, err := openZooKeeper(ctx, a)
		if err != nil {
			return -1, err
		}
		defer zc.close()
		a.zk = zc
	}
	if err := clitool.Required("bootstrap-server", a.bootstrap); err != nil {
		return -1, err
	}
	if (a.topic == "") == (a.include == "") {
		return -1, clitool.Usagef("exactly one of --topic or --include is required")
	}
	fprops, err := a.formatterProps()
	if err != nil {
		return -1, err
	}
	f, err := NewFormatter(fprops, a.formatter)
	if err != nil {
		return -1, err
	}
	opts, err := a.clientOpts(stderr)
	if err != nil {
		return -1, err
	}
	cl, err := clitool.Dial(ctx, clitool.DialConfig{
		Bootstrap: a.bootstrap, Opts: opts, Block: a.block, BlockName: a.blockName, Warn: stderr,
	})
	if err != nil {
		return -1, err
	}
	defer cl.Close()

	count, err := printRecords(ctx, cl, a, f, out, stderr)
	if a.zk != nil && a.zk.group != "" {
		if cerr := a.zk.commit(); cerr != nil && err == nil {
			err = fmt.Errorf("committing offsets to ZooKeeper: %w", cerr)
		}
	}
	if a.group != "" {
		// Commit what was printed however the loop ended (--max-messages,
		// --timeout-ms, interrupt), so a rerun continues after it.
		commitCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if cerr := cl.CommitUncommittedOffsets(commitCtx); cerr != nil && err == nil {
			err = fmt.Errorf("committing offsets: %w", cerr)
		}
	}
	return count, err
}

// printRecords polls and prints records until a stop condition.
func printRecords(ctx context.Context, cl *kgo.Client, a *args, f *Formatter, out *bufio.Writer, stderr io.Writer) (int, error) {
	count := 0
	for a.maxMessages < 0 || count < a.maxMessages {
		pollCtx, cancel := ctx, context.CancelFunc(func() {})
		if a.timeoutMs >= 0 {
			pollCtx, cancel = context.WithTimeout(ctx, time.Duration(a.timeoutMs)*time.Millisecond)
		}
		fetches := cl.PollRecords(pollCtx, a.remaining(count))
		cancel()
		if ctx.Err() != nil || fetches.IsClientClosed() {
			return count, nil // interrupted: report what was printed
		}
		if pollCtx.Err() != nil && fetches.NumRecords() == 0 {
			return count, nil // --timeout-ms elapsed with nothing new
		}
		if err := fetchError(fetches); err != nil {
			return count, err
		}
		for it := fetches.RecordIter(); !it.Done(); {
			rec := it.Next()
			if a.zk != nil {
				a.zk.consumed(rec)
			}
			err := f.Format(out, rec)
			var fe *FormatError
			switch {
			case errors.As(err, &fe) && a.skipOnError:
				fmt.Fprintf(stderr, "ERROR: Error processing message, skipping this message: %v\n", fe)
			case fe != nil:
				return count, err
			case err != nil:
				return count, fmt.Errorf("writing output: %w", err)
			}
			count++
		}
		if err := out.Flush(); err != nil {
			return count, fmt.Errorf("writing output: %w", err)
		}
	}
	return count, nil
}

// remaining is how many records the next poll may return (-1: any).
func (a *args) remaining(count int) int {
	if a.maxMessages < 0 {
		return -1
	}
	return a.maxMessages - count
}

// fetchError returns the first non-retriable fetch error, ignoring the
// context errors a timed-out poll reports.
func fetchError(fs kgo.Fetches) error {
	for _, e := range fs.Errors() {
		if errors.Is(e.Err, context.DeadlineExceeded) || errors.Is(e.Err, context.Canceled) {
			continue
		}
		return fmt.Errorf("fetching %s[%d]: %w", e.Topic, e.Partition, e.Err)
	}
	return nil
}

// formatterProps are the formatter's key=value items: --formatter-config,
// then the deserializer flags, then --property.
func (a *args) formatterProps() ([]string, error) {
	var items []string
	if a.formatterConfig != "" {
		kv := map[string]string{}
		if err := clitool.MergePropertiesFile(kv, a.formatterConfig); err != nil {
			return nil, fmt.Errorf("--formatter-config: %w", err)
		}
		for k, v := range kv {
			items = append(items, k+"="+v)
		}
	}
	if a.keyDeser != "" {
		items = append(items, "key.deserializer="+a.keyDeser)
	}
	if a.valueDeser != "" {
		items = append(items, "value.deserializer="+a.valueDeser)
	}
	return append(items, a.props...), nil
}

// commandConfigFlag registers --command-config.
func (a *args) commandConfigFlag(fs *clitool.FlagSet) {
	fs.StringVar(&a.commandConfig, "command-config", "", "A Java client properties file, applied before --consumer.config and --consumer-property.")
}

// clientOpts turns the flags and consumer properties into consumer
// options.
func (a *args) clientOpts(stderr io.Writer) ([]kgo.Opt, error) {
	cc, err := clitool.LoadClientConfig([]string{a.commandConfig, a.consumerConfig}, a.consumerProps, "--consumer-property")
	if err != nil {
		return nil, err
	}
	if g, ok := cc["group.id"]; ok {
		if a.group != "" && a.group != g {
			return nil, clitool.Usagef("--group %s and --consumer-property group.id=%s disagree", a.group, g)
		}
		a.group = g
	}
	if a.isolation != "" {
		cc["isolation.level"] = a.isolation
	}
	if a.offset != "" && a.partition < 0 {
		return nil, clitool.Usagef("the partition is required when offset is specified")
	}
	if a.offset != "" && a.fromBeginning {
		return nil, clitool.Usagef("options --from-beginning and --offset cannot be specified together")
	}
	if a.group != "" && a.partition >= 0 {
		return nil, clitool.Usagef("options --group and --partition cannot be specified together")
	}
	if a.include != "" && a.partition >= 0 {
		return nil, clitool.Usagef("options --include and --partition cannot be specified together")
	}
	if a.maxMessages == 0 || a.maxMessages < -1 {
		return nil, clitool.Usagef("--max-messages must be >= 1")
	}
	start := kgo.NewOffset().AtEnd()
	switch reset := cc["auto.offset.reset"]; {
	case a.fromBeginning || reset == "earliest":
		start = kgo.NewOffset().AtStart()
	case reset == "" || reset == "latest":
	default:
		return nil, clitool.Usagef("consumer property auto.offset.reset=%q: want earliest or latest", reset)
	}
	switch a.offset {
	case "", "latest":
		if a.offset == "latest" {
			start = kgo.NewOffset().AtEnd()
		}
	case "earliest":
		start = kgo.NewOffset().AtStart()
	default:
		n, err := strconv.ParseInt(a.offset, 10, 64)
		if err != nil || n < 0 {
			return nil, clitool.Usagef("--offset %q: want a non-negative number, earliest or latest", a.offset)
		}
		start = kgo.NewOffset().At(n)
	}
	opts := []kgo.Opt{kgo.ConsumeResetOffset(start)}
	switch {
	case a.zk != nil && a.zk.group != "":
		assign, err := a.zk.assignment(a.topic, start)
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.ConsumePartitions(assign))
	case a.partition >= 0:
		opts = append(opts, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{a.topic: {int32(a.partition): start}}))
	case a.include != "":
		if _, err := regexp.Compile(a.include); err != nil {
			return nil, clitool.Usagef("--include %q is not a regular expression: %v", a.include, err)
		}
		opts = append(opts, kgo.ConsumeRegex(), kgo.ConsumeTopics("^(?:"+a.include+")$"))
	default:
		opts = append(opts, kgo.ConsumeTopics(a.topic))
	}
	if a.group != "" {
		opts = append(opts, kgo.ConsumerGroup(a.group))
	}
	if a.block, err = clitool.BlockFrom(cc, "default.api.timeout.ms"); err != nil {
		return nil, err
	}
	a.blockName = "default.api.timeout.ms"
	if a.timeoutMs > 0 && time.Duration(a.timeoutMs)*time.Millisecond < a.block {
		a.block, a.blockName = time.Duration(a.timeoutMs)*time.Millisecond, "--timeout-ms"
	}
	more, err := clitool.ConsumerOpts(cc, stderr)
	if err != nil {
		return nil, err
	}
	return append(opts, more...), nil
}
