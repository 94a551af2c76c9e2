package proctest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// writeProps writes a properties file and returns its path.
func writeProps(t *testing.T, name, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, []byte(text), 0o644))
	return path
}

// TestCommandConfigAndClientConfigFiles: --command-config on every client
// tool, --producer.config and --consumer.config: the keys Strom uses are
// applied (client.id shows up in the group's member list), the others get
// one WARN line each, and the tools succeed.
func TestCommandConfigAndClientConfigFiles(t *testing.T) {
	bs := startBroker(t)
	cmdConfig := writeProps(t, "command.properties", "security.protocol=PLAINTEXT\nsasl.mechanism=PLAIN\nmystery.key=1\nrequest.timeout.ms=30000\n")
	producerConfig := writeProps(t, "producer.properties", "acks=1\nlinger.ms=0\nclient.id=runbook-producer\n")
	consumerConfig := writeProps(t, "consumer.properties", "client.id=runbook-consumer\ngroup.id=runbook\nauto.offset.reset=earliest\n")

	r := run(t, "", "topics", "--bootstrap-server", bs, "--create", "--topic", "cc", "--command-config", cmdConfig)
	requireOK(t, r)
	assert.Equal(t, "Created topic cc.\n", r.Stdout)
	assert.Equal(t, "WARN: ignoring unknown admin client property mystery.key\nWARN: ignoring sasl.mechanism: Strom's tools connect with PLAINTEXT only\n", r.Stderr)

	r = run(t, "a\nb\n", "console-producer", "--bootstrap-server", bs, "--topic", "cc", "--command-config", cmdConfig, "--producer.config", producerConfig)
	requireOK(t, r)
	assert.Equal(t, "WARN: ignoring unknown producer property mystery.key\nWARN: ignoring sasl.mechanism: Strom's tools connect with PLAINTEXT only\n", r.Stderr)

	r = run(t, "", "producer-perf-test", "--bootstrap-server", bs, "--topic", "cc", "--num-records", "3", "--record-size", "5",
		"--throughput", "-1", "--command-config", cmdConfig, "--producer.config", producerConfig)
	requireOK(t, r)
	assert.Contains(t, r.Stdout, "3 records sent")

	// group.id and auto.offset.reset from --consumer.config: the group reads
	// from the beginning; client.id is what the group's members show.
	p := start(t, "console-consumer", "--bootstrap-server", bs, "--topic", "cc", "--consumer.config", consumerConfig, "--command-config", cmdConfig)
	eventually(t, "the consumer to print the records", func() bool {
		require.False(t, p.exited(), "stderr: %s", p.stderr.String())
		return strings.Count(p.stdout.String(), "\n") == 5
	})
	r = run(t, "", "consumer-groups", "--bootstrap-server", bs, "--describe", "--group", "runbook", "--members", "--command-config", cmdConfig)
	requireOK(t, r)
	assert.Regexp(t, `runbook\s+\S+\s+/127.0.0.1\s+runbook-consumer\s+1\n`, r.Stdout)
	p.stdin.Close()
	p.signal(sigint)
	r = p.wait()
	requireOK(t, r)
	assert.Equal(t, "a\nb\n", r.Stdout[:4])
	assert.Contains(t, r.Stderr, "WARN: ignoring unknown consumer property mystery.key\n")
	assert.Contains(t, r.Stderr, "Processed a total of 5 messages\n")

	r = run(t, "", "consumer-perf-test", "--bootstrap-server", bs, "--topic", "cc", "--messages", "5", "--consumer.config", consumerConfig, "--group", "perf-runbook", "--hide-header")
	requireOK(t, r)
	assert.Contains(t, r.Stdout, ", 5, ")
}
