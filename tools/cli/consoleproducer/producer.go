// Package consoleproducer is `strom console-producer`
// (kafka-console-producer.sh): each stdin line becomes one record, parsed
// as Kafka's LineMessageReader does ([headers<delimiter>][key<separator>]
// value with parse.headers / parse.key).
//
// Guarantee: every line read is produced. Reading stops at end of input,
// at a bad line or when ctx ends (SIGINT/SIGTERM); the lines read before
// that are then flushed (records outlive the interrupt), as Kafka's
// shutdown hook closes its producer. A bad line, or any record that failed
// to produce, makes the tool exit non-zero after the flush. Before reading,
// the tool waits (at most max.block.ms) for a broker to answer and asks
// for the topic to be auto-created.
package consoleproducer

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strom-broker/strom/tools/cli/clitool"
)

const synopsis = `Usage: strom console-producer --bootstrap-server HOST:PORT --topic TOPIC [options]

Reads lines from standard input and produces each as one record to TOPIC.

  printf 'k1:v1\nk2:v2\n' | strom console-producer --bootstrap-server localhost:9092 --topic t \
      --property parse.key=true --property key.separator=:`

// maxLine bounds one input line (one record value).
const maxLine = 64 << 20

// stopGrace is how long lines are still taken after a signal when the
// input cannot be interrupted (a terminal): lines typed before it are
// already read.
const stopGrace = 200 * time.Millisecond

// flushBound bounds the final flush; records have their own
// delivery.timeout.ms (120 s by default) inside it.
const flushBound = 3 * time.Minute

// readerProps are the --property keys the line reader understands
// (Kafka's LineMessageReader).
type readerProps struct {
	parseKey     bool
	separator    string // key.separator
	ignoreError  bool
	parseHeaders bool
	headersDelim string // headers.delimiter: between the headers and the rest
	headersSep   string // headers.separator: between headers
	headerKeySep string // headers.key.separator: between a header's key and value
	nullMarker   *string
}

// propertyFlags are Kafka's console-producer flags that set a producer
// property. As in Kafka, a flag given on the command line wins over the
// config files and --producer-property; its default (if any) applies only
// where they leave the key unset.
var propertyFlags = []struct{ flag, key, def, usage string }{
	{"request-required-acks", "acks", "-1", "Acknowledgements the leader must receive: 0, 1 or -1 (all)."},
	{"compression-codec", "compression.type", "none", "Compression: none, gzip, snappy, lz4 or zstd."},
	{"timeout", "linger.ms", "1000", "Linger: the longest a record waits for its batch to fill, in ms."},
	{"max-block-ms", "max.block.ms", "", "How long to wait for the broker at start (max.block.ms, default 60000)."},
	{"request-timeout-ms", "request.timeout.ms", "", "request.timeout.ms."},
	{"message-send-max-retries", "retries", "", "retries."},
	{"retry-backoff-ms", "retry.backoff.ms", "", "retry.backoff.ms (accepted; franz-go backs off by itself)."},
	{"socket-buffer-size", "send.buffer.bytes", "", "send.buffer.bytes (accepted; the OS default is used)."},
	{"max-memory-bytes", "buffer.memory", "", "buffer.memory."},
	{"batch-size", "batch.size", "", "batch.size."},
	{"max-partition-memory-bytes", "batch.size", "", "batch.size (Kafka's older name)."},
	{"metadata-expiry-ms", "metadata.max.age.ms", "", "metadata.max.age.ms (accepted)."},
}

// Run is the `console-producer` subcommand.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := clitool.NewFlagSet("console-producer", synopsis)
	bootstrap := clitool.Bootstrap(fs)
	topic := fs.String("topic", "", "REQUIRED: the topic to produce to.")
	var props, producerProps clitool.StringList
	fs.Var(&props, "property", "Line reader property key=value; repeatable: parse.key (default false), key.separator (default tab), parse.headers (default false), headers.delimiter (default tab), headers.separator (default ,), headers.key.separator (default :), null.marker (default none), ignore.error (default false).")
	fs.Var(&producerProps, "producer-property", "Producer property key=value; repeatable: acks, compression.type, linger.ms, batch.size, enable.idempotence, client.id, retries, ...")
	producerConfig := fs.String("producer.config", "", "A producer properties file; --producer-property wins over it.")
	commandConfig := clitool.CommandConfig(fs)
	values := make([]*string, len(propertyFlags))
	for i, pf := range propertyFlags {
		values[i] = fs.String(pf.flag, pf.def, pf.usage)
	}
	sync := fs.Bool("sync", false, "Send each record synchronously, waiting for its acknowledgement.")
	if done, code := fs.Parse(args, stdout, stderr); done {
		return code
	}
	a := runArgs{bootstrap: *bootstrap, topic: *topic, props: props, producerProps: producerProps,
		commandConfig: *commandConfig, producerConfig: *producerConfig, sync: *sync, flagProps: map[string]string{}, defaults: map[string]string{}}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for i, pf := range propertyFlags {
		switch {
		case set[pf.flag]:
			a.flagProps[pf.key] = *values[i]
		case pf.def != "":
			a.defaults[pf.key] = pf.def
		}
	}
	if err := run(ctx, a, stdin, stderr); err != nil {
		return clitool.Fail(stderr, err)
	}
	return clitool.ExitOK
}

