// Package consumergroups is `strom consumer-groups`
// (kafka-consumer-groups.sh): list, describe and delete consumer groups,
// and reset or delete their committed offsets, through the admin API
// (franz-go kadm).
//
// Output follows Kafka's tool: --describe prints GROUP TOPIC PARTITION
// CURRENT-OFFSET LOG-END-OFFSET LAG CONSUMER-ID HOST CLIENT-ID (a "-" where
// there is no committed offset or no owner), --members and --state print
// the member and group views, and --reset-offsets prints its plan (GROUP
// TOPIC PARTITION NEW-OFFSET) and commits it only with --execute. Resets
// are refused while the group has active members, as Kafka refuses them.
package consumergroups

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/strom-broker/strom/tools/cli/clitool"
)

const synopsis = `Usage: strom consumer-groups --bootstrap-server HOST:PORT ACTION [options]

List, describe and delete consumer groups, and reset or delete their
committed offsets. ACTION is exactly one of --list, --describe, --delete,
--reset-offsets, --delete-offsets.

  strom consumer-groups --bootstrap-server localhost:9092 --list
  strom consumer-groups --bootstrap-server localhost:9092 --describe --group g [--members | --state]
  strom consumer-groups --bootstrap-server localhost:9092 --reset-offsets --group g --topic t --to-earliest --execute
  strom consumer-groups --bootstrap-server localhost:9092 --reset-offsets --group g --topic t:0,1 --shift-by -10
  strom consumer-groups --bootstrap-server localhost:9092 --reset-offsets --group g --all-topics --to-datetime 2024-01-31T12:00:00.000Z

--reset-offsets prints the plan without changing anything unless --execute
is given (--dry-run is the default). It needs exactly one of --to-earliest,
--to-latest, --to-current, --to-offset, --shift-by, --to-datetime,
--by-duration, and the group must have no active members.`

// options are the parsed flags.
type options struct {
	bootstrap, commandConfig *string
	list, describe, deleteGroups, reset, deleteOffsets,
	members, state, verbose, allTopics, allGroups, dryRun, execute bool
	offsets, export bool
	stateFlag       stateFlag
	fromFile        string
	groups, topics  clitool.StringList
	timeoutMs       int64

	toEarliest, toLatest, toCurrent bool
	toOffset, shiftBy               int64
	toDatetime, byDuration          string
	setFlags                        map[string]bool
}

// Run is the `consumer-groups` subcommand.
func Run(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	var o options
	fs := clitool.NewFlagSet("consumer-groups", synopsis)
	o.bootstrap = clitool.Bootstrap(fs)
	o.commandConfig = clitool.CommandConfig(fs)
	fs.BoolVar(&o.list, "list", false, "List all consumer groups (with --state: and their states).")
	fs.BoolVar(&o.describe, "describe", false, "Describe the groups' committed offsets and lag (with --members: members; with --state: group state).")
	fs.BoolVar(&o.deleteGroups, "delete", false, "Delete the groups (they must have no active members).")
	fs.BoolVar(&o.reset, "reset-offsets", false, "Reset the groups' committed offsets (dry run unless --execute).")
	fs.BoolVar(&o.deleteOffsets, "delete-offsets", false, "Delete the group's committed offsets of --topic.")
	fs.Var(&o.groups, "group", "The consumer group; repeatable.")
	fs.BoolVar(&o.allGroups, "all-groups", false, "Apply --describe, --delete or --reset-offsets to every group.")
	fs.Var(&o.topics, "topic", "TOPIC or TOPIC:P,P,... for --reset-offsets and --delete-offsets; repeatable.")
	fs.BoolVar(&o.allTopics, "all-topics", false, "With --reset-offsets: every topic the group has committed offsets for.")
	fs.BoolVar(&o.members, "members", false, "With --describe: list the members.")
	fs.Var(&o.stateFlag, "state", "With --describe: the group's state; with --list: each group's state, only those in the given states when a comma-separated list follows (--state Stable,Empty).")
	fs.BoolVar(&o.offsets, "offsets", false, "With --describe: the committed offsets and lag (the default view).")
	fs.BoolVar(&o.export, "export", false, "With --reset-offsets: print the plan as CSV (topic,partition,offset; with several groups group,topic,partition,offset), for --from-file.")
	fs.StringVar(&o.fromFile, "from-file", "", "With --reset-offsets: reset to the offsets in this CSV file (as --export writes it).")
	fs.BoolVar(&o.verbose, "verbose", false, "With --describe --members: each member's assigned partitions.")
	fs.BoolVar(&o.dryRun, "dry-run", false, "With --reset-offsets: only print the plan (the default).")
	fs.BoolVar(&o.execute, "execute", false, "With --reset-offsets: commit the new offsets.")
	fs.BoolVar(&o.toEarliest, "to-earliest", false, "Reset to each partition's earliest offset.")
	fs.BoolVar(&o.toLatest, "to-latest", false, "Reset to each partition's log end offset.")
	fs.BoolVar(&o.toCurrent, "to-current", false, "Reset to the current committed offset.")
	fs.Int64Var(&o.toOffset, "to-offset", 0, "Reset to this offset (clamped to the partition's earliest..latest).")
	fs.Int64Var(&o.shiftBy, "shift-by", 0, "Move the committed offset by N (negative: back), clamped to earliest..latest.")
	fs.StringVar(&o.toDatetime, "to-datetime", "", "Reset to the first offset whose timestamp is at or after YYYY-MM-DDTHH:mm:SS.sss[Z|+hh:mm] (no zone: local time).")
	fs.StringVar(&o.byDuration, "by-duration", "", "Reset to the first offset at or after now minus this ISO-8601 duration (PnDTnHnMnS).")
	fs.Int64Var(&o.timeoutMs, "timeout", 30000, "Milliseconds to wait for the broker's answers.")
	if done, code := fs.Parse(joinStateValue(args), stdout, stderr); done {
		return code
	}
	o.state = o.stateFlag.set
	o.setFlags = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { o.setFlags[f.Name] = true })
	if err := run(ctx, &o, stdout, stderr); err != nil {
		return clitool.Fail(stderr, err)
	}
	return clitool.ExitOK
}

