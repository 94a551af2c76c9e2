package consumergroups_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strom-broker/strom/tools/broker/brokertest"
	"github.com/strom-broker/strom/tools/cli/clitest"
	"github.com/strom-broker/strom/tools/cli/consoleconsumer"
	"github.com/strom-broker/strom/tools/cli/consumergroups"
)

// groupOverrides make rebalances start at once in tests.
var groupOverrides = []string{"group.initial.rebalance.delay.ms=0", "offsets.topic.num.partitions=4"}

// table parses a consumer-groups table (leading blank line, header,
// rows) into one map per row keyed by column name.
func table(t *testing.T, out string) []map[string]string {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.NotEmpty(t, lines, out)
	header := strings.Fields(lines[0])
	var rows []map[string]string
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		require.Len(t, f, len(header), "row %q of\n%s", l, out)
		row := map[string]string{}
		for i, h := range header {
			row[h] = f[i]
		}
		rows = append(rows, row)
	}
	return rows
}

// byPartition indexes rows by their PARTITION column.
func byPartition(t *testing.T, rows []map[string]string) map[int32]map[string]string {
	t.Helper()
	out := map[int32]map[string]string{}
	for _, r := range rows {
		p, err := strconv.Atoi(r["PARTITION"])
		require.NoError(t, err)
		out[int32(p)] = r
	}
	return out
}

