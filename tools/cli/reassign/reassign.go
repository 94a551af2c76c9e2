// Package reassign is `strom reassign-partitions`
// (kafka-reassign-partitions.sh): propose (--generate), start (--execute),
// check (--verify), cancel (--cancel) and list (--list) partition
// reassignments through the AlterPartitionReassignments and
// ListPartitionReassignments APIs, with Kafka's ReassignPartitionsCommand
// JSON files and output lines.
//
// --throttle sets what Kafka's tool sets: the topics'
// leader/follower.replication.throttled.replicas (stored by Strom, not
// enforced) and the brokers' leader/follower.replication.throttled.rate
// (Strom's broker configs are static: refused, reported on stderr, and the
// reassignment goes ahead unthrottled).
package reassign

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/coord/controller"
	"github.com/strom-broker/strom/tools/cli/clitool"
)

const synopsis = `Usage: strom reassign-partitions --bootstrap-server HOST:PORT
       (--generate --topics-to-move-json-file FILE --broker-list 1,2,3
        | --execute --reassignment-json-file FILE [--throttle B/s] [--additional]
        | --verify --reassignment-json-file FILE [--preserve-throttles]
        | --cancel --reassignment-json-file FILE [--preserve-throttles]
        | --list)

This tool helps to move topic partitions between replicas.

Decommissioning broker 3: --generate with --broker-list naming every other
broker proposes an assignment without it; --execute that proposal, then
--verify until every reassignment is completed.`

// Throttle config names (Kafka's QuotaConfigs).
const (
	leaderRate       = "leader.replication.throttled.rate"
	followerRate     = "follower.replication.throttled.rate"
	logDirsRate      = "replica.alter.log.dirs.io.max.bytes.per.second"
	leaderReplicas   = "leader.replication.throttled.replicas"
	followerReplicas = "follower.replication.throttled.replicas"
)

type options struct {
	bootstrap, commandConfig                        string
	generate, execute, verify, cancel, list         bool
	topicsFile, brokerList, reassignmentFile        string
	throttle, logDirThrottle                        int64
	additional, preserveThrottles, disableRackAware bool
	timeout                                         int64
}

// Run is the `reassign-partitions` subcommand.
func Run(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := clitool.NewFlagSet("reassign-partitions", synopsis)
	var o options
	fs.StringVar(&o.bootstrap, "bootstrap-server", "", "The brokers to connect to (host:port,...). Required.")
	o.commandConfig = ""
	cc := clitool.CommandConfig(fs)
	fs.BoolVar(&o.generate, "generate", false, "Propose an assignment of the topics in --topics-to-move-json-file onto --broker-list.")
	fs.BoolVar(&o.execute, "execute", false, "Start the reassignments of --reassignment-json-file.")
	fs.BoolVar(&o.verify, "verify", false, "Report whether the reassignments of --reassignment-json-file are done; clear the throttles when all are.")
	fs.BoolVar(&o.cancel, "cancel", false, "Cancel the reassignments of --reassignment-json-file.")
	fs.BoolVar(&o.list, "list", false, "List the reassignments in progress.")
	fs.StringVar(&o.topicsFile, "topics-to-move-json-file", "", `{"topics": [{"topic": "t"}], "version": 1}`)
	fs.StringVar(&o.brokerList, "broker-list", "", "The brokers to place the topics on (--generate).")
	fs.StringVar(&o.reassignmentFile, "reassignment-json-file", "", `{"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[1,2]}]}`)
	fs.Int64Var(&o.throttle, "throttle", -1, "Replication throttle in B/s during the reassignment (--execute).")
	fs.Int64Var(&o.logDirThrottle, "replica-alter-log-dirs-throttle", -1, "Not supported (moves between log dirs).")
	fs.BoolVar(&o.additional, "additional", false, "Execute even though reassignments are in progress.")
	fs.BoolVar(&o.preserveThrottles, "preserve-throttles", false, "Leave the throttles in place (--verify, --cancel).")
	fs.BoolVar(&o.disableRackAware, "disable-rack-aware", false, "Ignore racks when proposing (--generate).")
	fs.Int64Var(&o.timeout, "timeout", 10000, "Accepted (log dir moves are not supported).")
	if done, code := fs.Parse(args, stdout, stderr); done {
		return code
	}
	o.commandConfig = *cc
	if err := run(ctx, o, stdout, stderr); err != nil {
		return clitool.Fail(stderr, err)
	}
	return clitool.ExitOK
}

