// Package configs is `strom configs` (kafka-configs.sh): describe and
// alter topic and broker configs over DescribeConfigs and
// IncrementalAlterConfigs.
//
// Output is Kafka's ConfigCommand's:
//
//	Dynamic configs for topic t are:
//	  retention.ms=1000 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:retention.ms=1000, DEFAULT_CONFIG:log.retention.hours=168}
//
// ("All configs for ..." with --all; "Default configs for brokers in the
// cluster are:" with --entity-default) and "Completed updating config for
// topic t." after --alter.
package configs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/tools/cli/clitool"
	"github.com/strom-broker/strom/tools/properties"
)

const synopsis = `Usage: strom configs --bootstrap-server HOST:PORT --entity-type topics|brokers (--entity-name NAME | --entity-default) (--describe [--all] | --alter --add-config k=v[,k=v] --delete-config k[,k])

Describes or changes the configs of a topic or broker.

  strom configs --bootstrap-server localhost:9092 --entity-type topics --entity-name t --describe
  strom configs --bootstrap-server localhost:9092 --entity-type topics --entity-name t --alter --add-config retention.ms=60000,cleanup.policy=[compact,delete]
  strom configs --bootstrap-server localhost:9092 --entity-type brokers --entity-name 0 --describe --all`

// options are the parsed flags.
type options struct {
	bootstrap, commandConfig                  *string
	entityType, entityName, addConfig, delete string
	addConfigFile, topic, broker              string
	entityDefault, brokerDefaults             bool
	describe, alter, all                      bool
}

// Run is the `configs` subcommand.
func Run(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	var o options
	fs := clitool.NewFlagSet("configs", synopsis)
	o.bootstrap = clitool.Bootstrap(fs)
	o.commandConfig = clitool.CommandConfig(fs)
	fs.StringVar(&o.entityType, "entity-type", "", "topics or brokers.")
	fs.StringVar(&o.entityName, "entity-name", "", "The topic name or broker id.")
	fs.BoolVar(&o.entityDefault, "entity-default", false, "With --entity-type brokers: the cluster-wide default broker configs.")
	fs.StringVar(&o.topic, "topic", "", "Shorthand for --entity-type topics --entity-name TOPIC.")
	fs.StringVar(&o.broker, "broker", "", "Shorthand for --entity-type brokers --entity-name ID.")
	fs.BoolVar(&o.brokerDefaults, "broker-defaults", false, "Shorthand for --entity-type brokers --entity-default.")
	fs.BoolVar(&o.describe, "describe", false, "List the configs (the dynamic ones; with --all every one).")
	fs.BoolVar(&o.all, "all", false, "With --describe: every config, with its synonyms, not only the dynamic ones.")
	fs.BoolVar(&o.alter, "alter", false, "Change configs (--add-config, --add-config-file, --delete-config).")
	fs.StringVar(&o.addConfig, "add-config", "", "Configs to set: k=v,k=v; a list value in brackets: k=[a,b].")
	fs.StringVar(&o.addConfigFile, "add-config-file", "", "A properties file of configs to set.")
	fs.StringVar(&o.delete, "delete-config", "", "Configs to remove (back to their defaults): k,k.")
	if done, code := fs.Parse(args, stdout, stderr); done {
		return code
	}
	if err := run(ctx, &o, stdout, stderr); err != nil {
		return clitool.Fail(stderr, err)
	}
	return clitool.ExitOK
}

// entity is what the command acts on.
type entity struct {
	topics bool   // else brokers
	name   string // "" with isDefault or when describing every entity
	isDef  bool
}

// label is how Kafka's messages name the entity ("topic t", "broker 0").
func (e entity) label(name string) string {
	if e.topics {
		return "topic " + name
	}
	return "broker " + name
}

func (o *options) entity() (entity, error) {
	typ, name, def := o.entityType, o.entityName, o.entityDefault
	switch {
	case o.topic != "":
		typ, name = "topics", o.topic
	case o.broker != "":
		typ, name = "brokers", o.broker
	case o.brokerDefaults:
		typ, def = "brokers", true
	}
	var e entity
	switch typ {
	case "topics", "topic":
		e.topics = true
	case "brokers", "broker":
	case "":
		return e, clitool.Usagef("missing required option --entity-type (topics or brokers)")
	default:
		return e, clitool.Usagef("--entity-type %s: not supported (topics or brokers; client quotas and users are not yet)", typ)
	}
	if def && e.topics {
		return e, clitool.Usagef("--entity-default is only valid with --entity-type brokers")
	}
	if def && name != "" {
		return e, clitool.Usagef("options --entity-name and --entity-default cannot be specified together")
	}
	if !e.topics && name != "" {
		if _, err := strconv.ParseInt(name, 10, 32); err != nil {
			return e, clitool.Usagef("the entity name for brokers must be a valid integer broker id, but it is: %s", name)
		}
	}
	e.name, e.isDef = name, def
	return e, nil
}

