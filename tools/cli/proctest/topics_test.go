package proctest

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTopicsRefusesToDeleteInternalTopics: deleting __consumer_offsets is
// refused with Kafka's message and exit 1, and the group's offsets are
// still there.
func TestTopicsRefusesToDeleteInternalTopics(t *testing.T) {
	bs := startBroker(t)
	requireOK(t, run(t, "a\nb\n", "console-producer", "--bootstrap-server", bs, "--topic", "t"))
	r := run(t, "", "console-consumer", "--bootstrap-server", bs, "--topic", "t", "--group", "g", "--from-beginning", "--max-messages", "2")
	requireOK(t, r)
	require.Equal(t, "a\nb\n", r.Stdout)

	for _, internal := range []string{"__consumer_offsets", "__transaction_state"} {
		r = run(t, "", "topics", "--bootstrap-server", bs, "--delete", "--topic", internal)
		assert.Empty(t, r.Stdout)
		requireError(t, r, "Topic "+internal+" is a kafka internal topic and is not allowed to be marked for deletion.")
	}
	r = run(t, "", "topics", "--bootstrap-server", bs, "--list")
	requireOK(t, r)
	assert.Contains(t, r.Stdout, "__consumer_offsets\n")
	r = run(t, "", "consumer-groups", "--bootstrap-server", bs, "--describe", "--group", "g")
	requireOK(t, r)
	assert.Regexp(t, `g\s+t\s+0\s+2\s+2\s+0`, r.Stdout)
}

// TestTopicsRunbookFlags: --topic as a regular expression for --list,
// --describe and --delete, --if-exists, the --describe report filters,
// and errors that name the bad --config and point --alter --config at
// kafka-configs.
func TestTopicsRunbookFlags(t *testing.T) {
	bs := startBroker(t)
	topics := func(args ...string) result {
		return run(t, "", append([]string{"topics", "--bootstrap-server", bs}, args...)...)
	}
	for _, tc := range [][]string{
		{"--topic", "orders", "--partitions", "2"},
		{"--topic", "orders-eu"},
		{"--topic", "audit", "--config", "min.insync.replicas=2", "--config", "retention.ms=1000"},
		{"--topic", "foo.bar"},
	} {
		requireOK(t, topics(append([]string{"--create"}, tc...)...))
	}

	r := topics("--list", "--topic", "orders.*")
	requireOK(t, r)
	assert.Equal(t, "orders\norders-eu\n", r.Stdout)
	r = topics("--list", "--topic", "foo.bar")
	requireOK(t, r)
	assert.Equal(t, "foo.bar\n", r.Stdout)
	r = topics("--list", "--topic", "nothing-like-this")
	requireOK(t, r)
	assert.Empty(t, r.Stdout, "--list --topic X | grep -q . is false when X does not exist")

	r = topics("--describe", "--topic", "nope")
	requireError(t, r, "topic 'nope' does not exist as expected")
	r = topics("--describe", "--topic", "nope", "--if-exists")
	requireOK(t, r)
	assert.Empty(t, r.Stdout)
	assert.Empty(t, r.Stderr)

	r = topics("--describe", "--topic", "orders.*")
	requireOK(t, r)
	assert.Regexp(t, `^Topic: orders\t.*\n\tTopic: orders\tPartition: 0\t.*\n\tTopic: orders\tPartition: 1\t.*\nTopic: orders-eu\t.*\n\tTopic: orders-eu\tPartition: 0\t.*\n$`, r.Stdout)

	// One broker, replication factor 1: nothing is under-replicated or
	// unavailable; every ISR is at min.insync.replicas=1 except audit's,
	// which is under its 2.
	for _, f := range []string{"--under-replicated-partitions", "--unavailable-partitions"} {
		r = topics("--describe", f)
		requireOK(t, r)
		assert.Empty(t, r.Stdout, f)
	}
	r = topics("--describe", "--under-min-isr-partitions")
	requireOK(t, r)
	assert.Regexp(t, `^\tTopic: audit\tPartition: 0\tLeader: \d+\tReplicas: \d+\tIsr: \d+\n$`, r.Stdout)
	r = topics("--describe", "--at-min-isr-partitions", "--topic", "orders|foo.bar")
	requireOK(t, r)
	assert.Equal(t, 3, strings.Count(r.Stdout, "\tPartition: "), r.Stdout)
	assert.NotContains(t, r.Stdout, "PartitionCount", "partition filters print no topic lines")
	r = topics("--describe", "--topics-with-overrides")
	requireOK(t, r)
	assert.Regexp(t, regexp.MustCompile(`^Topic: audit\t.*\tConfigs: min.insync.replicas=2,retention.ms=1000\n$`), r.Stdout)

	r = topics("--alter", "--topic", "orders", "--config", "retention.ms=5")
	requireError(t, r, "use kafka-configs.sh --bootstrap-server HOST:PORT --alter --entity-type topics --entity-name orders --add-config k=v")
	r = topics("--create", "--topic", "bad-config", "--config", "segment.bytes=1048576", "--config", "retention.ms=soon")
	requireError(t, r, "invalid --config retention.ms=soon")

	r = topics("--delete", "--topic", "orders.*")
	requireOK(t, r)
	r = topics("--list")
	requireOK(t, r)
	assert.Equal(t, "audit\nfoo.bar\n", r.Stdout)
	r = topics("--delete", "--topic", "orders.*")
	requireError(t, r, "topic 'orders.*' does not exist as expected")
	r = topics("--delete", "--topic", "orders.*", "--if-exists")
	requireOK(t, r)
}