func run(ctx context.Context, o options, stdout, stderr io.Writer) error {
	if err := clitool.ExactlyOne("--generate, --execute, --verify, --cancel or --list", o.generate, o.execute, o.verify, o.cancel, o.list); err != nil {
		return err
	}
	if err := clitool.Required("bootstrap-server", o.bootstrap); err != nil {
		return err
	}
	switch {
	case o.generate:
		if err := clitool.Required("topics-to-move-json-file", o.topicsFile, "broker-list", o.brokerList); err != nil {
			return err
		}
	case o.execute || o.verify || o.cancel:
		if err := clitool.Required("reassignment-json-file", o.reassignmentFile); err != nil {
			return err
		}
	}
	if o.logDirThrottle >= 0 {
		return clitool.Usagef("--replica-alter-log-dirs-throttle: moves between log dirs are not supported")
	}
	cl, err := clitool.AdminClient(o.bootstrap, o.commandConfig, stderr)
	if err != nil {
		return err
	}
	defer cl.Close()
	switch {
	case o.generate:
		return generate(ctx, cl, o, stdout)
	case o.execute:
		return execute(ctx, cl, o, stdout, stderr)
	case o.verify:
		return verify(ctx, cl, o, stdout, stderr)
	case o.cancel:
		return cancel(ctx, cl, o, stdout, stderr)
	}
	text, err := listText(ctx, cl)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, text)
	return nil
}

// tp is a topic partition, printed as Kafka's TopicPartition ("t-0").
type tp struct {
	Topic     string
	Partition int32
}

func (p tp) String() string { return p.Topic + "-" + strconv.Itoa(int(p.Partition)) }

func compareTP(a, b tp) int {
	if c := strings.Compare(a.Topic, b.Topic); c != 0 {
		return c
	}
	return int(a.Partition) - int(b.Partition)
}

// assignmentJSON is Kafka's reassignment file entry.
type assignmentJSON struct {
	Topic     string   `json:"topic"`
	Partition int32    `json:"partition"`
	Replicas  []int32  `json:"replicas"`
	LogDirs   []string `json:"log_dirs"`
}

// formatJSON prints an assignment as Kafka's formatAsReassignmentJson.
func formatJSON(m map[tp][]int32) string {
	out := struct {
		Version    int              `json:"version"`
		Partitions []assignmentJSON `json:"partitions"`
	}{Version: 1, Partitions: []assignmentJSON{}}
	for _, p := range slices.SortedFunc(maps.Keys(m), compareTP) {
		dirs := make([]string, len(m[p]))
		for i := range dirs {
			dirs[i] = "any"
		}
		out.Partitions = append(out.Partitions, assignmentJSON{Topic: p.Topic, Partition: p.Partition, Replicas: m[p], LogDirs: dirs})
	}
	b, _ := json.Marshal(out)
	return string(b)
}

