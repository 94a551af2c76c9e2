package topics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/strom-broker/strom/coord/controller"
	"github.com/strom-broker/strom/coord/store"
	"github.com/strom-broker/strom/coord/zkstore"
	"github.com/strom-broker/strom/tools/cli/clitool"
)

// This file is kafka-topics.sh --zookeeper, the way Kafka's tool worked up
// to 2.x (TopicCommand with AdminZkClient): it reads and writes the
// cluster's znodes itself and never talks to a broker.
//
//   - --create computes the assignment over the registered brokers (Kafka's
//     placement) and writes /config/topics/<t> and /brokers/topics/<t>; the
//     controller sees the new topic and elects its leaders.
//   - --alter --partitions writes the grown assignment.
//   - --delete creates /admin/delete_topics/<t>; the controller deletes it.
//   - --list and --describe read /brokers/topics, the partition states and
//     /brokers/ids.
//
// Without the broker's defaults, --create needs --partitions and
// --replication-factor, as Kafka's tool did with --zookeeper.

// runZooKeeper runs the action on the ensemble at o.zookeeper.
func runZooKeeper(ctx context.Context, o *options, stdout io.Writer) error {
	if err := checkCluster(ctx, o.zookeeper); err != nil {
		return err
	}
	zs, err := zkstore.Open(ctx, zkstore.Config{Connect: o.zookeeper, SessionTimeout: clitool.ZooKeeperTimeout,
		ConnectionTimeout: clitool.ZooKeeperTimeout, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	defer zs.Close()
	ctrl, err := controller.New(zs, -1, controller.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	switch {
	case o.create:
		return zkCreate(ctx, ctrl, o, stdout)
	case o.list:
		return zkList(ctx, zs, o, stdout)
	case o.describe:
		details, names, err := zkMatching(ctx, zs, o, true)
		if err != nil {
			return err
		}
		printDescribe(details, names, zkConfigs(ctx, zs, names), o, stdout)
		return nil
	case o.alter:
		_, names, err := zkMatching(ctx, zs, o, true)
		if err != nil {
			return err
		}
		for _, name := range names {
			if _, err := ctrl.CreatePartitions(ctx, name, int32(o.partitions), nil, false); err != nil {
				return fmt.Errorf("alter topic %s: %w", name, err)
			}
		}
		fmt.Fprintln(stdout, "WARNING: If partitions are increased for a topic that has a key, the partition logic or ordering of the messages will be affected")
		fmt.Fprintln(stdout, "Adding partitions succeeded!")
		return nil
	default:
		return zkDelete(ctx, ctrl, zs, o, stdout)
	}
}

// checkCluster fails clearly when the ensemble at connect (with its
// chroot) holds no Kafka cluster: a wrong chroot or a fresh ensemble,
// where the tool must not create anything.
func checkCluster(ctx context.Context, connect string) error {
	conn, chroot, err := clitool.DialZooKeeper(ctx, connect)
	if err != nil {
		return err
	}
	defer conn.Close()
	ok, _, err := conn.Exists(chroot + "/cluster/id")
	if err != nil {
		return fmt.Errorf("ZooKeeper %s: %w", connect, err)
	}
	if !ok {
		return fmt.Errorf("no Kafka cluster at --zookeeper %s: %s/cluster/id does not exist (has a broker started with this zookeeper.connect? is the chroot right?)", connect, chroot)
	}
	return nil
}

func zkCreate(ctx context.Context, ctrl *controller.Controller, o *options, stdout io.Writer) error {
	if o.partitions < 1 || o.replicationFactor < 1 {
		return clitool.Usagef("with --zookeeper, --create needs --partitions and --replication-factor (there is no broker to take its defaults from)")
	}
	configs, err := clitool.ParseKV(o.configs, "--config")
	if err != nil {
		return err
	}
	_, err = ctrl.CreateTopic(ctx, controller.TopicSpec{Name: o.topic, NumPartitions: int32(o.partitions),
		ReplicationFactor: int16(o.replicationFactor), Configs: configs}, false)
	switch {
	case errors.Is(err, store.ErrTopicExists) && o.ifNotExists:
		return nil
	case errors.Is(err, store.ErrTopicExists):
		return fmt.Errorf("topic '%s' already exists", o.topic)
	case err != nil:
		return fmt.Errorf("create topic %s: %w", o.topic, err)
	}
	fmt.Fprintf(stdout, "Created topic %s.\n", o.topic)
	return nil
}

func zkList(ctx context.Context, zs store.Store, o *options, stdout io.Writer) error {
	_, names, err := zkMatching(ctx, zs, o, false)
	if err != nil {
		return err
	}
	marked, err := zs.TopicsMarkedForDeletion(ctx)
	if err != nil {
		return err
	}
	for _, name := range names {
		if slices.Contains(marked, name) {
			fmt.Fprintf(stdout, "%s - marked for deletion\n", name) // Kafka's tool up to 2.x
			continue
		}
		fmt.Fprintln(stdout, name)
	}
	return nil
}

func zkDelete(ctx context.Context, ctrl *controller.Controller, zs store.Store, o *options, stdout io.Writer) error {
	if internalTopics[o.topic] {
		return fmt.Errorf("Topic %s is a kafka internal topic and is not allowed to be marked for deletion.", o.topic)
	}
	_, names, err := zkMatching(ctx, zs, o, true)
	if err != nil {
		return err
	}
	for _, name := range names {
		if internalTopics[name] {
			return fmt.Errorf("Topic %s is a kafka internal topic and is not allowed to be marked for deletion.", name)
		}
	}
	for _, name := range names {
		if err := ctrl.DeleteTopic(ctx, name); err != nil {
			return fmt.Errorf("delete topic %s: %w", name, err)
		}
		fmt.Fprintf(stdout, "Topic %s is marked for deletion.\n", name)
		fmt.Fprintln(stdout, "Note: This will have no impact if delete.topic.enable is not set to true.")
	}
	return nil
}

// zkMatching is matching for --zookeeper: the topics in /brokers/topics
// matching o.topic, with their partitions as the metadata would show them
// (leader -1 when it has no state or is not registered; replicas whose
// broker is not registered are offline).
func zkMatching(ctx context.Context, zs store.Store, o *options, required bool) (kadm.TopicDetails, []string, error) {
	re, err := o.topicPattern()
	if err != nil {
		return nil, nil, err
	}
	all, err := zs.Topics(ctx)
	if err != nil {
		return nil, nil, err
	}
	brokers, err := zs.Brokers(ctx)
	if err != nil {
		return nil, nil, err
	}
	live := map[int32]bool{}
	for _, b := range brokers {
		live[b.ID] = true
	}
	details := kadm.TopicDetails{}
	var names []string
	for _, name := range all {
		internal := internalTopics[name]
		if (o.excludeInternal && internal) || (re != nil && !re.MatchString(name)) {
			continue
		}
		a, err := zs.Topic(ctx, name)
		if errors.Is(err, store.ErrUnknownTopic) {
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		states, err := zs.PartitionStates(ctx, name)
		if err != nil && !errors.Is(err, store.ErrUnknownTopic) {
			return nil, nil, err
		}
		d := kadm.TopicDetail{Topic: name, ID: kadm.TopicID(a.ID), IsInternal: internal, Partitions: kadm.PartitionDetails{}}
		for _, p := range slices.Sorted(maps.Keys(a.Partitions)) {
			pd := kadm.PartitionDetail{Topic: name, Partition: p, Leader: -1, LeaderEpoch: -1, Replicas: a.Partitions[p]}
			if st, ok := states[p]; ok {
				pd.LeaderEpoch, pd.ISR = st.LeaderEpoch, st.ISR
				if live[st.Leader] {
					pd.Leader = st.Leader
				}
			}
			for _, r := range a.Partitions[p] {
				if !live[r] {
					pd.OfflineReplicas = append(pd.OfflineReplicas, r)
				}
			}
			d.Partitions[p] = pd
		}
		details[name] = d
		names = append(names, name)
	}
	sort.Strings(names)
	if required && len(names) == 0 && o.topic != "" && !o.ifExists {
		return nil, nil, fmt.Errorf("topic '%s' does not exist as expected", o.topic)
	}
	return details, names, nil
}

// zkConfigs reads the topics' overrides from /config/topics.
func zkConfigs(ctx context.Context, zs store.Store, names []string) map[string]topicConfig {
	out := map[string]topicConfig{}
	for _, name := range names {
		tc := topicConfig{minISR: 1}
		cfg, err := zs.TopicConfig(ctx, name)
		if err == nil {
			var kvs []string
			for _, k := range slices.Sorted(maps.Keys(cfg)) {
				kvs = append(kvs, k+"="+cfg[k])
			}
			tc.overrides = strings.Join(kvs, ",")
			if n, err := strconv.Atoi(cfg["min.insync.replicas"]); err == nil {
				tc.minISR = n
			}
		}
		out[name] = tc
	}
	return out
}