func run(ctx context.Context, o *options, stdout, stderr io.Writer) error {
	if err := o.validate(); err != nil {
		return err
	}
	cl, err := clitool.AdminClient(*o.bootstrap, *o.commandConfig, stderr)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, time.Duration(o.timeoutMs)*time.Millisecond)
	defer cancel()
	adm := kadm.NewClient(cl)
	if o.list {
		return list(ctx, adm, o, stdout)
	}
	groups, err := o.targetGroups(ctx, adm)
	if err != nil {
		return err
	}
	switch {
	case o.describe:
		return describe(ctx, adm, o, groups, stdout, stderr)
	case o.deleteGroups:
		return deleteGroups(ctx, adm, groups, stdout)
	case o.reset:
		if !o.execute && !o.dryRun {
			fmt.Fprintln(stderr, "WARN: No action will be performed as the --execute option is missing. "+
				"In a future major release, the default behavior of this command will be to prompt the user before "+
				"executing the reset rather than doing a dry run. You should add the --dry-run option explicitly "+
				"if you are scripting this command and want to keep the current default behavior without prompting.")
		}
		return resetOffsets(ctx, adm, o, groups, stdout)
	default:
		return deleteOffsets(ctx, adm, o, groups[0], stdout)
	}
}

// validate checks the combination of flags, as Kafka's tool does.
func (o *options) validate() error {
	if err := clitool.ExactlyOne("--list, --describe, --delete, --reset-offsets, --delete-offsets", o.list, o.describe, o.deleteGroups, o.reset, o.deleteOffsets); err != nil {
		return err
	}
	if err := clitool.Required("bootstrap-server", *o.bootstrap); err != nil {
		return err
	}
	if o.timeoutMs < 1 {
		return clitool.Usagef("--timeout must be >= 1")
	}
	if !o.list && len(o.groups) == 0 && !o.allGroups {
		return clitool.Usagef("option [%s] takes one of these options: [all-groups], [group]", o.action())
	}
	if len(o.groups) > 0 && o.allGroups {
		return clitool.Usagef("options --group and --all-groups cannot be specified together")
	}
	if (o.members || o.verbose) && !o.describe {
		return clitool.Usagef("--members and --verbose are only valid with --describe")
	}
	if o.members && o.state {
		return clitool.Usagef("options --members and --state cannot be specified together")
	}
	if o.offsets && (!o.describe || o.members || o.state) {
		return clitool.Usagef("--offsets is only valid with --describe, without --members or --state")
	}
	if len(o.stateFlag.filter) > 0 && !o.list {
		return clitool.Usagef("a --state filter (--state %s) is only valid with --list", strings.Join(o.stateFlag.filter, ","))
	}
	if (o.export || o.fromFile != "") && !o.reset {
		return clitool.Usagef("--export and --from-file are only valid with --reset-offsets")
	}
	if o.state && !o.describe && !o.list {
		return clitool.Usagef("--state is only valid with --describe or --list")
	}
	if o.deleteOffsets {
		if len(o.groups) != 1 {
			return clitool.Usagef("option [delete-offsets] takes exactly one --group")
		}
		if len(o.topics) == 0 {
			return clitool.Usagef("option [delete-offsets] takes the option: [topic]")
		}
	}
	scenario := o.resetScenarios()
	if !o.reset {
		if len(scenario) > 0 || o.execute || o.dryRun || o.allTopics {
			return clitool.Usagef("--%s is only valid with --reset-offsets", firstOf(scenario, o.execute, o.dryRun))
		}
		if len(o.topics) > 0 && !o.deleteOffsets {
			return clitool.Usagef("--topic is only valid with --reset-offsets or --delete-offsets")
		}
		return nil
	}
	if len(scenario) != 1 {
		return clitool.Usagef("option [reset-offsets] takes exactly one of: --to-datetime, --by-duration, --to-earliest, --to-latest, --shift-by, --to-offset, --to-current, --from-file")
	}
	if o.execute && o.dryRun {
		return clitool.Usagef("options --dry-run and --execute cannot be specified together")
	}
	if (len(o.topics) > 0) == o.allTopics && o.fromFile == "" {
		return clitool.Usagef("option [reset-offsets] takes exactly one of: --topic, --all-topics")
	}
	if _, err := parseTopics(o.topics); err != nil {
		return err
	}
	if o.toDatetime != "" || o.byDuration != "" {
		_, err := o.resetTime(time.Now())
		return err
	}
	return nil
}

