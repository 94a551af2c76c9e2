// Package topics is `strom topics` (kafka-topics.sh): create, list,
// describe, alter (add partitions) and delete topics through the admin API
// of a broker, or, with --zookeeper, through the cluster's ZooKeeper as
// Kafka's tool did up to 2.x (zookeeper.go).
package topics

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/tools/cli/clitool"
)

const synopsis = `Usage: strom topics (--bootstrap-server HOST:PORT | --zookeeper HOST:PORT[/CHROOT]) ACTION [options]

Create, delete, describe, or change a topic. ACTION is exactly one of
--create, --list, --describe, --alter, --delete.

  strom topics --bootstrap-server localhost:9092 --create --topic t --partitions 3 --replication-factor 1 --config retention.ms=60000
  strom topics --bootstrap-server localhost:9092 --describe --topic t`

// options are the parsed flags.
type options struct {
	bootstrap, commandConfig               *string
	zookeeper                              string
	create, list, describe, alter, delete  bool
	topic                                  string
	partitions, replicationFactor          int
	configs                                clitool.StringList
	ifNotExists, ifExists, excludeInternal bool
	// describe filters (Kafka's report options)
	underReplicated, unavailable, underMinISR, atMinISR, withOverrides bool
}

// partitionFilter reports whether a --describe partition filter is set;
// then only matching partition lines are printed, without topic lines.
func (o *options) partitionFilter() bool {
	return o.underReplicated || o.unavailable || o.underMinISR || o.atMinISR
}

// Run is the `topics` subcommand.
func Run(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	var o options
	fs := clitool.NewFlagSet("topics", synopsis)
	o.bootstrap = clitool.Bootstrap(fs)
	o.commandConfig = clitool.CommandConfig(fs)
	fs.StringVar(&o.zookeeper, "zookeeper", "", "HOST:PORT[,HOST:PORT...][/CHROOT]: work on the cluster's ZooKeeper directly instead of through a broker, as Kafka 0.8's tool did (the controller acts on what it writes).")
	fs.BoolVar(&o.create, "create", false, "Create a new topic.")
	fs.BoolVar(&o.list, "list", false, "List all topics.")
	fs.BoolVar(&o.describe, "describe", false, "Describe the given topic, or all topics.")
	fs.BoolVar(&o.alter, "alter", false, "Increase the partition count of a topic (with --partitions).")
	fs.BoolVar(&o.delete, "delete", false, "Delete a topic.")
	fs.StringVar(&o.topic, "topic", "", "The topic to create; for --list, --describe, --alter and --delete a regular expression matching whole topic names (a plain name matches itself).")
	fs.IntVar(&o.partitions, "partitions", -1, "Partition count for --create (-1: the broker's num.partitions) or the new count for --alter.")
	fs.IntVar(&o.replicationFactor, "replication-factor", -1, "Replication factor for --create (-1: the broker's default.replication.factor).")
	fs.Var(&o.configs, "config", "A topic config override key=value for --create; repeatable.")
	fs.BoolVar(&o.ifNotExists, "if-not-exists", false, "With --create: do nothing if the topic exists.")
	fs.BoolVar(&o.ifExists, "if-exists", false, "With --alter, --describe or --delete: do nothing if no topic matches.")
	fs.BoolVar(&o.excludeInternal, "exclude-internal", false, "With --list, --describe or --delete: leave out internal topics.")
	fs.BoolVar(&o.underReplicated, "under-replicated-partitions", false, "With --describe: only partitions whose ISR is smaller than their replica set.")
	fs.BoolVar(&o.unavailable, "unavailable-partitions", false, "With --describe: only partitions without a live leader.")
	fs.BoolVar(&o.underMinISR, "under-min-isr-partitions", false, "With --describe: only partitions whose ISR is smaller than min.insync.replicas.")
	fs.BoolVar(&o.atMinISR, "at-min-isr-partitions", false, "With --describe: only partitions whose ISR is exactly min.insync.replicas.")
	fs.BoolVar(&o.withOverrides, "topics-with-overrides", false, "With --describe: only topics with config overrides, without their partitions.")
	if done, code := fs.Parse(args, stdout, stderr); done {
		return code
	}
	if err := run(ctx, &o, stdout, stderr); err != nil {
		return clitool.Fail(stderr, err)
	}
	return clitool.ExitOK
}

