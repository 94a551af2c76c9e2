package consumergroups

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// table writes left-aligned columns separated by at least one space, each
// as wide as its widest cell (Kafka sizes its columns the same way).
type table struct {
	w *tabwriter.Writer
}

func newTable(out io.Writer, header ...string) *table {
	t := &table{w: tabwriter.NewWriter(out, 0, 0, 1, ' ', 0)}
	t.row(header...)
	return t
}

func (t *table) row(cells ...string) { fmt.Fprintln(t.w, strings.Join(cells, "\t")) }

func (t *table) flush() error { return t.w.Flush() }

// orDash returns s, or "-" when s is empty.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// describeGroup describes one group and fails when it does not exist.
func describeGroup(ctx context.Context, adm *kadm.Client, group string) (kadm.DescribedGroup, error) {
	described, err := adm.DescribeGroups(ctx, group)
	if err != nil {
		return kadm.DescribedGroup{}, fmt.Errorf("describing group %s: %w", group, err)
	}
	d, ok := described[group]
	switch {
	case !ok:
		return d, fmt.Errorf("describing group %s: no answer for the group", group)
	case errors.Is(d.Err, kerr.GroupIDNotFound):
		// DescribeGroups v6+ (KIP-1043) says so instead of "Dead".
		d.Err, d.State = nil, "Dead"
	case d.Err != nil:
		return d, fmt.Errorf("describing group %s: %w", group, d.Err)
	}
	return d, nil
}