func run(ctx context.Context, o *options, stdout, stderr io.Writer) error {
	if err := clitool.ExactlyOne("--describe or --alter", o.describe, o.alter); err != nil {
		return err
	}
	if err := clitool.Required("bootstrap-server", *o.bootstrap); err != nil {
		return err
	}
	e, err := o.entity()
	if err != nil {
		return err
	}
	if o.alter && e.name == "" && !e.isDef {
		return clitool.Usagef("--alter needs --entity-name or --entity-default")
	}
	cl, err := clitool.AdminClient(*o.bootstrap, *o.commandConfig, stderr)
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if o.describe {
		return describe(ctx, adm, o, e, stdout)
	}
	return alter(ctx, adm, o, e, stdout)
}

func describe(ctx context.Context, adm *kadm.Client, o *options, e entity, stdout io.Writer) error {
	var (
		rcs kadm.ResourceConfigs
		err error
	)
	switch {
	case e.topics && e.name == "":
		var names []string
		if names, err = allTopics(ctx, adm); err == nil {
			rcs, err = adm.DescribeTopicConfigs(ctx, names...)
		}
	case e.topics:
		rcs, err = adm.DescribeTopicConfigs(ctx, e.name)
	case e.isDef:
		rcs, err = adm.DescribeBrokerConfigs(ctx)
	case e.name == "":
		var ids []int32
		if ids, err = allBrokers(ctx, adm); err == nil {
			rcs, err = adm.DescribeBrokerConfigs(ctx, ids...)
		}
	default:
		id, _ := strconv.ParseInt(e.name, 10, 32)
		rcs, err = adm.DescribeBrokerConfigs(ctx, int32(id))
	}
	if err != nil {
		return fmt.Errorf("describing configs: %w", err)
	}
	for _, rc := range rcs {
		if rc.Err != nil {
			return fmt.Errorf("%s: %w%s", e.label(rc.Name), rc.Err, suffix(rc.ErrMessage))
		}
		switch {
		case e.isDef:
			fmt.Fprintln(stdout, "Default configs for brokers in the cluster are:")
		case o.all:
			fmt.Fprintf(stdout, "All configs for %s are:\n", e.label(rc.Name))
		default:
			fmt.Fprintf(stdout, "Dynamic configs for %s are:\n", e.label(rc.Name))
		}
		configs := slices.Clone(rc.Configs)
		sort.Slice(configs, func(i, j int) bool { return configs[i].Key < configs[j].Key })
		for _, c := range configs {
			if o.all || dynamic(c.Source, e) {
				fmt.Fprintf(stdout, "  %s\n", line(c))
			}
		}
	}
	return nil
}

// dynamic reports whether a config of this source is one Kafka lists
// without --all: set on the topic, the broker, or as the broker default.
func dynamic(src kmsg.ConfigSource, e entity) bool {
	switch {
	case e.topics:
		return src == kmsg.ConfigSourceDynamicTopicConfig
	case e.isDef:
		return src == kmsg.ConfigSourceDynamicDefaultBrokerConfig
	}
	return src == kmsg.ConfigSourceDynamicBrokerConfig || src == kmsg.ConfigSourceDynamicDefaultBrokerConfig
}

// line is Kafka's "k=v sensitive=false synonyms={SOURCE:k=v, ...}".
func line(c kadm.Config) string {
	syns := make([]string, len(c.Synonyms))
	for i, s := range c.Synonyms {
		syns[i] = fmt.Sprintf("%s:%s=%s", s.Source, s.Key, value(s.Value))
	}
	if len(syns) == 0 && c.Source != kmsg.ConfigSourceDefaultConfig {
		// Kafka's first synonym is the config itself; a broker that sends
		// none still gets it shown.
		syns = append(syns, fmt.Sprintf("%s:%s=%s", c.Source, c.Key, value(c.Value)))
	}
	return fmt.Sprintf("%s=%s sensitive=%t synonyms={%s}", c.Key, value(c.Value), c.Sensitive, strings.Join(syns, ", "))
}

func value(v *string) string {
	if v == nil {
		return "null"
	}
	return *v
}

func suffix(msg string) string {
	if msg == "" {
		return ""
	}
	return ": " + msg
}

