package consumergroups

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/strom-broker/strom/tools/cli/clitool"
)

// ErrGroupActive is returned when offsets of a group with active members
// would be reset or the group deleted.
var ErrGroupActive = errors.New("group has active members")

// topicPartitions is a --topic selection: topic -> partitions (nil: all).
type topicPartitions map[string][]int32

// parseTopics parses --topic values: TOPIC or TOPIC:P,P,...
func parseTopics(values []string) (topicPartitions, error) {
	out := topicPartitions{}
	for _, v := range values {
		topic, parts, hasParts := strings.Cut(v, ":")
		if topic == "" {
			return nil, clitool.Usagef("--topic %q: missing topic name", v)
		}
		if !hasParts {
			out[topic] = nil
			continue
		}
		for _, s := range strings.Split(parts, ",") {
			p, err := strconv.ParseInt(strings.TrimSpace(s), 10, 32)
			if err != nil || p < 0 {
				return nil, clitool.Usagef("--topic %q: partition %q is not a non-negative number", v, s)
			}
			out[topic] = append(out[topic], int32(p))
		}
	}
	return out, nil
}

// dateTimeLayouts are the --to-datetime forms Kafka accepts; without a zone
// the time is local.
var dateTimeLayouts = []string{
	"2006-01-02T15:04:05.000Z07:00",
	"2006-01-02T15:04:05.000Z0700",
	"2006-01-02T15:04:05Z07:00",
	"2006-01-02T15:04:05Z0700",
}

var localLayouts = []string{"2006-01-02T15:04:05.000", "2006-01-02T15:04:05"}

// ParseDateTime parses a --to-datetime value, YYYY-MM-DDTHH:mm:SS.sss with
// an optional zone (Z, +hh:mm or +hhmm; none means loc).
func ParseDateTime(s string, loc *time.Location) (time.Time, error) {
	for _, l := range dateTimeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, nil
		}
	}
	for _, l := range localLayouts {
		if t, err := time.ParseInLocation(l, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, clitool.Usagef("--to-datetime %q: want YYYY-MM-DDTHH:mm:SS.sss[Z|+hh:mm]", s)
}

// isoDuration is Java's Duration.parse format: PnDTnHnMn.nS, optionally
// signed.
var isoDuration = regexp.MustCompile(`^([-+]?)P(?:([-+]?[0-9]+)D)?(?:T(?:([-+]?[0-9]+)H)?(?:([-+]?[0-9]+)M)?(?:([-+]?[0-9]+)(?:[.,]([0-9]{0,9}))?S)?)?$`)

// ParseISODuration parses a --by-duration value such as P1DT2H3M4.5S.
func ParseISODuration(s string) (time.Duration, error) {
	bad := clitool.Usagef("--by-duration %q: want an ISO-8601 duration PnDTnHnMnS", s)
	m := isoDuration.FindStringSubmatch(strings.ToUpper(s))
	if m == nil || strings.HasSuffix(strings.ToUpper(s), "T") || (m[2] == "" && m[3] == "" && m[4] == "" && m[5] == "") {
		return 0, bad
	}
	var d time.Duration
	for i, unit := range []time.Duration{24 * time.Hour, time.Hour, time.Minute, time.Second} {
		if v := m[2+i]; v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return 0, bad
			}
			d += time.Duration(n) * unit
		}
	}
	if frac := m[6]; frac != "" {
		ns, _ := strconv.ParseInt((frac + "000000000")[:9], 10, 64)
		if strings.HasPrefix(m[5], "-") {
			ns = -ns
		}
		d += time.Duration(ns)
	}
	if m[1] == "-" {
		d = -d
	}
	return d, nil
}

// planned is one line of a reset plan.
type planned struct {
	topic     string
	partition int32
	offset    int64
}

// resetOffsets prints (and with --execute commits) each group's new offsets.
func resetOffsets(ctx context.Context, adm *kadm.Client, o *options, groups []string, stdout io.Writer) error {
	selected, err := parseTopics(o.topics)
	if err != nil {
		return err
	}
	var fromFile map[string][]planned
	if o.fromFile != "" {
		if fromFile, err = readPlanFile(o.fromFile, groups); err != nil {
			return err
		}
	}
	for _, g := range groups {
		d, err := describeGroup(ctx, adm, g)
		if err != nil {
			return err
		}
		if d.State != "Empty" && d.State != "Dead" {
			return fmt.Errorf("assignments can only be reset if the group '%s' is inactive, but the current state is %s: %w", g, d.State, ErrGroupActive)
		}
		plan := fromFile[g]
		if o.fromFile == "" {
			if plan, err = planReset(ctx, adm, o, g, selected); err != nil {
				return err
			}
		}
		if o.execute {
			offsets := kadm.Offsets{}
			for _, p := range plan {
				offsets.Add(kadm.Offset{Topic: p.topic, Partition: p.partition, At: p.offset, LeaderEpoch: -1})
			}
			resp, err := adm.CommitOffsets(ctx, g, offsets)
			if err == nil {
				err = resp.Error()
			}
			if err != nil {
				return fmt.Errorf("committing offsets of group %s: %w", g, err)
			}
		}
		if o.export {
			for _, p := range plan {
				if len(groups) > 1 {
					fmt.Fprintf(stdout, "%s,", g)
				}
				fmt.Fprintf(stdout, "%s,%d,%d\n", p.topic, p.partition, p.offset)
			}
			continue
		}
		fmt.Fprintln(stdout)
		t := newTable(stdout, "GROUP", "TOPIC", "PARTITION", "NEW-OFFSET")
		for _, p := range plan {
			t.row(g, p.topic, strconv.Itoa(int(p.partition)), strconv.FormatInt(p.offset, 10))
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	return nil
}

// readPlanFile reads a --from-file CSV: "topic,partition,offset" lines for
// a single group, "group,topic,partition,offset" lines for several (as
// --export writes them); blank lines are skipped. Every line must name one
// of groups.
func readPlanFile(path string, groups []string) (map[string][]planned, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--from-file: %w", err)
	}
	out := map[string][]planned{}
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		f := strings.Split(line, ",")
		g := ""
		switch {
		case len(f) == 3 && len(groups) == 1:
			g = groups[0]
		case len(f) == 4:
			g, f = f[0], f[1:]
		default:
			return nil, fmt.Errorf("--from-file %s:%d: want topic,partition,offset (one group) or group,topic,partition,offset: %q", path, i+1, line)
		}
		if !slices.Contains(groups, g) {
			return nil, fmt.Errorf("--from-file %s:%d: group %q is not one of the groups to reset", path, i+1, g)
		}
		p, perr := strconv.ParseInt(f[1], 10, 32)
		off, oerr := strconv.ParseInt(f[2], 10, 64)
		if perr != nil || oerr != nil || p < 0 || off < 0 {
			return nil, fmt.Errorf("--from-file %s:%d: bad partition or offset: %q", path, i+1, line)
		}
		out[g] = append(out[g], planned{f[0], int32(p), off})
	}
	return out, nil
}