func run(ctx context.Context, o *options, stdout, stderr io.Writer) error {
	if err := clitool.ExactlyOne("--list, --describe, --create, --alter or --delete", o.create, o.list, o.describe, o.alter, o.delete); err != nil {
		return err
	}
	if *o.bootstrap != "" && o.zookeeper != "" {
		return clitool.Usagef("give either --bootstrap-server or --zookeeper, not both")
	}
	if o.zookeeper == "" {
		if err := clitool.Required("bootstrap-server", *o.bootstrap); err != nil {
			return err
		}
	}
	if (o.create || o.alter || o.delete) && o.topic == "" {
		return clitool.Usagef("missing required option --topic")
	}
	if len(o.configs) > 0 && o.alter {
		return clitool.Usagef("--config cannot be used with --alter: to change topic configs use kafka-configs.sh --bootstrap-server HOST:PORT --alter --entity-type topics --entity-name %s --add-config k=v", o.topic)
	}
	if o.alter && o.partitions < 1 {
		return clitool.Usagef("--alter needs --partitions N (N >= 1)")
	}
	if len(o.configs) > 0 && !o.create {
		return clitool.Usagef("--config is only valid with --create")
	}
	if (o.partitionFilter() || o.withOverrides) && !o.describe {
		return clitool.Usagef("the partition and override filters (--under-replicated-partitions, ..., --topics-with-overrides) are only valid with --describe")
	}
	if o.zookeeper != "" {
		return runZooKeeper(ctx, o, stdout)
	}
	cl, err := clitool.AdminClient(*o.bootstrap, *o.commandConfig, stderr)
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	switch {
	case o.create:
		return create(ctx, adm, o, stdout)
	case o.list:
		return list(ctx, adm, o, stdout)
	case o.describe:
		return describe(ctx, adm, o, stdout)
	case o.alter:
		return alter(ctx, adm, o)
	default:
		return deleteTopic(ctx, adm, o)
	}
}

func create(ctx context.Context, adm *kadm.Client, o *options, stdout io.Writer) error {
	kv, err := clitool.ParseKV(o.configs, "--config")
	if err != nil {
		return err
	}
	configs := make(map[string]*string, len(kv))
	for k, v := range kv {
		configs[k] = kadm.StringPtr(v)
	}
	if o.partitions == 0 || o.partitions < -1 || o.replicationFactor == 0 || o.replicationFactor < -1 {
		return clitool.Usagef("--partitions and --replication-factor must be >= 1")
	}
	resps, err := adm.CreateTopics(ctx, int32(o.partitions), int16(o.replicationFactor), configs, o.topic)
	if err == nil {
		err = resps[o.topic].Err
	}
	switch {
	case errors.Is(err, kerr.TopicAlreadyExists) && o.ifNotExists:
		return nil
	case errors.Is(err, kerr.TopicAlreadyExists):
		return fmt.Errorf("topic '%s' already exists", o.topic)
	case errors.Is(err, kerr.InvalidConfig):
		return fmt.Errorf("create topic %s: %w", o.topic, badConfig(ctx, adm, o, kv, resps[o.topic].ErrMessage))
	case err != nil:
		return fmt.Errorf("create topic %s: %w", o.topic, err)
	}
	fmt.Fprintf(stdout, "Created topic %s.\n", o.topic)
	return nil
}

// topicPattern compiles --topic as a regular expression matching whole
// topic names, Kafka's rule (nil when --topic is not given).
func (o *options) topicPattern() (*regexp.Regexp, error) {
	if o.topic == "" {
		return nil, nil
	}
	re, err := regexp.Compile("^(?:" + o.topic + ")$")
	if err != nil {
		return nil, clitool.Usagef("--topic %q is not a regular expression: %v", o.topic, err)
	}
	return re, nil
}