// describe prints each group's offsets, members or state.
func describe(ctx context.Context, adm *kadm.Client, o *options, groups []string, stdout, stderr io.Writer) error {
	for _, g := range groups {
		d, err := describeGroup(ctx, adm, g)
		if err != nil {
			return err
		}
		if d.State == "Dead" {
			return fmt.Errorf("consumer group '%s' does not exist", g)
		}
		switch {
		case o.state:
			err = describeState(d, stdout)
		case o.members:
			err = describeMembers(d, o.verbose, stdout, stderr)
		default:
			err = describeOffsets(ctx, adm, d, stdout, stderr)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// noteState prints Kafka's notes about an empty or rebalancing group.
func noteState(d kadm.DescribedGroup, stderr io.Writer) {
	switch d.State {
	case "Empty":
		fmt.Fprintf(stderr, "\nConsumer group '%s' has no active members.\n", d.Group)
	case "PreparingRebalance", "CompletingRebalance":
		fmt.Fprintf(stderr, "\nWarning: Consumer group '%s' is rebalancing.\n", d.Group)
	}
}

func describeState(d kadm.DescribedGroup, stdout io.Writer) error {
	fmt.Fprintln(stdout)
	t := newTable(stdout, "GROUP", "COORDINATOR (ID)", "ASSIGNMENT-STRATEGY", "STATE", "#MEMBERS")
	coord := fmt.Sprintf("%s:%d (%d)", d.Coordinator.Host, d.Coordinator.Port, d.Coordinator.NodeID)
	t.row(d.Group, coord, orDash(d.Protocol), d.State, strconv.Itoa(len(d.Members)))
	return t.flush()
}

func describeMembers(d kadm.DescribedGroup, verbose bool, stdout, stderr io.Writer) error {
	noteState(d, stderr)
	if len(d.Members) == 0 {
		return nil
	}
	fmt.Fprintln(stdout)
	header := []string{"GROUP", "CONSUMER-ID", "HOST", "CLIENT-ID", "#PARTITIONS"}
	if verbose {
		header = append(header, "ASSIGNMENT")
	}
	t := newTable(stdout, header...)
	for _, m := range d.Members {
		parts := memberPartitions(m)
		n := 0
		var assignment []string
		for _, topic := range sortedKeys(parts) {
			n += len(parts[topic])
			assignment = append(assignment, fmt.Sprintf("%s(%s)", topic, joinInt32(parts[topic])))
		}
		cells := []string{d.Group, m.MemberID, m.ClientHost, m.ClientID, strconv.Itoa(n)}
		if verbose {
			cells = append(cells, orDash(strings.Join(assignment, ",")))
		}
		t.row(cells...)
	}
	return t.flush()
}

// memberPartitions returns a consumer member's assignment, topic ->
// sorted partitions (empty for non-consumer protocols).
func memberPartitions(m kadm.DescribedGroupMember) map[string][]int32 {
	out := map[string][]int32{}
	a, ok := m.Assigned.AsConsumer()
	if !ok {
		return out
	}
	for _, t := range a.Topics {
		ps := append([]int32(nil), t.Partitions...)
		sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
		out[t.Topic] = append(out[t.Topic], ps...)
	}
	return out
}

// offsetRow is one line of --describe.
type offsetRow struct {
	topic     string
	partition int32
	member    *kadm.DescribedGroupMember
}

// describeOffsets prints Kafka's default --describe view: every partition
// a member owns or the group has an offset for.
func describeOffsets(ctx context.Context, adm *kadm.Client, d kadm.DescribedGroup, stdout, stderr io.Writer) error {
	noteState(d, stderr)
	committed, err := adm.FetchOffsets(ctx, d.Group)
	if err != nil {
		return fmt.Errorf("fetching offsets of group %s: %w", d.Group, err)
	}
	if err := committed.Error(); err != nil {
		return fmt.Errorf("fetching offsets of group %s: %w", d.Group, err)
	}
	type tp struct {
		t string
		p int32
	}
	owners := map[tp]*kadm.DescribedGroupMember{}
	var rows []offsetRow
	for i := range d.Members {
		m := &d.Members[i]
		for topic, ps := range memberPartitions(*m) {
			for _, p := range ps {
				owners[tp{topic, p}] = m
				rows = append(rows, offsetRow{topic, p, m})
			}
		}
	}
	committed.Each(func(r kadm.OffsetResponse) {
		if _, owned := owners[tp{r.Topic, r.Partition}]; !owned && r.At >= 0 {
			rows = append(rows, offsetRow{topic: r.Topic, partition: r.Partition})
		}
	})
	var withoutOwner []offsetRow
	for _, m := range d.Members {
		if len(memberPartitions(m)) == 0 {
			withoutOwner = append(withoutOwner, offsetRow{member: &m})
		}
	}
	if len(rows) == 0 && len(withoutOwner) == 0 {
		return nil
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].topic != rows[j].topic {
			return rows[i].topic < rows[j].topic
		}
		return rows[i].partition < rows[j].partition
	})
	topicSet := map[string]bool{}
	for _, r := range rows {
		topicSet[r.topic] = true
	}
	ends := kadm.ListedOffsets{}
	if len(topicSet) > 0 {
		if ends, err = adm.ListEndOffsets(ctx, sortedKeys(topicSet)...); err != nil {
			return fmt.Errorf("listing end offsets: %w", err)
		}
	}
	fmt.Fprintln(stdout)
	t := newTable(stdout, "GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "CONSUMER-ID", "HOST", "CLIENT-ID")
	for _, r := range append(rows, withoutOwner...) {
		cur, end, lag := "-", "-", "-"
		if c, ok := committed.Lookup(r.topic, r.partition); ok && c.Err == nil && c.At >= 0 {
			cur = strconv.FormatInt(c.At, 10)
		}
		if e, ok := ends.Lookup(r.topic, r.partition); ok && e.Err == nil {
			end = strconv.FormatInt(e.Offset, 10)
			if c, ok := committed.Lookup(r.topic, r.partition); ok && c.Err == nil && c.At >= 0 {
				lag = strconv.FormatInt(max(e.Offset-c.At, 0), 10)
			}
		}
		id, host, client := "-", "-", "-"
		if r.member != nil {
			id, host, client = r.member.MemberID, r.member.ClientHost, r.member.ClientID
		}
		partition := "-"
		if r.topic != "" {
			partition = strconv.Itoa(int(r.partition))
		}
		t.row(d.Group, orDash(r.topic), partition, cur, end, lag, id, host, client)
	}
	return t.flush()
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func joinInt32(ps []int32) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = strconv.Itoa(int(p))
	}
	return strings.Join(s, ",")
}