// planReset computes group g's new offset for every selected partition.
func planReset(ctx context.Context, adm *kadm.Client, o *options, g string, selected topicPartitions) ([]planned, error) {
	committed, err := adm.FetchOffsets(ctx, g)
	if err == nil {
		err = committed.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("fetching offsets of group %s: %w", g, err)
	}
	parts, err := resolvePartitions(ctx, adm, o.allTopics, selected, committed)
	if err != nil {
		return nil, err
	}
	topics := sortedKeys(parts)
	if len(topics) == 0 {
		return nil, nil
	}
	starts, err := adm.ListStartOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("listing start offsets: %w", err)
	}
	ends, err := adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("listing end offsets: %w", err)
	}
	var byTime kadm.ListedOffsets
	if o.toDatetime != "" || o.byDuration != "" {
		at, err := o.resetTime(time.Now())
		if err != nil {
			return nil, err
		}
		if byTime, err = adm.ListOffsetsAfterMilli(ctx, at.UnixMilli(), topics...); err != nil {
			return nil, fmt.Errorf("listing offsets by time: %w", err)
		}
	}
	var plan []planned
	for _, topic := range topics {
		for _, p := range parts[topic] {
			lo, err := listed(starts, topic, p)
			if err != nil {
				return nil, err
			}
			hi, err := listed(ends, topic, p)
			if err != nil {
				return nil, err
			}
			cur := int64(-1)
			if c, ok := committed.Lookup(topic, p); ok && c.Err == nil {
				cur = c.At
			}
			var off int64
			switch {
			case o.toEarliest:
				off = lo
			case o.toLatest:
				off = hi
			case o.toCurrent:
				off = hi
				if cur >= 0 {
					off = cur
				}
			case o.setFlags["to-offset"]:
				off = clamp(o.toOffset, lo, hi)
			case o.setFlags["shift-by"]:
				if cur < 0 {
					return nil, fmt.Errorf("cannot shift offset for partition %s-%d since there is no current committed offset", topic, p)
				}
				off = clamp(cur+o.shiftBy, lo, hi)
			default:
				if off, err = listed(byTime, topic, p); err != nil {
					return nil, err
				}
			}
			plan = append(plan, planned{topic, p, off})
		}
	}
	return plan, nil
}

// resetTime is the instant --to-datetime or --by-duration names.
func (o *options) resetTime(now time.Time) (time.Time, error) {
	if o.toDatetime != "" {
		return ParseDateTime(o.toDatetime, time.Local)
	}
	d, err := ParseISODuration(o.byDuration)
	if err != nil {
		return time.Time{}, err
	}
	return now.Add(-d), nil
}

// resolvePartitions turns the selection into topic -> sorted partitions:
// --all-topics means every partition the group has an offset for; a topic
// without partitions means all of its partitions.
func resolvePartitions(ctx context.Context, adm *kadm.Client, allTopics bool, selected topicPartitions, committed kadm.OffsetResponses) (map[string][]int32, error) {
	out := map[string][]int32{}
	if allTopics {
		committed.Each(func(r kadm.OffsetResponse) {
			if r.Err == nil {
				out[r.Topic] = append(out[r.Topic], r.Partition)
			}
		})
	} else {
		details, err := adm.ListTopics(ctx, sortedKeys(selected)...)
		if err != nil {
			return nil, fmt.Errorf("describing topics: %w", err)
		}
		for topic, want := range selected {
			d, ok := details[topic]
			if !ok || d.Err != nil {
				return nil, fmt.Errorf("topic '%s' does not exist", topic)
			}
			if want == nil {
				for p := range d.Partitions {
					out[topic] = append(out[topic], p)
				}
				continue
			}
			for _, p := range want {
				if _, ok := d.Partitions[p]; !ok {
					return nil, fmt.Errorf("partition %s-%d does not exist", topic, p)
				}
				out[topic] = append(out[topic], p)
			}
		}
	}
	for _, ps := range out {
		sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
	}
	return out, nil
}

// listed returns a listed offset or its error.
func listed(l kadm.ListedOffsets, topic string, p int32) (int64, error) {
	o, ok := l.Lookup(topic, p)
	switch {
	case !ok:
		return 0, fmt.Errorf("no offset listed for %s-%d", topic, p)
	case o.Err != nil:
		return 0, fmt.Errorf("listing offsets of %s-%d: %w", topic, p, o.Err)
	}
	return o.Offset, nil
}

func clamp(v, lo, hi int64) int64 { return min(max(v, lo), hi) }