// readReassignment reads and checks a reassignment file as Kafka's
// parseExecuteAssignmentArgs does.
func readReassignment(path string) (map[tp][]int32, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f struct {
		Version    *int `json:"version"`
		Partitions []struct {
			Topic     *string  `json:"topic"`
			Partition *int32   `json:"partition"`
			Replicas  []int32  `json:"replicas"`
			LogDirs   []string `json:"log_dirs"`
		} `json:"partitions"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%s: the input string is not a valid JSON: %w", path, err)
	}
	if f.Version != nil && *f.Version != 1 {
		return nil, fmt.Errorf("%s: Not supported version field value %d", path, *f.Version)
	}
	out := map[tp][]int32{}
	for _, p := range f.Partitions {
		if p.Topic == nil || p.Partition == nil || p.Replicas == nil {
			return nil, fmt.Errorf("%s: every partition needs topic, partition and replicas", path)
		}
		k := tp{*p.Topic, *p.Partition}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("Partition reassignment contains duplicate topic partitions: %s", k)
		}
		if len(p.Replicas) == 0 {
			return nil, errors.New("Partition replica list cannot be empty")
		}
		for i, r := range p.Replicas {
			if slices.Contains(p.Replicas[:i], r) {
				return nil, fmt.Errorf("Partition replica lists may not contain duplicate entries: %s contains multiple entries for %d", k, r)
			}
		}
		for _, d := range p.LogDirs {
			if d != "any" {
				return nil, fmt.Errorf("%s: log_dirs other than \"any\" (moves between log dirs) are not supported", k)
			}
		}
		if p.LogDirs != nil && len(p.LogDirs) != len(p.Replicas) {
			return nil, fmt.Errorf("Size of replicas list %v is different from size of log dirs list %v for partition %s", p.Replicas, p.LogDirs, k)
		}
		out[k] = p.Replicas
	}
	if len(out) == 0 {
		return nil, errors.New("Partition reassignment list cannot be empty")
	}
	return out, nil
}

// currentReplicas returns the replicas of the topics' partitions.
func currentReplicas(ctx context.Context, cl *kgo.Client, topics []string) (map[tp][]int32, kadm.Metadata, error) {
	md, err := kadm.NewClient(cl).Metadata(ctx, topics...)
	if err != nil {
		return nil, md, err
	}
	out := map[tp][]int32{}
	for _, t := range topics {
		td, ok := md.Topics[t]
		if !ok || td.Err != nil {
			return nil, md, fmt.Errorf("Topic %s not found.", t)
		}
		for p, pd := range td.Partitions {
			out[tp{t, p}] = pd.Replicas
		}
	}
	return out, md, nil
}

func generate(ctx context.Context, cl *kgo.Client, o options, stdout io.Writer) error {
	var brokers []int32
	for _, s := range strings.Split(o.brokerList, ",") {
		id, err := strconv.ParseInt(strings.TrimSpace(s), 10, 32)
		if err != nil {
			return clitool.Usagef("--broker-list %q: %v", o.brokerList, err)
		}
		if slices.Contains(brokers, int32(id)) {
			return fmt.Errorf("Broker list contains duplicate entries: %d", id)
		}
		brokers = append(brokers, int32(id))
	}
	data, err := os.ReadFile(o.topicsFile)
	if err != nil {
		return err
	}
	var f struct {
		Topics []struct {
			Topic string `json:"topic"`
		} `json:"topics"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return fmt.Errorf("%s: the input string is not a valid JSON: %w", o.topicsFile, err)
	}
	var topics []string
	for _, t := range f.Topics {
		if slices.Contains(topics, t.Topic) {
			return fmt.Errorf("List of topics to reassign contains duplicate entries: %s", t.Topic)
		}
		topics = append(topics, t.Topic)
	}
	if len(topics) == 0 {
		return fmt.Errorf("%s: no topics", o.topicsFile)
	}
	cur, md, err := currentReplicas(ctx, cl, topics)
	if err != nil {
		return err
	}
	racks := map[int32]string{}
	withRack := 0
	for _, b := range md.Brokers {
		if slices.Contains(brokers, b.NodeID) {
			racks[b.NodeID] = ""
			if b.Rack != nil && !o.disableRackAware {
				racks[b.NodeID] = *b.Rack
				withRack++
			}
		}
	}
	if withRack != 0 && withRack != len(racks) {
		return errors.New("Not all brokers have rack information. Add --disable-rack-aware in command line to make replica assignment without rack information.")
	}
	known := slices.Sorted(maps.Keys(racks))
	proposed := map[tp][]int32{}
	for _, t := range topics {
		n := int32(len(md.Topics[t].Partitions))
		rf := len(cur[tp{t, 0}])
		if rf > len(known) {
			return fmt.Errorf("Replication factor: %d larger than available brokers: %d.", rf, len(known))
		}
		var a map[int32][]int32
		if withRack > 0 {
			a = controller.AssignReplicasRackAware(racks, n, rf, rand.IntN(len(known)), rand.IntN(len(known)), 0)
		} else {
			a = controller.AssignReplicas(known, n, rf, rand.IntN(len(known)), rand.IntN(len(known)), 0)
		}
		for p, r := range a {
			proposed[tp{t, p}] = r
		}
	}
	fmt.Fprintf(stdout, "Current partition replica assignment\n%s\n\n", formatJSON(cur))
	fmt.Fprintf(stdout, "Proposed partition reassignment configuration\n%s\n", formatJSON(proposed))
	return nil
}

