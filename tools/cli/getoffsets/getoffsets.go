// Package getoffsets is `strom get-offsets` (kafka-get-offsets.sh): the
// offset of each partition at a time (latest, earliest, max timestamp, or
// the first at or after a timestamp), printed as topic:partition:offset.
package getoffsets

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/strom-broker/strom/tools/cli/clitool"
)

const synopsis = `Usage: strom get-offsets --bootstrap-server HOST:PORT [--topic REGEX [--partitions P,P] | --topic-partitions PATTERNS] [--time -1|-2|-3|MS]

Prints topic:partition:offset for every matching partition (every topic
when none is given): the log end (--time -1, the default), the log start
(-2), the offset of the largest timestamp (-3), or the first offset whose
timestamp is at or after MS. A partition without such an offset is left out.

  strom get-offsets --bootstrap-server localhost:9092 --topic t --time -2
  strom get-offsets --bootstrap-server localhost:9092 --topic-partitions 'orders.*:0-3,audit'`

// Run is the `get-offsets` subcommand.
func Run(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := clitool.NewFlagSet("get-offsets", synopsis)
	bootstrap := clitool.Bootstrap(fs)
	commandConfig := clitool.CommandConfig(fs)
	topic := fs.String("topic", "", "A regular expression for the topics (default: every topic).")
	partitions := fs.String("partitions", "", "With --topic: comma-separated partition ids (default: every partition).")
	topicPartitions := fs.String("topic-partitions", "", "Comma-separated TOPIC_REGEX[:P | :P-Q (Q exclusive) | :P- | :-Q] patterns.")
	at := fs.String("time", "-1", "-1 (latest), -2 (earliest), -3 (max timestamp) or a timestamp in ms.")
	excludeInternal := fs.Bool("exclude-internal-topics", false, "Leave out internal topics.")
	if done, code := fs.Parse(args, stdout, stderr); done {
		return code
	}
	if err := run(ctx, *bootstrap, *commandConfig, *topic, *partitions, *topicPartitions, *at, *excludeInternal, stdout, stderr); err != nil {
		return clitool.Fail(stderr, err)
	}
	return clitool.ExitOK
}

// pattern is one topic-partition pattern: a topic regexp and the
// partitions [lo, hi) (hi < 0: no upper bound), or a list.
type pattern struct {
	topic  *regexp.Regexp
	lo, hi int64
	list   []int32
}

func (p pattern) matches(topic string, part int32) bool {
	if !p.topic.MatchString(topic) {
		return false
	}
	if p.list != nil {
		for _, x := range p.list {
			if x == part {
				return true
			}
		}
		return false
	}
	return int64(part) >= p.lo && (p.hi < 0 || int64(part) < p.hi)
}

var patternRE = regexp.MustCompile(`^([^:,]*)(?::(?:([0-9]*)|(?:([0-9]*)-([0-9]*))))?$`)

// parsePatterns parses the flags into patterns.
func parsePatterns(topic, partitions, topicPartitions string) ([]pattern, error) {
	compile := func(re string) (*regexp.Regexp, error) {
		if re == "" {
			re = ".*"
		}
		r, err := regexp.Compile("^(?:" + re + ")$")
		if err != nil {
			return nil, clitool.Usagef("topic %q is not a regular expression: %v", re, err)
		}
		return r, nil
	}
	if topicPartitions != "" {
		if topic != "" || partitions != "" {
			return nil, clitool.Usagef("--topic-partitions cannot be used with --topic or --partitions")
		}
		var out []pattern
		for _, item := range strings.Split(topicPartitions, ",") {
			m := patternRE.FindStringSubmatch(item)
			if m == nil {
				return nil, clitool.Usagef("--topic-partitions %q: want TOPIC[:P|:P-Q|:P-|:-Q]", item)
			}
			re, err := compile(m[1])
			if err != nil {
				return nil, err
			}
			p := pattern{topic: re, hi: -1}
			switch {
			case m[2] != "":
				n, _ := strconv.ParseInt(m[2], 10, 32)
				p.lo, p.hi = n, n+1
			case m[3] != "" || m[4] != "":
				if m[3] != "" {
					p.lo, _ = strconv.ParseInt(m[3], 10, 32)
				}
				if m[4] != "" {
					p.hi, _ = strconv.ParseInt(m[4], 10, 32)
				}
			}
			out = append(out, p)
		}
		return out, nil
	}
	re, err := compile(topic)
	if err != nil {
		return nil, err
	}
	p := pattern{topic: re, hi: -1}
	if partitions != "" {
		p.list = []int32{}
		for _, s := range strings.Split(partitions, ",") {
			n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 32)
			if err != nil || n < 0 {
				return nil, clitool.Usagef("--partitions %q: want comma-separated partition ids", partitions)
			}
			p.list = append(p.list, int32(n))
		}
	}
	return []pattern{p}, nil
}