// matching returns the topics matching o.topic (every topic when it is
// empty), sorted, without internal ones under --exclude-internal. With
// required, no match is an error (unless --if-exists).
func matching(ctx context.Context, adm *kadm.Client, o *options, required bool) (kadm.TopicDetails, []string, error) {
	re, err := o.topicPattern()
	if err != nil {
		return nil, nil, err
	}
	details, err := adm.ListTopicsWithInternal(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("listing topics: %w", err)
	}
	var names []string
	for _, d := range details.Sorted() {
		if d.Err != nil || (o.excludeInternal && d.IsInternal) || (re != nil && !re.MatchString(d.Topic)) {
			continue
		}
		names = append(names, d.Topic)
	}
	if required && len(names) == 0 && o.topic != "" && !o.ifExists {
		return nil, nil, fmt.Errorf("topic '%s' does not exist as expected", o.topic)
	}
	return details, names, nil
}

// badConfig names the --config entry the broker refused: it validates
// each alone (validate-only CreateTopics) and reports the first refused,
// with the broker's message.
func badConfig(ctx context.Context, adm *kadm.Client, o *options, kv map[string]string, msg string) error {
	keys := slices.Sorted(maps.Keys(kv))
	for _, k := range keys {
		resps, err := adm.ValidateCreateTopics(ctx, int32(o.partitions), int16(o.replicationFactor), map[string]*string{k: kadm.StringPtr(kv[k])}, o.topic)
		if err != nil {
			break
		}
		if r := resps[o.topic]; r.Err != nil {
			detail := r.Err.Error()
			if r.ErrMessage != "" {
				detail = r.ErrMessage
			}
			return fmt.Errorf("invalid --config %s=%s: %s", k, kv[k], detail)
		}
	}
	if msg == "" {
		msg = kerr.InvalidConfig.Error()
	}
	return fmt.Errorf("invalid --config (%s): %s", strings.Join(keys, ", "), msg)
}

func list(ctx context.Context, adm *kadm.Client, o *options, stdout io.Writer) error {
	_, names, err := matching(ctx, adm, o, false)
	if err != nil {
		return err
	}
	for _, name := range names {
		fmt.Fprintln(stdout, name)
	}
	return nil
}

func describe(ctx context.Context, adm *kadm.Client, o *options, stdout io.Writer) error {
	details, names, err := matching(ctx, adm, o, true)
	if err != nil {
		return err
	}
	printDescribe(details, names, topicConfigs(ctx, adm, names), o, stdout)
	return nil
}

// printDescribe prints --describe's lines for names, as Kafka's
// TopicCommand does.
func printDescribe(details kadm.TopicDetails, names []string, configs map[string]topicConfig, o *options, stdout io.Writer) {
	for _, name := range names {
		d := details[name]
		c := configs[name]
		if o.withOverrides && c.overrides == "" {
			continue
		}
		rf := 0
		parts := d.Partitions.Sorted()
		if len(parts) > 0 {
			rf = len(parts[0].Replicas)
		}
		if !o.partitionFilter() {
			fmt.Fprintf(stdout, "Topic: %s\tTopicId: %s\tPartitionCount: %d\tReplicationFactor: %d\tConfigs: %s\n",
				name, TopicID(d.ID), len(parts), rf, c.overrides)
		}
		if o.withOverrides {
			continue
		}
		for _, p := range parts {
			if !o.wants(p, c.minISR) {
				continue
			}
			leader := "none"
			if p.Leader >= 0 {
				leader = fmt.Sprint(p.Leader)
			}
			fmt.Fprintf(stdout, "\tTopic: %s\tPartition: %d\tLeader: %s\tReplicas: %s\tIsr: %s",
				name, p.Partition, leader, joinIDs(p.Replicas), joinIDs(p.ISR))
			if len(p.OfflineReplicas) > 0 {
				fmt.Fprintf(stdout, "\tOffline: %s", joinIDs(p.OfflineReplicas))
			}
			fmt.Fprintln(stdout)
		}
	}
}

// wants reports whether partition p passes the --describe partition
// filters (any of them, as in Kafka); minISR is the topic's
// min.insync.replicas.
func (o *options) wants(p kadm.PartitionDetail, minISR int) bool {
	if !o.partitionFilter() {
		return true
	}
	switch {
	case o.underReplicated && len(p.ISR) < len(p.Replicas):
	case o.unavailable && (p.Leader < 0 || slices.Contains(p.OfflineReplicas, p.Leader)):
	case o.underMinISR && len(p.ISR) < minISR:
	case o.atMinISR && len(p.ISR) == minISR:
	default:
		return false
	}
	return true
}