// listReassignments returns the reassignments in progress (all of them).
func listReassignments(ctx context.Context, cl *kgo.Client) (map[tp]kmsg.ListPartitionReassignmentsResponseTopicPartition, error) {
	req := kmsg.NewPtrListPartitionReassignmentsRequest()
	req.TimeoutMillis = 30000
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, err
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return nil, fmt.Errorf("listing reassignments: %w", err)
	}
	out := map[tp]kmsg.ListPartitionReassignmentsResponseTopicPartition{}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			out[tp{t.Topic, p.Partition}] = p
		}
	}
	return out, nil
}

func joinInts(v []int32) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(int(x))
	}
	return strings.Join(s, ",")
}

// listText is Kafka's curReassignmentsToString.
func listText(ctx context.Context, cl *kgo.Client) (string, error) {
	cur, err := listReassignments(ctx, cl)
	if err != nil {
		return "", err
	}
	if len(cur) == 0 {
		return "No partition reassignments found.", nil
	}
	lines := []string{"Current partition reassignments:"}
	for _, p := range slices.SortedFunc(maps.Keys(cur), compareTP) {
		r := cur[p]
		line := fmt.Sprintf("%s: replicas: %s.", p, joinInts(r.Replicas))
		if len(r.AddingReplicas) > 0 {
			line += fmt.Sprintf(" adding: %s.", joinInts(r.AddingReplicas))
		}
		if len(r.RemovingReplicas) > 0 {
			line += fmt.Sprintf(" removing: %s.", joinInts(r.RemovingReplicas))
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n"), nil
}

// alter sends AlterPartitionReassignments (nil replicas cancel) and returns
// the per-partition errors.
func alter(ctx context.Context, cl *kgo.Client, m map[tp][]int32) (map[tp]error, error) {
	req := kmsg.NewPtrAlterPartitionAssignmentsRequest()
	req.TimeoutMillis = 30000
	byTopic := map[string]int{}
	for _, p := range slices.SortedFunc(maps.Keys(m), compareTP) {
		i, ok := byTopic[p.Topic]
		if !ok {
			i = len(req.Topics)
			byTopic[p.Topic] = i
			t := kmsg.NewAlterPartitionAssignmentsRequestTopic()
			t.Topic = p.Topic
			req.Topics = append(req.Topics, t)
		}
		rp := kmsg.NewAlterPartitionAssignmentsRequestTopicPartition()
		rp.Partition, rp.Replicas = p.Partition, m[p]
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, rp)
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, err
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return nil, fmt.Errorf("reassigning partitions: %w", err)
	}
	errs := map[tp]error{}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				if p.ErrorMessage != nil {
					err = fmt.Errorf("%w: %s", err, *p.ErrorMessage)
				}
				errs[tp{t.Topic, p.Partition}] = err
			}
		}
	}
	return errs, nil
}