func alter(ctx context.Context, adm *kadm.Client, o *options, e entity, stdout io.Writer) error {
	set, err := ParseConfigList(o.addConfig)
	if err != nil {
		return err
	}
	if o.addConfigFile != "" {
		f, err := os.Open(o.addConfigFile)
		if err != nil {
			return fmt.Errorf("--add-config-file: %w", err)
		}
		ps, err := properties.Parse(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("--add-config-file %s: %w", o.addConfigFile, err)
		}
		for _, p := range ps {
			set = append(set, [2]string{p.Key, p.Value})
		}
	}
	var del []string
	for _, k := range strings.Split(o.delete, ",") {
		if k = strings.TrimSpace(k); k != "" {
			del = append(del, k)
		}
	}
	if len(set) == 0 && len(del) == 0 {
		return clitool.Usagef("--alter needs --add-config, --add-config-file or --delete-config")
	}
	for _, kv := range set {
		if slices.Contains(del, kv[0]) {
			return clitool.Usagef("config %s is both added and deleted", kv[0])
		}
	}
	if len(del) > 0 && e.topics {
		// Kafka refuses to delete a config the topic does not set.
		rcs, err := adm.DescribeTopicConfigs(ctx, e.name)
		if err != nil {
			return fmt.Errorf("describing configs: %w", err)
		}
		rc, err := rcs.On(e.name, nil)
		if err == nil {
			err = rc.Err
		}
		if err != nil {
			return fmt.Errorf("%s: %w%s", e.label(e.name), err, suffix(rc.ErrMessage))
		}
		var missing []string
		for _, k := range del {
			if !slices.ContainsFunc(rc.Configs, func(c kadm.Config) bool { return c.Key == k && dynamic(c.Source, e) }) {
				missing = append(missing, k)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("invalid config(s): %s (not set on %s)", strings.Join(missing, ","), e.label(e.name))
		}
	}
	var changes []kadm.AlterConfig
	for _, kv := range set {
		changes = append(changes, kadm.AlterConfig{Op: kadm.SetConfig, Name: kv[0], Value: kadm.StringPtr(kv[1])})
	}
	for _, k := range del {
		changes = append(changes, kadm.AlterConfig{Op: kadm.DeleteConfig, Name: k})
	}
	var resps kadm.AlterConfigsResponses
	switch {
	case e.topics:
		resps, err = adm.AlterTopicConfigs(ctx, changes, e.name)
	case e.isDef:
		resps, err = adm.AlterBrokerConfigs(ctx, changes)
	default:
		id, _ := strconv.ParseInt(e.name, 10, 32)
		resps, err = adm.AlterBrokerConfigs(ctx, changes, int32(id))
	}
	if err != nil {
		return fmt.Errorf("altering configs: %w", err)
	}
	for _, r := range resps {
		if r.Err != nil {
			if errors.Is(r.Err, kerr.UnknownTopicOrPartition) {
				return fmt.Errorf("%s does not exist", e.label(e.name))
			}
			return fmt.Errorf("altering configs of %s: %w%s", e.label(e.name), r.Err, suffix(r.ErrMessage))
		}
	}
	if e.isDef {
		fmt.Fprintln(stdout, "Completed updating default config for brokers in the cluster.")
	} else {
		fmt.Fprintf(stdout, "Completed updating config for %s.\n", e.label(e.name))
	}
	return nil
}

// ParseConfigList parses Kafka's --add-config syntax: k=v pairs separated
// by commas, a value holding commas written in square brackets
// (cleanup.policy=[compact,delete], brackets dropped).
func ParseConfigList(s string) ([][2]string, error) {
	var out [][2]string
	for rest := strings.TrimSpace(s); rest != ""; {
		k, after, ok := strings.Cut(rest, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" || strings.Contains(k, ",") {
			return nil, clitool.Usagef("--add-config %q: want k=v[,k=v...]", s)
		}
		var v string
		if strings.HasPrefix(after, "[") {
			end := strings.Index(after, "]")
			if end < 0 {
				return nil, clitool.Usagef("--add-config %q: unclosed [ in the value of %s", s, k)
			}
			v, rest = after[1:end], strings.TrimPrefix(after[end+1:], ",")
		} else {
			v, rest, _ = strings.Cut(after, ",")
		}
		out = append(out, [2]string{k, v})
		rest = strings.TrimSpace(rest)
	}
	return out, nil
}

func allTopics(ctx context.Context, adm *kadm.Client) ([]string, error) {
	details, err := adm.ListTopics(ctx)
	if err != nil {
		return nil, err
	}
	return details.Names(), nil
}

func allBrokers(ctx context.Context, adm *kadm.Client) ([]int32, error) {
	meta, err := adm.BrokerMetadata(ctx)
	if err != nil {
		return nil, err
	}
	return meta.Brokers.NodeIDs(), nil
}
