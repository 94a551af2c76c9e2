package proctest

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPerfToolsOutput: producer-perf-test prints its progress and summary
// on stdout as Kafka does and takes --payload-file; consumer-perf-test's
// timeout exits 0 with Kafka's warning and its deprecated flags are
// accepted.
func TestPerfToolsOutput(t *testing.T) {
	bs := startBroker(t)
	payloads := filepath.Join(t.TempDir(), "payloads.txt")
	require.NoError(t, os.WriteFile(payloads, []byte("alpha|beta||gamma|"), 0o644))
	r := runScript(t, nil, "kafka-producer-perf-test.sh", "--bootstrap-server", bs, "--topic", "perf", "--num-records", "30",
		"--payload-file", payloads, "--payload-delimiter", "|", "--throughput", "-1", "--producer-props", "acks=1")
	requireOK(t, r)
	assert.Empty(t, r.Stderr)
	lines := strings.Split(strings.TrimSuffix(r.Stdout, "\n"), "\n")
	require.GreaterOrEqual(t, len(lines), 3, r.Stdout)
	assert.Equal(t, "Reading payloads from: "+payloads, lines[0])
	assert.Equal(t, "Number of messages read: 3", lines[1])
	assert.Regexp(t, `^30 records sent, [\d.]+ records/sec \([\d.]+ MB/sec\), [\d.]+ ms avg latency, [\d.]+ ms max latency, \d+ ms 50th, \d+ ms 95th, \d+ ms 99th, \d+ ms 99\.9th\.$`, lines[len(lines)-1])
	for _, v := range readAll(t, bs, "perf") {
		assert.Contains(t, []string{"alpha", "beta", "gamma"}, v)
	}
	r = runScript(t, nil, "kafka-producer-perf-test.sh", "--bootstrap-server", bs, "--topic", "perf", "--num-records", "1",
		"--payload-file", payloads, "--record-size", "10", "--throughput", "-1")
	requireError(t, r, "either --record-size or --payload-file must be specified but not both")

	r = runScript(t, nil, "kafka-consumer-perf-test.sh", "--bootstrap-server", bs, "--topic", "perf", "--messages", "30",
		"--threads", "4", "--socket-buffer-size", "65536")
	requireOK(t, r)
	assert.Equal(t, "WARNING: option [threads] and [num-fetch-threads] have been deprecated and will be ignored by the test\n", r.Stderr)
	out := strings.Split(strings.TrimSuffix(r.Stdout, "\n"), "\n")
	require.Len(t, out, 2)
	assert.Equal(t, "start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec", out[0])
	assert.Regexp(t, regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d:\d{3}, \d{4}-\d\d-\d\d \d\d:\d\d:\d\d:\d{3}, [\d.]+, [\d.]+, 30, `), out[1])

	// Running out of --timeout (an empty topic: nothing arrives however
	// slow the machine) is Kafka's warning, the row, and exit 0.
	requireOK(t, run(t, "", "topics", "--bootstrap-server", bs, "--create", "--topic", "perf-empty"))
	r = runScript(t, nil, "kafka-consumer-perf-test.sh", "--bootstrap-server", bs, "--topic", "perf-empty", "--messages", "1",
		"--timeout", "1000", "--hide-header")
	requireOK(t, r)
	assert.Equal(t, "WARNING: Exiting before consuming the expected number of messages: timeout (1000 ms) exceeded. You can use the --timeout option to increase the timeout.\n", r.Stderr)
	assert.Regexp(t, `^[^,]+, [^,]+, 0.0000, [\d.]+, 0, `, r.Stdout)

	r = runScript(t, nil, "kafka-consumer-perf-test.sh", "--bootstrap-server", bs, "--include", "pe.*", "--messages", "30",
		"--date-format", "yyyy-MM-dd'T'HH:mm", "--hide-header")
	requireOK(t, r)
	assert.Empty(t, r.Stderr)
	assert.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d, \d{4}-\d\d-\d\dT\d\d:\d\d, [\d.]+, [\d.]+, 30, [^\n]*\n$`, r.Stdout)
	r = runScript(t, nil, "kafka-consumer-perf-test.sh", "--bootstrap-server", bs, "--topic", "perf", "--messages", "1", "--date-format", "yyyy QQ")
	requireError(t, r, `pattern letter 'Q' is not supported`)
}