func errorLines(errs map[tp]error) string {
	var lines []string
	for _, p := range slices.SortedFunc(maps.Keys(errs), compareTP) {
		lines = append(lines, fmt.Sprintf("%s: %v", p, errs[p]))
	}
	return strings.Join(lines, "\n")
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func tpList(ps []tp) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

func execute(ctx context.Context, cl *kgo.Client, o options, stdout, stderr io.Writer) error {
	proposed, inFlight, err := readAndList(ctx, cl, o.reassignmentFile)
	if err != nil {
		return err
	}
	if !o.additional && len(inFlight) > 0 {
		return errors.New("Cannot execute because there is an existing partition assignment.  Use --additional to override this and create a new partition assignment in addition to the existing one. The --additional flag can also be used to change the throttle by resubmitting the current reassignment.")
	}
	cur, md, err := currentReplicas(ctx, cl, topicsOf(proposed))
	if err != nil {
		return err
	}
	for p, replicas := range proposed {
		if _, ok := cur[p]; !ok {
			return fmt.Errorf("Unable to find partition: %s", p)
		}
		for _, r := range replicas {
			if !slices.Contains(md.Brokers.NodeIDs(), r) {
				return fmt.Errorf("Unknown broker id %d", r)
			}
		}
	}
	rollback := map[tp][]int32{}
	for p := range proposed {
		rollback[p] = cur[p]
	}
	fmt.Fprintf(stdout, "Current partition replica assignment\n\n%s\n\nSave this to use as the --reassignment-json-file option during rollback\n", formatJSON(rollback))
	if o.throttle >= 0 {
		fmt.Fprintln(stdout, "Warning: You must run --verify periodically, until the reassignment completes, to ensure the throttle is removed.")
		if err := setThrottles(ctx, cl, proposed, cur, inFlight, o.throttle, stdout, stderr); err != nil {
			return err
		}
	}
	errs, err := alter(ctx, cl, proposed)
	if err != nil {
		return err
	}
	if len(errs) > 0 {
		return fmt.Errorf("Error reassigning partition(s):\n%s", errorLines(errs))
	}
	parts := slices.SortedFunc(maps.Keys(proposed), compareTP)
	fmt.Fprintf(stdout, "Successfully started partition reassignment%s for %s\n", plural(len(parts)), tpList(parts))
	return nil
}

// setThrottles sets Kafka's throttle configs: per topic the replicas that
// move (leader side: the sources, follower side: the new destinations),
// per broker involved the rates.
func setThrottles(ctx context.Context, cl *kgo.Client, proposed, cur map[tp][]int32, inFlight map[tp]kmsg.ListPartitionReassignmentsResponseTopicPartition, rate int64, stdout, stderr io.Writer) error {
	leader, follower := map[string][]string{}, map[string][]string{}
	brokers := map[int32]bool{}
	for p, target := range proposed {
		sources := cur[p]
		if r, ok := inFlight[p]; ok {
			sources = slices.DeleteFunc(slices.Clone(r.Replicas), func(x int32) bool { return slices.Contains(r.AddingReplicas, x) })
		}
		for _, s := range sources {
			leader[p.Topic] = append(leader[p.Topic], fmt.Sprintf("%d:%d", p.Partition, s))
			brokers[s] = true
		}
		for _, d := range target {
			if !slices.Contains(sources, d) {
				follower[p.Topic] = append(follower[p.Topic], fmt.Sprintf("%d:%d", p.Partition, d))
			}
			brokers[d] = true
		}
	}
	adm := kadm.NewClient(cl)
	for _, t := range slices.Sorted(maps.Keys(leader)) {
		l, f := strings.Join(sortedUnique(leader[t]), ","), strings.Join(sortedUnique(follower[t]), ",")
		resps, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: leaderReplicas, Value: &l},
			{Op: kadm.SetConfig, Name: followerReplicas, Value: &f}}, t)
		if err == nil {
			_, err = resps.On(t, nil)
		}
		if err != nil {
			return fmt.Errorf("setting the throttled replicas of topic %s: %w", t, err)
		}
	}
	v := strconv.FormatInt(rate, 10)
	resps, err := adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: leaderRate, Value: &v},
		{Op: kadm.SetConfig, Name: followerRate, Value: &v}}, slices.Sorted(maps.Keys(brokers))...)
	if err == nil {
		for _, r := range resps {
			if r.Err != nil {
				err = r.Err
			}
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "Warning: the brokers refused the throttle rate (%v); Strom's broker configs are static, so the reassignment runs unthrottled.\n", err)
		return nil
	}
	fmt.Fprintf(stdout, "The inter-broker throttle limit was set to %d B/s\n", rate)
	return nil
}

func sortedUnique(s []string) []string {
	slices.Sort(s)
	return slices.Compact(s)
}

func verify(ctx context.Context, cl *kgo.Client, o options, stdout, stderr io.Writer) error {
	targets, inFlight, err := readAndList(ctx, cl, o.reassignmentFile)
	if err != nil {
		return err
	}
	md, err := kadm.NewClient(cl).Metadata(ctx, topicsOf(targets)...)
	if err != nil {
		return err
	}
	lines := []string{"Status of partition reassignment:"}
	for _, p := range slices.SortedFunc(maps.Keys(targets), compareTP) {
		if _, moving := inFlight[p]; moving {
			lines = append(lines, fmt.Sprintf("Reassignment of partition %s is still in progress.", p))
			continue
		}
		var current []int32
		if pd, ok := md.Topics[p.Topic].Partitions[p.Partition]; ok {
			current = pd.Replicas
		}
		if slices.Equal(current, targets[p]) {
			lines = append(lines, fmt.Sprintf("Reassignment of partition %s is completed.", p))
		} else {
			lines = append(lines, fmt.Sprintf("There is no active reassignment of partition %s, but replica set is %s rather than %s.",
				p, joinInts(current), joinInts(targets[p])))
		}
	}
	fmt.Fprintln(stdout, strings.Join(lines, "\n"))
	if len(inFlight) == 0 && !o.preserveThrottles {
		return clearThrottles(ctx, cl, targets, md, stdout, stderr)
	}
	return nil
}

