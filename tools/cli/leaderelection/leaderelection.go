// Package leaderelection is `strom leader-election`
// (kafka-leader-election.sh): ask the controller for preferred or unclean
// leader elections through the ElectLeaders API, and print Kafka's
// LeaderElectionCommand lines.
package leaderelection

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/strom-broker/strom/tools/cli/clitool"
)

const synopsis = `Usage: strom leader-election --bootstrap-server HOST:PORT --election-type PREFERRED|UNCLEAN
       (--all-topic-partitions | --topic TOPIC --partition P | --path-to-json-file FILE)

Elects partition leaders: PREFERRED moves leadership to each partition's
preferred replica (the first of its replicas) if it is in sync; UNCLEAN
gives a partition without a live leader one, even from outside the ISR
(records only the old ISR had may be lost).

  strom leader-election --bootstrap-server localhost:9092 --election-type PREFERRED --all-topic-partitions`

// Run is the `leader-election` subcommand.
func Run(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := clitool.NewFlagSet("leader-election", synopsis)
	bootstrap := clitool.Bootstrap(fs)
	commandConfig := clitool.CommandConfig(fs)
	electionType := fs.String("election-type", "", "PREFERRED or UNCLEAN (required).")
	all := fs.Bool("all-topic-partitions", false, "Elect for every partition of the cluster.")
	topic := fs.String("topic", "", "The topic of --partition.")
	partition := fs.Int("partition", -1, "The partition to elect a leader for (with --topic).")
	jsonFile := fs.String("path-to-json-file", "", `A file of {"partitions": [{"topic": "t", "partition": 0}, ...]}.`)
	if done, code := fs.Parse(args, stdout, stderr); done {
		return code
	}
	if err := run(ctx, *bootstrap, *commandConfig, *electionType, *all, *topic, *partition, *jsonFile, stdout, stderr); err != nil {
		return clitool.Fail(stderr, err)
	}
	return clitool.ExitOK
}

func run(ctx context.Context, bootstrap, commandConfig, electionType string, all bool, topic string, partition int, jsonFile string, stdout, stderr io.Writer) error {
	if err := clitool.Required("bootstrap-server", bootstrap); err != nil {
		return err
	}
	var how kadm.ElectLeadersHow
	switch strings.ToUpper(electionType) {
	case "PREFERRED":
		how = kadm.ElectPreferredReplica
	case "UNCLEAN":
		how = kadm.ElectLiveReplica
	case "":
		return clitool.Usagef("missing required option --election-type (PREFERRED or UNCLEAN)")
	default:
		return clitool.Usagef("--election-type %q: want PREFERRED or UNCLEAN", electionType)
	}
	if err := clitool.ExactlyOne("--all-topic-partitions, --topic with --partition, or --path-to-json-file",
		all, topic != "" || partition >= 0, jsonFile != ""); err != nil {
		return err
	}
	var set kadm.TopicsSet // nil: every partition
	switch {
	case jsonFile != "":
		var err error
		if set, err = readJSON(jsonFile); err != nil {
			return err
		}
	case !all:
		if topic == "" || partition < 0 {
			return clitool.Usagef("--topic and --partition go together")
		}
		set = kadm.TopicsSet{}
		set.Add(topic, int32(partition))
	}
	cl, err := clitool.AdminClient(bootstrap, commandConfig, stderr)
	if err != nil {
		return err
	}
	defer cl.Close()
	results, err := kadm.NewClient(cl).ElectLeaders(ctx, how, set)
	if err != nil {
		return fmt.Errorf("leader election: %w", err)
	}
	name := strings.ToUpper(electionType)
	var done, noop, failed []string
	var failures []string
	for _, t := range sortedKeys(results) {
		for _, p := range sortedInts(results[t]) {
			r := results[t][p]
			tp := fmt.Sprintf("%s-%d", t, p)
			switch {
			case r.Err == nil:
				done = append(done, tp)
			case errors.Is(r.Err, kerr.ElectionNotNeeded):
				noop = append(noop, tp)
			default:
				failed = append(failed, tp)
				msg := r.Err.Error()
				if r.ErrMessage != "" {
					msg += ": " + r.ErrMessage
				}
				failures = append(failures, fmt.Sprintf("Error completing leader election (%s) for partition: %s: %s", name, tp, msg))
			}
		}
	}
	if len(done) > 0 {
		fmt.Fprintf(stdout, "Successfully completed leader election (%s) for partitions %s\n", name, strings.Join(done, ", "))
	}
	if len(noop) > 0 {
		fmt.Fprintf(stdout, "Valid replica already elected for partitions %s\n", strings.Join(noop, ", "))
	}
	for _, f := range failures {
		fmt.Fprintln(stdout, f)
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d replica(s) could not be elected", len(failed))
	}
	return nil
}

// readJSON reads Kafka's election file: {"partitions": [{"topic": "t",
// "partition": 0}, ...]}.
func readJSON(path string) (kadm.TopicsSet, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f struct {
		Partitions []struct {
			Topic     string `json:"topic"`
			Partition *int32 `json:"partition"`
		} `json:"partitions"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(f.Partitions) == 0 {
		return nil, fmt.Errorf("%s: no partitions", path)
	}
	set := kadm.TopicsSet{}
	for _, p := range f.Partitions {
		if p.Topic == "" || p.Partition == nil {
			return nil, fmt.Errorf("%s: every entry needs a topic and a partition", path)
		}
		set.Add(p.Topic, *p.Partition)
	}
	return set, nil
}

func sortedKeys(m kadm.ElectLeadersResults) []string { return slices.Sorted(maps.Keys(m)) }

func sortedInts(m map[int32]kadm.ElectLeadersResult) []int32 { return slices.Sorted(maps.Keys(m)) }