// topicConfig is what --describe shows of a topic's configs.
type topicConfig struct {
	// overrides is the "k=v,k=v" list of configs set on the topic itself
	// (Kafka shows only those).
	overrides string
	// minISR is its effective min.insync.replicas.
	minISR int
}

// topicConfigs describes the topics' configs. A broker that cannot
// describe configs yields no overrides and min.insync.replicas 1 rather
// than failing the describe.
func topicConfigs(ctx context.Context, adm *kadm.Client, topics []string) map[string]topicConfig {
	out := map[string]topicConfig{}
	for _, t := range topics {
		out[t] = topicConfig{minISR: 1}
	}
	if len(topics) == 0 {
		return out
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, topics...)
	if err != nil {
		return out
	}
	for _, rc := range rcs {
		if rc.Err != nil {
			continue
		}
		tc := topicConfig{minISR: 1}
		var kvs []string
		for _, c := range rc.Configs {
			if c.Source == kmsg.ConfigSourceDynamicTopicConfig {
				kvs = append(kvs, c.Key+"="+c.MaybeValue())
			}
			if c.Key == "min.insync.replicas" {
				if n, err := strconv.Atoi(c.MaybeValue()); err == nil {
					tc.minISR = n
				}
			}
		}
		sort.Strings(kvs)
		tc.overrides = strings.Join(kvs, ",")
		out[rc.Name] = tc
	}
	return out
}

func alter(ctx context.Context, adm *kadm.Client, o *options) error {
	_, names, err := matching(ctx, adm, o, true)
	if err != nil || len(names) == 0 {
		return err // no match is fine with --if-exists
	}
	resps, err := adm.UpdatePartitions(ctx, o.partitions, names...)
	if err != nil {
		return fmt.Errorf("alter topics %s: %w", strings.Join(names, ","), err)
	}
	for _, name := range names {
		r, ok := resps[name]
		if err := topicError("alter", name, ok, r.Err, r.ErrMessage, o.ifExists); err != nil {
			return err
		}
	}
	return nil
}

// topicError is the error of one topic in an admin response (ok: there
// was an entry for it), or nil; a topic that no longer exists is fine with
// ifExists.
func topicError(verb, name string, ok bool, err error, msg string, ifExists bool) error {
	switch {
	case !ok:
		return fmt.Errorf("%s topic %s: no response for the topic", verb, name)
	case err == nil, errors.Is(err, kerr.UnknownTopicOrPartition) && ifExists:
		return nil
	case msg != "":
		return fmt.Errorf("%s topic %s: %w: %s", verb, name, err, msg)
	}
	return fmt.Errorf("%s topic %s: %w", verb, name, err)
}

// internalTopics are Kafka's internal topics, which the tool never deletes.
var internalTopics = map[string]bool{"__consumer_offsets": true, "__transaction_state": true}

func deleteTopic(ctx context.Context, adm *kadm.Client, o *options) error {
	if internalTopics[o.topic] {
		return fmt.Errorf("Topic %s is a kafka internal topic and is not allowed to be marked for deletion.", o.topic)
	}
	details, names, err := matching(ctx, adm, o, true)
	if err != nil {
		return err
	}
	for _, name := range names {
		if internalTopics[name] || details[name].IsInternal {
			return fmt.Errorf("Topic %s is a kafka internal topic and is not allowed to be marked for deletion.", name)
		}
	}
	if len(names) == 0 {
		return nil // --if-exists
	}
	resps, err := adm.DeleteTopics(ctx, names...)
	if err != nil {
		return fmt.Errorf("delete topics %s: %w", strings.Join(names, ","), err)
	}
	for _, name := range names {
		r, ok := resps[name]
		if err := topicError("delete", name, ok, r.Err, r.ErrMessage, o.ifExists); err != nil {
			return err
		}
	}
	return nil
}

// TopicID formats a topic id like Kafka's Uuid.toString: URL-safe base64
// without padding.
func TopicID(id kadm.TopicID) string { return base64.RawURLEncoding.EncodeToString(id[:]) }

func joinIDs(ids []int32) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = fmt.Sprint(id)
	}
	return strings.Join(s, ",")
}
