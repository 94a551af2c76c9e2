package topics

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strom-broker/strom/tools/cli/clitest"
)

func TestTopicsLifecycle(t *testing.T) {
	bs := clitest.Cluster(t, 1)

	r := clitest.Run(t, Run, "", "--bootstrap-server", bs, "--create", "--topic", "orders",
		"--partitions", "2", "--replication-factor", "1", "--config", "retention.ms=60000", "--config", "cleanup.policy=compact")
	clitest.RequireOK(t, r)
	assert.Equal(t, "Created topic orders.\n", r.Stdout)

	r = clitest.Run(t, Run, "", "--broker-list", bs, "--create", "--topic", "audit")
	clitest.RequireOK(t, r)

	r = clitest.Run(t, Run, "", "--bootstrap-server", bs, "--create", "--topic", "orders")
	clitest.RequireOneLineError(t, r, "topic 'orders' already exists")
	r = clitest.Run(t, Run, "", "--bootstrap-server", bs, "--create", "--topic", "orders", "--if-not-exists")
	clitest.RequireOK(t, r)
	assert.Empty(t, r.Stdout)

	r = clitest.Run(t, Run, "", "--bootstrap-server", bs, "--list")
	clitest.RequireOK(t, r)
	assert.Equal(t, "audit\norders\n", r.Stdout)

	r = clitest.Run(t, Run, "", "--bootstrap-server", bs, "--describe", "--topic", "orders")
	clitest.RequireOK(t, r)
	lines := strings.Split(strings.TrimSuffix(r.Stdout, "\n"), "\n")
	require.Len(t, lines, 3, r.Stdout)
	assert.Regexp(t, regexp.MustCompile(`^Topic: orders\tTopicId: [A-Za-z0-9_-]{22}\tPartitionCount: 2\tReplicationFactor: 1\tConfigs: cleanup.policy=compact,retention.ms=60000$`), lines[0])
	assert.Regexp(t, regexp.MustCompile(`^\tTopic: orders\tPartition: 0\tLeader: (\d+)\tReplicas: (\d+)\tIsr: (\d+)$`), lines[1])
	assert.Regexp(t, regexp.MustCompile(`^\tTopic: orders\tPartition: 1\tLeader: \d+\tReplicas: \d+\tIsr: \d+$`), lines[2])

	r = clitest.Run(t, Run, "", "--bootstrap-server", bs, "--alter", "--topic", "orders", "--partitions", "5")
	clitest.RequireOK(t, r)
	r = clitest.Run(t, Run, "", "--bootstrap-server", bs, "--describe")
	clitest.RequireOK(t, r)
	assert.Contains(t, r.Stdout, "Topic: audit\t")
	assert.Contains(t, r.Stdout, "PartitionCount: 5")
	assert.Contains(t, r.Stdout, "\tTopic: orders\tPartition: 4\t")

	r = clitest.Run(t, Run, "", "--bootstrap-server", bs, "--delete", "--topic", "orders")
	clitest.RequireOK(t, r)
	r = clitest.Run(t, Run, "", "--bootstrap-server", bs, "--list")
	clitest.RequireOK(t, r)
	assert.Equal(t, "audit\n", r.Stdout)

	r = clitest.Run(t, Run, "", "--bootstrap-server", bs, "--describe", "--topic", "orders")
	clitest.RequireOneLineError(t, r, "topic 'orders' does not exist")
	r = clitest.Run(t, Run, "", "--bootstrap-server", bs, "--delete", "--topic", "orders")
	clitest.RequireOneLineError(t, r, "topic 'orders' does not exist")
	r = clitest.Run(t, Run, "", "--bootstrap-server", bs, "--delete", "--topic", "orders", "--if-exists")
	clitest.RequireOK(t, r)
	r = clitest.Run(t, Run, "", "--bootstrap-server", bs, "--alter", "--topic", "nope", "--partitions", "3")
	clitest.RequireOneLineError(t, r, "topic 'nope' does not exist")
}

func TestTopicsUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--bootstrap-server", "127.0.0.1:1"}, "exactly one action"},
		{[]string{"--bootstrap-server", "127.0.0.1:1", "--list", "--create"}, "exactly one action"},
		{[]string{"--list"}, "missing required option --bootstrap-server"},
		{[]string{"--bootstrap-server", "127.0.0.1:1", "--create"}, "missing required option --topic"},
		{[]string{"--bootstrap-server", "127.0.0.1:1", "--alter", "--topic", "t"}, "--alter needs --partitions"},
		{[]string{"--bootstrap-server", "127.0.0.1:1", "--list", "--config", "a=b"}, "--config is only valid with --create"},
		{[]string{"--bootstrap-server", "127.0.0.1:1", "--create", "--topic", "t", "--config", "ab"}, `--config "ab" is not key=value`},
		{[]string{"--bootstrap-server", "127.0.0.1:1", "--create", "--topic", "t", "--partitions", "0"}, "must be >= 1"},
		{[]string{"--bogus"}, "unknown option --bogus"},
		{[]string{"--topic"}, "option needs an argument: --topic"},
		{[]string{"--partitions", "x"}, "invalid value \"x\" for option --partitions"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			clitest.RequireOneLineError(t, clitest.Run(t, Run, "", tc.args...), tc.want)
		})
	}
}

func TestTopicsHelp(t *testing.T) {
	r := clitest.Run(t, Run, "", "--help")
	clitest.RequireOK(t, r)
	for _, f := range []string{"--bootstrap-server <string>", "--broker-list", "--create", "--list", "--describe", "--alter",
		"--delete", "--topic", "--partitions", "--replication-factor", "--config", "--if-not-exists", "--help"} {
		assert.Contains(t, r.Stdout, f)
	}
	assert.Empty(t, r.Stderr)
}