// clearThrottles removes the throttle configs, as Kafka's clearAllThrottles.
func clearThrottles(ctx context.Context, cl *kgo.Client, targets map[tp][]int32, md kadm.Metadata, stdout, stderr io.Writer) error {
	brokers := map[int32]bool{}
	for _, b := range md.Brokers {
		brokers[b.NodeID] = true
	}
	for _, r := range targets {
		for _, b := range r {
			brokers[b] = true
		}
	}
	ids := slices.Sorted(maps.Keys(brokers))
	fmt.Fprintf(stdout, "Clearing broker-level throttles on broker%s %s\n", plural(len(ids)), joinInts(ids))
	adm := kadm.NewClient(cl)
	var ops []kadm.AlterConfig
	for _, n := range []string{leaderRate, followerRate, logDirsRate} {
		ops = append(ops, kadm.AlterConfig{Op: kadm.DeleteConfig, Name: n})
	}
	if resps, err := adm.AlterBrokerConfigs(ctx, ops, ids...); err == nil {
		for _, r := range resps {
			if r.Err != nil {
				fmt.Fprintf(stderr, "Warning: broker %s: %v (Strom's broker configs are static; no rate was set)\n", r.Name, r.Err)
				break
			}
		}
	}
	names := topicsOf(targets)
	fmt.Fprintf(stdout, "Clearing topic-level throttles on topic%s %s\n", plural(len(names)), strings.Join(names, ","))
	resps, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.DeleteConfig, Name: leaderReplicas},
		{Op: kadm.DeleteConfig, Name: followerReplicas}}, names...)
	if err != nil {
		return err
	}
	for _, r := range resps {
		if r.Err != nil {
			return fmt.Errorf("clearing the throttles of topic %s: %w", r.Name, r.Err)
		}
	}
	return nil
}

func cancel(ctx context.Context, cl *kgo.Client, o options, stdout, stderr io.Writer) error {
	targets, inFlight, err := readAndList(ctx, cl, o.reassignmentFile)
	if err != nil {
		return err
	}
	var moving []tp
	for p := range targets {
		if _, ok := inFlight[p]; ok {
			moving = append(moving, p)
		}
	}
	slices.SortFunc(moving, compareTP)
	if len(moving) > 0 {
		m := map[tp][]int32{}
		for _, p := range moving {
			m[p] = nil
		}
		errs, err := alter(ctx, cl, m)
		if err != nil {
			return err
		}
		if len(errs) > 0 {
			return fmt.Errorf("Error cancelling partition reassignment%s for:\n%s", plural(len(errs)), errorLines(errs))
		}
		fmt.Fprintf(stdout, "Successfully cancelled partition reassignment%s for: %s\n", plural(len(moving)), tpList(moving))
	} else {
		fmt.Fprintln(stdout, "None of the specified partition reassignments are active.")
	}
	if o.preserveThrottles {
		return nil
	}
	md, err := kadm.NewClient(cl).Metadata(ctx, topicsOf(targets)...)
	if err != nil {
		return err
	}
	return clearThrottles(ctx, cl, targets, md, stdout, stderr)
}

// topicsOf returns the topics of m's partitions, sorted.
func topicsOf(m map[tp][]int32) []string {
	var out []string
	for p := range m {
		if !slices.Contains(out, p.Topic) {
			out = append(out, p.Topic)
		}
	}
	slices.Sort(out)
	return out
}

// readAndList reads a reassignment file and lists the reassignments in
// progress.
func readAndList(ctx context.Context, cl *kgo.Client, path string) (map[tp][]int32, map[tp]kmsg.ListPartitionReassignmentsResponseTopicPartition, error) {
	m, err := readReassignment(path)
	if err != nil {
		return nil, nil, err
	}
	inFlight, err := listReassignments(ctx, cl)
	return m, inFlight, err
}
