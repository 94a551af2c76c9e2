package producerperf_test

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strom-broker/strom/tools/cli/clitest"
	"github.com/strom-broker/strom/tools/cli/consumerperf"
	"github.com/strom-broker/strom/tools/cli/producerperf"
)

var totalLine = regexp.MustCompile(`^(\d+) records sent, [\d.]+ records/sec \([\d.]+ MB/sec\), [\d.]+ ms avg latency, [\d.]+ ms max latency, (\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th, (\d+) ms 99\.9th\.$`)

func TestProducerThenConsumerPerf(t *testing.T) {
	bs := clitest.Cluster(t, 3, "perf")
	r := clitest.Run(t, producerperf.Run, "", "--topic", "perf", "--num-records", "300", "--record-size", "100",
		"--throughput", "-1", "--producer-props", "bootstrap.servers="+bs, "acks=1", "linger.ms=1", "batch.size=4096", "--print-metrics")
	clitest.RequireOK(t, r)
	lines := strings.Split(r.Stdout, "\n")
	m := totalLine.FindStringSubmatch(lines[0])
	require.NotNil(t, m, "stdout: %s", r.Stdout)
	assert.Equal(t, "300", m[1])
	p50, _ := strconv.Atoi(m[2])
	p999, _ := strconv.Atoi(m[5])
	assert.LessOrEqual(t, p50, p999)
	assert.Contains(t, r.Stdout, "producer-metrics:record-send-total")
	assert.Regexp(t, `producer-metrics:record-send-total\s+: 300\.000`, r.Stdout)
	assert.Regexp(t, `producer-metrics:request-total\s+: [1-9]`, r.Stdout)

	// Throttled, with --bootstrap-server and acks=all (idempotent).
	// Progress lines come first on stdout, in Kafka's window format.
	r = clitest.Run(t, producerperf.Run, "", "--bootstrap-server", bs, "--topic", "perf", "--num-records", "20",
		"--record-size", "10", "--throughput", "400", "--producer-props", "acks=all", "--reporting-interval", "5")
	clitest.RequireOK(t, r)
	assert.Empty(t, r.Stderr)
	outLines := strings.Split(strings.TrimSuffix(r.Stdout, "\n"), "\n")
	require.Regexp(t, totalLine, outLines[len(outLines)-1])
	assert.True(t, strings.HasPrefix(outLines[len(outLines)-1], "20 records sent"))
	for _, l := range outLines[:len(outLines)-1] {
		assert.Regexp(t, `^[1-9]\d* records sent, [\d.]+ records/sec \([\d.]+ MB/sec\), [\d.]+ ms avg latency, [\d.]+ ms max latency\.$`, l)
	}

	r = clitest.Run(t, consumerperf.Run, "", "--bootstrap-server", bs, "--topic", "perf", "--messages", "320")
	clitest.RequireOK(t, r)
	out := strings.Split(strings.TrimSuffix(r.Stdout, "\n"), "\n")
	require.Len(t, out, 2)
	assert.Equal(t, consumerperf.Header, out[0])
	cols := strings.Split(out[1], ", ")
	require.Len(t, cols, 10)
	assert.Regexp(t, `^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d:\d{3}$`, cols[0])
	assert.Equal(t, fmt.Sprintf("%.4f", float64(300*100+20*10)/(1<<20)), cols[2], "payload bytes in MiB")
	assert.Equal(t, "320", cols[4])
	assert.Equal(t, "0", cols[6], "no group, no rebalance")

	r = clitest.Run(t, consumerperf.Run, "", "--broker-list", bs, "--topic", "perf", "--messages", "320", "--group", "pg", "--hide-header")
	clitest.RequireOK(t, r)
	cols = strings.Split(strings.TrimSuffix(r.Stdout, "\n"), ", ")
	require.Len(t, cols, 10, r.Stdout)
	assert.Equal(t, "320", cols[4])

	// Asking for more than exists times out: Kafka's warning, the stats,
	// exit 0.
	r = clitest.Run(t, consumerperf.Run, "", "--bootstrap-server", bs, "--topic", "perf", "--messages", "321", "--timeout", "1500", "--hide-header")
	clitest.RequireOK(t, r)
	assert.Contains(t, r.Stdout, ", 320, ")
	assert.Equal(t, "WARNING: Exiting before consuming the expected number of messages: timeout (1500 ms) exceeded. You can use the --timeout option to increase the timeout.\n", r.Stderr)
}

func TestPerfUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"producer no topic", []string{"--num-records", "1", "--record-size", "1", "--throughput", "-1", "--bootstrap-server", "x:1"}, "missing required option --topic"},
		{"producer no records", []string{"--topic", "t", "--record-size", "1", "--throughput", "-1", "--bootstrap-server", "x:1"}, "--num-records must be >= 1"},
		{"producer no throughput", []string{"--topic", "t", "--num-records", "1", "--record-size", "1", "--bootstrap-server", "x:1"}, "--throughput must be positive"},
		{"producer no bootstrap", []string{"--topic", "t", "--num-records", "1", "--record-size", "1", "--throughput", "-1"}, "bootstrap.servers"},
		{"producer bad prop", []string{"--topic", "t", "--num-records", "1", "--record-size", "1", "--throughput", "-1", "--producer-props", "bootstrap.servers=x:1", "acks=7"}, `acks="7"`},
		{"producer bad flag", []string{"--records", "1"}, "unknown option --records"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clitest.RequireOneLineError(t, clitest.Run(t, producerperf.Run, "", tc.args...), tc.want)
		})
	}
	ctests := []struct {
		args []string
		want string
	}{
		{[]string{"--bootstrap-server", "x:1", "--messages", "1"}, "exactly one of --topic or --include is required"},
		{[]string{"--bootstrap-server", "x:1", "--topic", "t"}, "--messages must be >= 1"},
		{[]string{"--bootstrap-server", "x:1", "--topic", "t", "--messages", "1", "--timeout", "0"}, "--timeout must be >= 1"},
	}
	for _, tc := range ctests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			clitest.RequireOneLineError(t, clitest.Run(t, consumerperf.Run, "", tc.args...), tc.want)
		})
	}
}
