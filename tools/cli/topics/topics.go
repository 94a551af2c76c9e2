// Package topics is `strom topics` (kafka-topics.sh): create, list,
// describe, alter (add partitions) and delete topics through the admin API.
package topics

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/tools/cli/clitool"
)

const synopsis = `Usage: strom topics --bootstrap-server HOST:PORT ACTION [options]

Create, delete, describe, or change a topic. ACTION is exactly one of
--create, --list, --describe, --alter, --delete.

  strom topics --bootstrap-server localhost:9092 --create --topic t --partitions 3 --replication-factor 1 --config retention.ms=60000
  strom topics --bootstrap-server localhost:9092 --describe --topic t`

// options are the parsed flags.
type options struct {
	bootstrap                              *string
	create, list, describe, alter, delete  bool
	topic                                  string
	partitions, replicationFactor          int
	configs                                clitool.StringList
	ifNotExists, ifExists, excludeInternal bool
}

// Run is the `topics` subcommand.
func Run(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	var o options
	fs := clitool.NewFlagSet("topics", synopsis)
	o.bootstrap = clitool.Bootstrap(fs)
	fs.BoolVar(&o.create, "create", false, "Create a new topic.")
	fs.BoolVar(&o.list, "list", false, "List all topics.")
	fs.BoolVar(&o.describe, "describe", false, "Describe the given topic, or all topics.")
	fs.BoolVar(&o.alter, "alter", false, "Increase the partition count of a topic (with --partitions).")
	fs.BoolVar(&o.delete, "delete", false, "Delete a topic.")
	fs.StringVar(&o.topic, "topic", "", "The topic to create, alter, describe or delete.")
	fs.IntVar(&o.partitions, "partitions", -1, "Partition count for --create (-1: the broker's num.partitions) or the new count for --alter.")
	fs.IntVar(&o.replicationFactor, "replication-factor", -1, "Replication factor for --create (-1: the broker's default.replication.factor).")
	fs.Var(&o.configs, "config", "A topic config override key=value for --create; repeatable.")
	fs.BoolVar(&o.ifNotExists, "if-not-exists", false, "With --create: do nothing if the topic exists.")
	fs.BoolVar(&o.ifExists, "if-exists", false, "With --alter or --delete: do nothing if the topic does not exist.")
	fs.BoolVar(&o.excludeInternal, "exclude-internal", false, "With --list or --describe: leave out internal topics.")
	if done, code := fs.Parse(args, stdout, stderr); done {
		return code
	}
	if err := run(ctx, &o, stdout); err != nil {
		return clitool.Fail(stderr, err)
	}
	return clitool.ExitOK
}

func run(ctx context.Context, o *options, stdout io.Writer) error {
	if err := clitool.ExactlyOne("--list, --describe, --create, --alter or --delete", o.create, o.list, o.describe, o.alter, o.delete); err != nil {
		return err
	}
	if err := clitool.Required("bootstrap-server", *o.bootstrap); err != nil {
		return err
	}
	if (o.create || o.alter || o.delete) && o.topic == "" {
		return clitool.Usagef("missing required option --topic")
	}
	if o.alter && o.partitions < 1 {
		return clitool.Usagef("--alter needs --partitions N (N >= 1)")
	}
	if len(o.configs) > 0 && !o.create {
		return clitool.Usagef("--config is only valid with --create")
	}
	cl, err := clitool.NewClient(*o.bootstrap)
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
	_, err = adm.CreateTopic(ctx, int32(o.partitions), int16(o.replicationFactor), configs, o.topic)
	switch {
	case errors.Is(err, kerr.TopicAlreadyExists) && o.ifNotExists:
		return nil
	case errors.Is(err, kerr.TopicAlreadyExists):
		return fmt.Errorf("topic '%s' already exists", o.topic)
	case err != nil:
		return fmt.Errorf("create topic %s: %w", o.topic, err)
	}
	fmt.Fprintf(stdout, "Created topic %s.\n", o.topic)
	return nil
}