type runArgs struct {
	bootstrap, topic              string
	props, producerProps          []string
	commandConfig, producerConfig string
	// flagProps are the producer properties set by flags given on the
	// command line; defaults those of flags left at their defaults.
	flagProps, defaults map[string]string
	sync                bool
}

func run(ctx context.Context, a runArgs, stdin io.Reader, stderr io.Writer) error {
	if err := clitool.Required("bootstrap-server", a.bootstrap, "topic", a.topic); err != nil {
		return err
	}
	rp, err := parseReaderProps(a.props)
	if err != nil {
		return err
	}
	pp, err := clitool.LoadClientConfig([]string{a.commandConfig, a.producerConfig}, a.producerProps, "--producer-property")
	if err != nil {
		return err
	}
	for k, v := range a.defaults {
		if _, ok := pp[k]; !ok {
			pp[k] = v
		}
	}
	for k, v := range a.flagProps {
		pp[k] = v
	}
	if a.sync {
		pp["linger.ms"] = "0" // each record is awaited; lingering only adds latency
	}
	opts, err := clitool.ProducerOpts(pp, stderr)
	if err != nil {
		return err
	}
	block, err := clitool.BlockFrom(pp, "max.block.ms")
	if err != nil {
		return err
	}
	cl, err := clitool.Dial(ctx, clitool.DialConfig{
		Bootstrap: a.bootstrap, Opts: append(opts, kgo.DefaultProduceTopic(a.topic)),
		Topics: []string{a.topic}, AutoCreate: true, Block: block, BlockName: "max.block.ms", Warn: stderr,
	})
	if err != nil {
		return err
	}
	defer cl.Close()
	// On a pipe, a signal must be able to cut the blocked read short.
	stdin, restore := clitool.Interruptible(stdin)
	defer restore()
	return produceLines(ctx, cl, a, rp, stdin, stderr)
}

// produceLines produces every line of stdin until end of input, a bad
// line or ctx ends (a signal), then flushes: every line read before any of
// these is produced, as Kafka's shutdown hook does by closing the producer.
func produceLines(ctx context.Context, cl *kgo.Client, a runArgs, rp readerProps, stdin io.Reader, stderr io.Writer) error {
	var (
		mu       sync.Mutex
		firstErr error
		failed   int
	)
	record := func(_ *kgo.Record, err error) {
		if err == nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		failed++
		if firstErr == nil {
			firstErr = err
		}
	}
	// Records outlive an interrupt: they are flushed after it.
	produceCtx := context.WithoutCancel(ctx)
	lr := newLineReader(stdin)
	lines, lineNo, closed := lr.C, 0, false
	var badLine error
	var grace <-chan time.Time // set when reading stops without a deadline
	stop := func() {
		if !lr.Stop() {
			grace = time.After(stopGrace)
		}
	}
	done := ctx.Done()
read:
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				closed = true
				break read
			}
			if badLine != nil {
				continue // draining after a bad line
			}
			lineNo++
			rec, err := rp.record(line, lineNo)
			if err != nil {
				badLine = err
				done = nil
				stop()
				continue
			}
			if a.sync {
				record(nil, cl.ProduceSync(produceCtx, rec).FirstErr())
			} else {
				cl.Produce(produceCtx, rec, record)
			}
		case <-done:
			done = nil
			stop()
		case <-grace:
			break read
		}
	}
	if closed && lr.Dropped > 0 {
		fmt.Fprintf(stderr, "WARN: interrupted in the middle of a line; its %d bytes read so far were not produced\n", lr.Dropped)
	}
	flushCtx, cancel := context.WithTimeout(produceCtx, flushBound)
	defer cancel()
	if err := cl.Flush(flushCtx); err != nil {
		return fmt.Errorf("flushing records: %w", err)
	}
	mu.Lock()
	defer mu.Unlock()
	switch {
	case firstErr != nil:
		return fmt.Errorf("%d of %d records failed to produce to %s: %w", failed, lineNo, a.topic, firstErr)
	case badLine != nil:
		return badLine
	case closed && lr.Err != nil:
		return lr.Err
	}
	return nil
}