// fixture is a broker with topic "t" of 3 partitions holding 30 records,
// record i in partition i%3 with timestamp base+i seconds.
type fixture struct {
	bs   string
	base time.Time
	ts   map[int32][]time.Time // per partition, per offset
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	b := brokertest.Start(t, groupOverrides...)
	f := &fixture{bs: b.Addr(), base: time.Now().Add(-time.Hour).Truncate(time.Second), ts: map[int32][]time.Time{}}
	cl, err := kgo.NewClient(kgo.SeedBrokers(f.bs), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	require.NoError(t, err)
	defer cl.Close()
	ctx := t.Context()
	_, err = kadm.NewClient(cl).CreateTopic(ctx, 3, 1, nil, "t")
	require.NoError(t, err)
	f.produce(t, cl, 0, 30)
	return f
}

// produce writes records [from, to) as described on fixture.
func (f *fixture) produce(t *testing.T, cl *kgo.Client, from, to int) {
	t.Helper()
	var recs []*kgo.Record
	for i := from; i < to; i++ {
		ts := f.base.Add(time.Duration(i) * time.Second)
		p := int32(i % 3)
		recs = append(recs, &kgo.Record{Topic: "t", Partition: p, Value: []byte(fmt.Sprint(i)), Timestamp: ts})
		f.ts[p] = append(f.ts[p], ts)
	}
	require.NoError(t, cl.ProduceSync(t.Context(), recs...).FirstErr())
}

func (f *fixture) run(t *testing.T, args ...string) clitest.Result {
	t.Helper()
	return clitest.Run(t, consumergroups.Run, "", append([]string{"--bootstrap-server", f.bs}, args...)...)
}

// consume reads n records as group g through console-consumer and returns
// the values printed.
func (f *fixture) consume(t *testing.T, g string, n int) []string {
	t.Helper()
	r := clitest.Run(t, consoleconsumer.Run, "", "--bootstrap-server", f.bs, "--topic", "t", "--group", g,
		"--from-beginning", "--max-messages", strconv.Itoa(n))
	clitest.RequireOK(t, r)
	return strings.Fields(r.Stdout)
}

func TestDescribeResetDelete(t *testing.T) {
	f := newFixture(t)
	// The group commits on exit: a second run continues where the first
	// stopped.
	first := f.consume(t, "g", 30)
	require.Len(t, first, 30)
	cl, err := kgo.NewClient(kgo.SeedBrokers(f.bs), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	require.NoError(t, err)
	defer cl.Close()
	f.produce(t, cl, 30, 36)
	assert.ElementsMatch(t, []string{"30", "31", "32", "33", "34", "35"}, f.consume(t, "g", 6))

	// Stopping at --timeout-ms commits too.
	r := clitest.Run(t, consoleconsumer.Run, "", "--bootstrap-server", f.bs, "--topic", "t", "--group", "idle",
		"--from-beginning", "--timeout-ms", "5000")
	clitest.RequireOK(t, r)
	assert.Len(t, strings.Fields(r.Stdout), 36)
	r = f.run(t, "--describe", "--group", "idle")
	clitest.RequireOK(t, r)
	for _, row := range table(t, r.Stdout) {
		assert.Equal(t, "0", row["LAG"], "group idle, partition %s", row["PARTITION"])
	}
	r = f.run(t, "--delete", "--group", "idle")
	clitest.RequireOK(t, r)

	r = f.run(t, "--list")
	clitest.RequireOK(t, r)
	assert.Equal(t, "g\n", r.Stdout)

	r = f.run(t, "--describe", "--group", "g")
	clitest.RequireOK(t, r)
	assert.Contains(t, r.Stderr, "Consumer group 'g' has no active members.")
	rows := byPartition(t, table(t, r.Stdout))
	require.Len(t, rows, 3)
	for p := range int32(3) {
		assert.Equal(t, map[string]string{"GROUP": "g", "TOPIC": "t", "PARTITION": fmt.Sprint(p), "CURRENT-OFFSET": "12",
			"LOG-END-OFFSET": "12", "LAG": "0", "CONSUMER-ID": "-", "HOST": "-", "CLIENT-ID": "-"}, rows[p])
	}

	// Dry run (the default) prints the plan and changes nothing.
	r = f.run(t, "--reset-offsets", "--group", "g", "--topic", "t", "--to-earliest")
	clitest.RequireOK(t, r)
	for _, row := range table(t, r.Stdout) {
		assert.Equal(t, "0", row["NEW-OFFSET"])
	}
	r = f.run(t, "--describe", "--group", "g")
	clitest.RequireOK(t, r)
	assert.Equal(t, "12", byPartition(t, table(t, r.Stdout))[1]["CURRENT-OFFSET"])

	// --execute rewinds: the group reads everything again.
	r = f.run(t, "--reset-offsets", "--group", "g", "--all-topics", "--to-earliest", "--execute")
	clitest.RequireOK(t, r)
	again := f.consume(t, "g", 36)
	assert.Len(t, again, 36)
	want := make([]string, 36)
	for i := range want {
		want[i] = fmt.Sprint(i)
	}
	assert.ElementsMatch(t, want, again)

	// --to-datetime lands on the first offset at or after the time.
	at := f.base.Add(17*time.Second + 500*time.Millisecond).UTC()
	r = f.run(t, "--reset-offsets", "--group", "g", "--topic", "t", "--to-datetime", at.Format("2006-01-02T15:04:05.000Z"), "--execute")
	clitest.RequireOK(t, r)
	plan := byPartition(t, table(t, r.Stdout))
	for p := range int32(3) {
		wantOff := len(f.ts[p])
		for o, ts := range f.ts[p] {
			if !ts.Before(at) {
				wantOff = o
				break
			}
		}
		assert.Equal(t, fmt.Sprint(wantOff), plan[p]["NEW-OFFSET"], "partition %d", p)
	}
	assert.Equal(t, "6", plan[0]["NEW-OFFSET"]) // records 18, 19, 20 are the first at or after 17.5 s

	// Other scenarios, dry run, on one partition.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--shift-by", "-2"}, "4"},
		{[]string{"--shift-by", "-100"}, "0"},
		{[]string{"--shift-by", "100"}, "12"},
		{[]string{"--to-offset", "3"}, "3"},
		{[]string{"--to-offset", "99"}, "12"},
		{[]string{"--to-latest"}, "12"},
		{[]string{"--to-current"}, "6"},
		{[]string{"--by-duration", "PT10M"}, "12"},
		{[]string{"--by-duration", "P1D"}, "0"},
	} {
		r = f.run(t, append([]string{"--reset-offsets", "--group", "g", "--topic", "t:0", "--dry-run"}, tc.args...)...)
		clitest.RequireOK(t, r)
		rows := table(t, r.Stdout)
		require.Len(t, rows, 1, "%v", tc.args)
		assert.Equal(t, tc.want, rows[0]["NEW-OFFSET"], "%v", tc.args)
	}

	// An active group: describe shows the member, resets and deletes are refused.
	member, err := kgo.NewClient(kgo.SeedBrokers(f.bs), kgo.ConsumerGroup("g"), kgo.ConsumeTopics("t"), kgo.ClientID("member-1"))
	require.NoError(t, err)
	defer member.Close()
	waitState(t, f.bs, "g", "Stable")
	r = f.run(t, "--describe", "--group", "g", "--members")
	clitest.RequireOK(t, r)
	mrows := table(t, r.Stdout)
	require.Len(t, mrows, 1)
	assert.Equal(t, "member-1", mrows[0]["CLIENT-ID"])
	assert.Equal(t, "3", mrows[0]["#PARTITIONS"])
	assert.Equal(t, "/127.0.0.1", mrows[0]["HOST"])
	r = f.run(t, "--describe", "--group", "g", "--state")
	clitest.RequireOK(t, r)
	assert.Contains(t, r.Stdout, "Stable")
	assert.Contains(t, r.Stdout, "cooperative-sticky")
	r = f.run(t, "--describe", "--group", "g")
	clitest.RequireOK(t, r)
	for _, row := range table(t, r.Stdout) {
		assert.Equal(t, "member-1", row["CLIENT-ID"])
	}
	r = f.run(t, "--reset-offsets", "--group", "g", "--topic", "t", "--to-earliest", "--execute")
	clitest.RequireOneLineError(t, r, "assignments can only be reset if the group 'g' is inactive, but the current state is Stable")
	r = f.run(t, "--delete", "--group", "g")
	clitest.RequireOneLineError(t, r, "could not be deleted")
	member.Close()
	waitState(t, f.bs, "g", "Empty")

	r = f.run(t, "--delete-offsets", "--group", "g", "--topic", "t:0")
	clitest.RequireOK(t, r)
	assert.Contains(t, r.Stdout, "Successful")
	r = f.run(t, "--describe", "--group", "g")
	clitest.RequireOK(t, r)
	assert.NotContains(t, byPartition(t, table(t, r.Stdout)), int32(0))

	r = f.run(t, "--delete", "--group", "g")
	clitest.RequireOK(t, r)
	assert.Equal(t, "Deletion of requested consumer groups ('g') was successful.\n", r.Stdout)
	r = f.run(t, "--list")
	clitest.RequireOK(t, r)
	assert.Empty(t, r.Stdout)
	r = f.run(t, "--describe", "--group", "g")
	clitest.RequireOneLineError(t, r, "consumer group 'g' does not exist")
	r = f.run(t, "--reset-offsets", "--group", "g", "--topic", "nope", "--to-earliest", "--dry-run")
	clitest.RequireOneLineError(t, r, "topic 'nope' does not exist")
	r = f.run(t, "--reset-offsets", "--group", "g", "--topic", "t:7", "--to-earliest", "--dry-run")
	clitest.RequireOneLineError(t, r, "partition t-7 does not exist")
}

// waitState waits until group g is in state.
func waitState(t *testing.T, bs, g, state string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(bs))
	require.NoError(t, err)
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	for {
		d, err := adm.DescribeGroups(ctx, g)
		if err == nil && d[g].State == state {
			if state != "Stable" || len(d[g].Members) > 0 {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("group %s never reached state %s (last %v, %v)", g, state, d[g].State, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func TestUsageErrors(t *testing.T) {
	bs := []string{"--bootstrap-server", "127.0.0.1:1"}
	tests := []struct {
		args []string
		want string
	}{
		{bs, "exactly one action"},
		{append(bs, "--list", "--describe"), "exactly one action"},
		{[]string{"--list"}, "missing required option --bootstrap-server"},
		{append(bs, "--describe"), "option [describe] takes one of these options: [all-groups], [group]"},
		{append(bs, "--describe", "--group", "g", "--all-groups"), "cannot be specified together"},
		{append(bs, "--list", "--members"), "--members and --verbose are only valid with --describe"},
		{append(bs, "--describe", "--group", "g", "--members", "--state"), "cannot be specified together"},
		{append(bs, "--reset-offsets", "--group", "g", "--topic", "t"), "takes exactly one of: --to-datetime"},
		{append(bs, "--reset-offsets", "--group", "g", "--topic", "t", "--to-earliest", "--to-latest"), "takes exactly one of: --to-datetime"},
		{append(bs, "--reset-offsets", "--group", "g", "--to-earliest"), "takes exactly one of: --topic, --all-topics"},
		{append(bs, "--reset-offsets", "--group", "g", "--topic", "t", "--all-topics", "--to-earliest"), "takes exactly one of: --topic, --all-topics"},
		{append(bs, "--reset-offsets", "--group", "g", "--topic", "t", "--to-earliest", "--execute", "--dry-run"), "cannot be specified together"},
		{append(bs, "--describe", "--group", "g", "--to-earliest"), "--to-earliest is only valid with --reset-offsets"},
		{append(bs, "--describe", "--group", "g", "--execute"), "--execute is only valid with --reset-offsets"},
		{append(bs, "--describe", "--group", "g", "--topic", "t"), "--topic is only valid with"},
		{append(bs, "--delete-offsets", "--group", "g"), "takes the option: [topic]"},
		{append(bs, "--reset-offsets", "--group", "g", "--topic", "t:x", "--to-earliest"), `partition "x" is not a non-negative number`},
		{append(bs, "--reset-offsets", "--group", "g", "--topic", "t", "--to-datetime", "yesterday"), "--to-datetime \"yesterday\""},
		{append(bs, "--reset-offsets", "--group", "g", "--topic", "t", "--by-duration", "5m"), "--by-duration \"5m\""},
		{[]string{"--bogus"}, "unknown option --bogus"},
	}
	for _, tc := range tests {
		r := clitest.Run(t, consumergroups.Run, "", tc.args...)
		clitest.RequireOneLineError(t, r, tc.want)
	}
	r := clitest.Run(t, consumergroups.Run, "", "--help")
	clitest.RequireOK(t, r)
	for _, opt := range []string{"--reset-offsets", "--to-datetime", "--by-duration", "--shift-by", "--execute", "--dry-run", "--members", "--state", "--delete-offsets", "--all-topics"} {
		assert.Contains(t, r.Stdout, opt)
	}
}

func TestParseISODuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"P1D", 24 * time.Hour, true},
		{"PT1H", time.Hour, true},
		{"PT20.345S", 20*time.Second + 345*time.Millisecond, true},
		{"P2DT3H4M5S", 51*time.Hour + 4*time.Minute + 5*time.Second, true},
		{"pt15m", 15 * time.Minute, true},
		{"-PT6H", -6 * time.Hour, true},
		{"PT-1.5S", -1500 * time.Millisecond, true},
		{"P", 0, false},
		{"PT", 0, false},
		{"P1DT", 0, false},
		{"1H", 0, false},
		{"P1H", 0, false},
	}
	for _, tc := range tests {
		got, err := consumergroups.ParseISODuration(tc.in)
		if !tc.ok {
			assert.Error(t, err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.want, got, tc.in)
	}
}

func TestParseDateTime(t *testing.T) {
	loc := time.FixedZone("X", 2*3600)
	want := time.Date(2024, 1, 31, 12, 0, 1, 500e6, time.UTC)
	for _, s := range []string{"2024-01-31T12:00:01.500Z", "2024-01-31T14:00:01.500+02:00", "2024-01-31T14:00:01.500+0200", "2024-01-31T14:00:01.500"} {
		got, err := consumergroups.ParseDateTime(s, loc)
		require.NoError(t, err, s)
		assert.True(t, want.Equal(got), "%s: got %v", s, got)
	}
	got, err := consumergroups.ParseDateTime("2024-01-31T12:00:01Z", loc)
	require.NoError(t, err)
	assert.True(t, want.Add(-500*time.Millisecond).Equal(got))
	_, err = consumergroups.ParseDateTime("2024-01-31", loc)
	assert.Error(t, err)
}