// resetScenarios names the reset scenario flags that were given.
func (o *options) resetScenarios() []string {
	var out []string
	for _, n := range []string{"to-earliest", "to-latest", "to-current", "to-offset", "shift-by", "to-datetime", "by-duration", "from-file"} {
		if o.setFlags[n] {
			out = append(out, n)
		}
	}
	return out
}

// firstOf names the first reset-only flag that was given.
func firstOf(scenario []string, execute, dryRun bool) string {
	switch {
	case len(scenario) > 0:
		return scenario[0]
	case execute:
		return "execute"
	case dryRun:
		return "dry-run"
	}
	return "all-topics"
}

// action names the chosen action as Kafka's messages do.
func (o *options) action() string {
	switch {
	case o.describe:
		return "describe"
	case o.deleteGroups:
		return "delete"
	case o.reset:
		return "reset-offsets"
	}
	return "delete-offsets"
}

// targetGroups returns --group values, or every group for --all-groups.
func (o *options) targetGroups(ctx context.Context, adm *kadm.Client) ([]string, error) {
	if !o.allGroups {
		return o.groups, nil
	}
	listed, err := adm.ListGroups(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing groups: %w", err)
	}
	return listed.Groups(), nil
}

// list prints every group, one a line (with --state: GROUP STATE).
func list(ctx context.Context, adm *kadm.Client, o *options, stdout io.Writer) error {
	listed, err := adm.ListGroups(ctx)
	if err != nil {
		return fmt.Errorf("listing groups: %w", err)
	}
	if !o.state {
		for _, g := range listed.Sorted() {
			fmt.Fprintln(stdout, g.Group)
		}
		return nil
	}
	t := newTable(stdout, "GROUP", "STATE")
	for _, g := range listed.Sorted() {
		if o.stateFlag.matches(g.State) {
			t.row(g.Group, g.State)
		}
	}
	return t.flush()
}

// stateFlag is --state: a switch that may carry a comma-separated list of
// group states (with --list, a filter), as Kafka's optional-valued option.
type stateFlag struct {
	set    bool
	filter []string
}

// String implements flag.Value.
func (s *stateFlag) String() string { return strings.Join(s.filter, ",") }

// IsBoolFlag lets --state stand alone.
func (s *stateFlag) IsBoolFlag() bool { return true }

// Set implements flag.Value: "true" (bare --state) or a list of states.
func (s *stateFlag) Set(v string) error {
	s.set = true
	if v == "true" {
		return nil
	}
	for _, st := range strings.Split(v, ",") {
		if st = strings.TrimSpace(st); st != "" {
			s.filter = append(s.filter, st)
		}
	}
	return nil
}

// matches reports whether a group in state passes the filter (states
// compare case-insensitively, as in Kafka).
func (s *stateFlag) matches(state string) bool {
	if len(s.filter) == 0 {
		return true
	}
	for _, f := range s.filter {
		if strings.EqualFold(f, state) {
			return true
		}
	}
	return false
}

// joinStateValue rewrites "--state LIST" into "--state=LIST" so the
// optional value reaches the flag (a bare --state followed by another
// option is left alone).
func joinStateValue(args []string) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		if (a == "--state" || a == "-state") && i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
			out = append(out, a+"="+args[i+1])
			i++
			continue
		}
		out = append(out, a)
	}
	return out
}