func parseReaderProps(items []string) (readerProps, error) {
	rp := readerProps{separator: "\t", headersDelim: "\t", headersSep: ",", headerKeySep: ":"}
	kv, err := clitool.ParseKV(items, "--property")
	if err != nil {
		return rp, err
	}
	isTrue := func(v string) bool { return strings.EqualFold(strings.TrimSpace(v), "true") }
	for k, v := range kv {
		switch k {
		case "parse.key":
			rp.parseKey = isTrue(v)
		case "ignore.error":
			rp.ignoreError = isTrue(v)
		case "parse.headers":
			rp.parseHeaders = isTrue(v)
		case "null.marker":
			rp.nullMarker = &v
		case "key.separator", "headers.delimiter", "headers.separator", "headers.key.separator":
			if v == "" {
				return rp, clitool.Usagef("--property %s must not be empty", k)
			}
			*map[string]*string{"key.separator": &rp.separator, "headers.delimiter": &rp.headersDelim,
				"headers.separator": &rp.headersSep, "headers.key.separator": &rp.headerKeySep}[k] = v
		default:
			return rp, clitool.Usagef("unknown --property %s (known: parse.key, key.separator, parse.headers, headers.delimiter, headers.separator, headers.key.separator, null.marker, ignore.error)", k)
		}
	}
	if m := rp.nullMarker; m != nil && rp.parseHeaders && (*m == rp.headersDelim || *m == rp.headersSep || *m == rp.headerKeySep) || m != nil && rp.parseKey && *m == rp.separator {
		return rp, clitool.Usagef("--property null.marker=%s must differ from the separators", *m)
	}
	return rp, nil
}

// record turns one input line into a record, as Kafka's LineMessageReader
// does: [headers<headers.delimiter>][key<key.separator>]value, each header
// key<headers.key.separator>value, null.marker standing for null.
func (rp readerProps) record(line string, lineNo int) (*kgo.Record, error) {
	rec := &kgo.Record{}
	rest := line
	if rp.parseHeaders {
		headers, after, ok := strings.Cut(rest, rp.headersDelim)
		switch {
		case ok:
			hs, err := rp.headers(headers, lineNo)
			if err != nil {
				return nil, err
			}
			rec.Headers, rest = hs, after
		case !rp.ignoreError:
			return nil, fmt.Errorf("no headers delimiter found on line number %d: '%s'", lineNo, line)
		}
	}
	if rp.parseKey {
		key, value, ok := strings.Cut(rest, rp.separator)
		switch {
		case ok:
			rec.Key, rest = rp.bytes(key), value
		case !rp.ignoreError:
			return nil, fmt.Errorf("no key separator found on line number %d: '%s'", lineNo, line)
		}
	}
	rec.Value = rp.bytes(rest)
	return rec, nil
}

// headers parses "k:v,k:v".
func (rp readerProps) headers(s string, lineNo int) ([]kgo.RecordHeader, error) {
	if s == "" {
		return nil, nil
	}
	var hs []kgo.RecordHeader
	for _, pair := range strings.Split(s, rp.headersSep) {
		k, v, ok := strings.Cut(pair, rp.headerKeySep)
		switch {
		case !ok && rp.ignoreError:
			hs = append(hs, kgo.RecordHeader{Key: pair})
			continue
		case !ok:
			return nil, fmt.Errorf("no header key separator found in pair '%s' on line number %d", pair, lineNo)
		case rp.nullMarker != nil && k == *rp.nullMarker:
			return nil, fmt.Errorf("header keys should not be equal to the null marker '%s' as they can't be null (line number %d)", k, lineNo)
		}
		hs = append(hs, kgo.RecordHeader{Key: k, Value: rp.bytes(v)})
	}
	return hs, nil
}

// bytes is s as bytes, or nil when it is the null marker.
func (rp readerProps) bytes(s string) []byte {
	if rp.nullMarker != nil && s == *rp.nullMarker {
		return nil
	}
	return []byte(s)
}