func list(ctx context.Context, adm *kadm.Client, o *options, stdout io.Writer) error {
	details, err := adm.ListTopicsWithInternal(ctx)
	if err != nil {
		return fmt.Errorf("list topics: %w", err)
	}
	for _, d := range details.Sorted() {
		if d.Err != nil || (o.excludeInternal && d.IsInternal) {
			continue
		}
		fmt.Fprintln(stdout, d.Topic)
	}
	return nil
}

func describe(ctx context.Context, adm *kadm.Client, o *options, stdout io.Writer) error {
	var topics []string
	if o.topic != "" {
		topics = []string{o.topic}
	}
	details, err := adm.ListTopicsWithInternal(ctx, topics...)
	if err != nil {
		return fmt.Errorf("describe topics: %w", err)
	}
	if o.topic != "" {
		if d, ok := details[o.topic]; !ok || d.Err != nil {
			return fmt.Errorf("topic '%s' does not exist as expected", o.topic)
		}
	}
	var names []string
	for _, d := range details.Sorted() {
		if d.Err == nil && !(o.excludeInternal && d.IsInternal) {
			names = append(names, d.Topic)
		}
	}
	configs := dynamicConfigs(ctx, adm, names)
	for _, name := range names {
		d := details[name]
		rf := 0
		parts := d.Partitions.Sorted()
		if len(parts) > 0 {
			rf = len(parts[0].Replicas)
		}
		fmt.Fprintf(stdout, "Topic: %s\tTopicId: %s\tPartitionCount: %d\tReplicationFactor: %d\tConfigs: %s\n",
			name, TopicID(d.ID), len(parts), rf, configs[name])
		for _, p := range parts {
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
	return nil
}

// dynamicConfigs returns, per topic, the "k=v,k=v" list of configs set on
// the topic itself (Kafka shows only those). A broker that cannot describe
// configs yields empty lists rather than failing the describe.
func dynamicConfigs(ctx context.Context, adm *kadm.Client, topics []string) map[string]string {
	out := map[string]string{}
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
		var kvs []string
		for _, c := range rc.Configs {
			if c.Source == kmsg.ConfigSourceDynamicTopicConfig {
				kvs = append(kvs, c.Key+"="+c.MaybeValue())
			}
		}
		sort.Strings(kvs)
		out[rc.Name] = strings.Join(kvs, ",")
	}
	return out
}

func alter(ctx context.Context, adm *kadm.Client, o *options) error {
	resps, err := adm.UpdatePartitions(ctx, o.partitions, o.topic)
	if err != nil {
		return fmt.Errorf("alter topic %s: %w", o.topic, err)
	}
	r, ok := resps[o.topic]
	switch {
	case !ok:
		return fmt.Errorf("alter topic %s: no response for the topic", o.topic)
	case errors.Is(r.Err, kerr.UnknownTopicOrPartition) && o.ifExists:
		return nil
	case errors.Is(r.Err, kerr.UnknownTopicOrPartition):
		return fmt.Errorf("topic '%s' does not exist as expected", o.topic)
	case r.Err != nil:
		msg := r.Err.Error()
		if r.ErrMessage != "" {
			msg += ": " + r.ErrMessage
		}
		return fmt.Errorf("alter topic %s: %s", o.topic, msg)
	}
	return nil
}

// internalTopics are Kafka's internal topics, which the tool never deletes.
var internalTopics = map[string]bool{"__consumer_offsets": true, "__transaction_state": true}

func deleteTopic(ctx context.Context, adm *kadm.Client, o *options) error {
	if internalTopics[o.topic] {
		return fmt.Errorf("Topic %s is a kafka internal topic and is not allowed to be marked for deletion.", o.topic)
	}
	r, err := adm.DeleteTopic(ctx, o.topic)
	switch {
	case errors.Is(err, kerr.UnknownTopicOrPartition) && o.ifExists:
		return nil
	case errors.Is(err, kerr.UnknownTopicOrPartition):
		return fmt.Errorf("topic '%s' does not exist as expected", o.topic)
	case err != nil:
		return fmt.Errorf("delete topic %s: %w", o.topic, err)
	case r.Err != nil:
		return fmt.Errorf("delete topic %s: %w", o.topic, r.Err)
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
