// Package logdirs is `strom log-dirs` (kafka-log-dirs.sh --describe): each
// broker's log dirs and the size of every partition in them, as Kafka's
// JSON, over the DescribeLogDirs API.
package logdirs

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/strom-broker/strom/tools/cli/clitool"
)

const synopsis = `Usage: strom log-dirs --bootstrap-server HOST:PORT --describe [--broker-list 0,1] [--topic-list t1,t2]

Prints, for every (or each listed) broker, its log dirs and the size of
each partition in them, as Kafka's JSON:

  Querying brokers for log directories information
  Received log directory information from brokers 0
  {"brokers":[{"broker":0,"logDirs":[{"partitions":[{"partition":"t-0","size":1234,"offsetLag":0,"isFuture":false}],"error":null,"logDir":"/tmp/strom-logs"}]}],"version":1}`

// Kafka's JSON layout (field order as Kafka prints it).
type (
	output struct {
		Brokers []brokerDirs `json:"brokers"`
		Version int          `json:"version"`
	}
	brokerDirs struct {
		Broker  int32    `json:"broker"`
		LogDirs []logDir `json:"logDirs"`
	}
	logDir struct {
		Partitions []partition `json:"partitions"`
		Error      *string     `json:"error"`
		LogDir     string      `json:"logDir"`
	}
	partition struct {
		Partition string `json:"partition"`
		Size      int64  `json:"size"`
		OffsetLag int64  `json:"offsetLag"`
		IsFuture  bool   `json:"isFuture"`
	}
)

// Run is the `log-dirs` subcommand. Unlike the other tools, --broker-list
// here is Kafka's list of broker ids, not an alias of --bootstrap-server.
func Run(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := clitool.NewFlagSet("log-dirs", synopsis)
	bootstrap := fs.String("bootstrap-server", "", "REQUIRED: the broker(s) to connect to, host:port[,host:port...].")
	commandConfig := clitool.CommandConfig(fs)
	describe := fs.Bool("describe", false, "REQUIRED: describe the log dirs.")
	brokerList := fs.String("broker-list", "", "Comma-separated broker ids (default: every broker).")
	topicList := fs.String("topic-list", "", "Comma-separated topics (default: every topic).")
	if done, code := fs.Parse(args, stdout, stderr); done {
		return code
	}
	if err := run(ctx, *bootstrap, *commandConfig, *describe, *brokerList, *topicList, stdout, stderr); err != nil {
		return clitool.Fail(stderr, err)
	}
	return clitool.ExitOK
}

func run(ctx context.Context, bootstrap, commandConfig string, describe bool, brokerList, topicList string, stdout, stderr io.Writer) error {
	if !describe {
		return clitool.Usagef("missing required option --describe")
	}
	if err := clitool.Required("bootstrap-server", bootstrap); err != nil {
		return err
	}
	var ids []int32
	for _, s := range splitList(brokerList) {
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			return clitool.Usagef("--broker-list %q: want comma-separated broker ids", brokerList)
		}
		ids = append(ids, int32(n))
	}
	cl, err := clitool.AdminClient(bootstrap, commandConfig, stderr)
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	meta, err := adm.Metadata(ctx)
	if err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	if len(ids) == 0 {
		ids = meta.Brokers.NodeIDs()
	}
	var set kadm.TopicsSet // nil: every topic
	if topics := splitList(topicList); len(topics) > 0 {
		set = kadm.TopicsSet{}
		for _, t := range topics {
			d, ok := meta.Topics[t]
			if !ok || d.Err != nil {
				continue // Kafka lists nothing for a topic it does not know
			}
			for p := range d.Partitions {
				set.Add(t, p)
			}
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	fmt.Fprintln(stdout, "Querying brokers for log directories information")
	out := output{Version: 1}
	for _, id := range ids {
		dirs, err := adm.DescribeBrokerLogDirs(ctx, id, set)
		if err != nil {
			return fmt.Errorf("broker %d: %w", id, err)
		}
		bd := brokerDirs{Broker: id, LogDirs: []logDir{}}
		for _, d := range dirs.Sorted() {
			ld := logDir{LogDir: d.Dir, Partitions: []partition{}}
			if d.Err != nil {
				msg := d.Err.Error()
				ld.Error = &msg
			}
			for _, p := range d.Topics.Sorted() {
				ld.Partitions = append(ld.Partitions, partition{
					Partition: fmt.Sprintf("%s-%d", p.Topic, p.Partition), Size: p.Size, OffsetLag: p.OffsetLag, IsFuture: p.IsFuture,
				})
			}
			bd.LogDirs = append(bd.LogDirs, ld)
		}
		out.Brokers = append(out.Brokers, bd)
	}
	idStrs := make([]string, len(ids))
	for i, id := range ids {
		idStrs[i] = strconv.Itoa(int(id))
	}
	fmt.Fprintf(stdout, "Received log directory information from brokers %s\n", strings.Join(idStrs, ","))
	b, err := json.Marshal(out)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, string(b))
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}