func run(ctx context.Context, bootstrap, commandConfig, topic, partitions, topicPartitions, at string, excludeInternal bool, stdout, stderr io.Writer) error {
	if err := clitool.Required("bootstrap-server", bootstrap); err != nil {
		return err
	}
	patterns, err := parsePatterns(topic, partitions, topicPartitions)
	if err != nil {
		return err
	}
	ts, err := strconv.ParseInt(at, 10, 64)
	if err != nil || ts < -3 {
		return clitool.Usagef("--time %q: want -1 (latest), -2 (earliest), -3 (max timestamp) or a timestamp in ms", at)
	}
	cl, err := clitool.AdminClient(bootstrap, commandConfig, stderr)
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	details, err := adm.ListTopicsWithInternal(ctx)
	if err != nil {
		return fmt.Errorf("listing topics: %w", err)
	}
	var topics []string
	for _, d := range details.Sorted() {
		if d.Err != nil || excludeInternal && d.IsInternal {
			continue
		}
		for _, p := range d.Partitions.Sorted() {
			if matchesAny(patterns, d.Topic, p.Partition) {
				topics = append(topics, d.Topic)
				break
			}
		}
	}
	if len(topics) == 0 {
		return nil
	}
	var listed kadm.ListedOffsets
	switch ts {
	case -1:
		listed, err = adm.ListEndOffsets(ctx, topics...)
	case -2:
		listed, err = adm.ListStartOffsets(ctx, topics...)
	case -3:
		listed, err = adm.ListMaxTimestampOffsets(ctx, topics...)
	default:
		listed, err = adm.ListOffsetsAfterMilli(ctx, ts, topics...)
	}
	if err != nil {
		return fmt.Errorf("listing offsets: %w", err)
	}
	if ts >= 0 {
		// A partition with no record at or after ts answers with its log
		// end; Kafka leaves such partitions out.
		ends, err := adm.ListEndOffsets(ctx, topics...)
		if err != nil {
			return fmt.Errorf("listing offsets: %w", err)
		}
		listed.Each(func(o kadm.ListedOffset) {
			if end, ok := ends.Lookup(o.Topic, o.Partition); ok && end.Err == nil && o.Err == nil && o.Offset == end.Offset {
				o.Offset = -1
				listed[o.Topic][o.Partition] = o
			}
		})
	}
	var rows []kadm.ListedOffset
	listed.Each(func(o kadm.ListedOffset) {
		if matchesAny(patterns, o.Topic, o.Partition) {
			rows = append(rows, o)
		}
	})
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].Topic != rows[j].Topic {
			return rows[i].Topic < rows[j].Topic
		}
		return rows[i].Partition < rows[j].Partition
	})
	for _, o := range rows {
		if o.Err != nil {
			return fmt.Errorf("%s:%d: %w", o.Topic, o.Partition, o.Err)
		}
		if o.Offset >= 0 {
			fmt.Fprintf(stdout, "%s:%d:%d\n", o.Topic, o.Partition, o.Offset)
		}
	}
	return nil
}

func matchesAny(ps []pattern, topic string, part int32) bool {
	for _, p := range ps {
		if p.matches(topic, part) {
			return true
		}
	}
	return false
}
