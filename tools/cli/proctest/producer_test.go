package proctest

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// linger60s makes the console producer hold records for 60 s, so a record
// read just before the tool stops is still in the client when it stops.
var linger60s = []string{"--timeout", "60000"}

// TestConsoleProducerEOFFlushesEveryLine: end of input flushes the lines
// still lingering, including a last line without a newline.
func TestConsoleProducerEOFFlushesEveryLine(t *testing.T) {
	bs := startBroker(t)
	want := lines("eof-", 50)
	r := run(t, strings.Join(want, "\n"), append([]string{"console-producer", "--bootstrap-server", bs, "--topic", "eof"}, linger60s...)...)
	requireOK(t, r)
	assert.Empty(t, r.Stdout)
	assert.Empty(t, r.Stderr)
	assert.Equal(t, want, readAll(t, bs, "eof"))
}

// TestConsoleProducerBadLineKeepsGoodLines: the lines before a bad line
// are stored, then the bad line is reported with exit 1; nothing after it.
func TestConsoleProducerBadLineKeepsGoodLines(t *testing.T) {
	bs := startBroker(t)
	r := run(t, "k1:v1\nk2:v2\nno separator\nk4:v4\n", append([]string{"console-producer", "--bootstrap-server", bs, "--topic", "bad",
		"--property", "parse.key=true", "--property", "key.separator=:"}, linger60s...)...)
	assert.Empty(t, r.Stdout)
	requireError(t, r, "no key separator found on line number 3: 'no separator'")
	require.Equal(t, 1, strings.Count(r.Stderr, "\n"), r.Stderr)
	assert.Equal(t, []string{"k1:v1", "k2:v2"}, readAll(t, bs, "bad"))
}

// TestConsoleProducerAutoCreatesTopic: producing to a topic that does not
// exist creates it (the broker allows it by default), as Kafka's producer
// asks the broker to.
func TestConsoleProducerAutoCreatesTopic(t *testing.T) {
	bs := startBroker(t, "num.partitions=3")
	r := run(t, "a\nb\nc\n", "console-producer", "--bootstrap-server", bs, "--topic", "brand-new")
	requireOK(t, r)
	assert.Empty(t, r.Stderr)
	assert.ElementsMatch(t, []string{"a", "b", "c"}, readAll(t, bs, "brand-new"))

	r = run(t, "", "topics", "--bootstrap-server", bs, "--describe", "--topic", "brand-new")
	requireOK(t, r)
	assert.Contains(t, r.Stdout, "PartitionCount: 3\t")

	r = run(t, "", "producer-perf-test", "--bootstrap-server", bs, "--topic", "perf-new", "--num-records", "20",
		"--record-size", "10", "--throughput", "-1")
	requireOK(t, r)
	assert.Contains(t, r.Stdout, "20 records sent")
	assert.Len(t, readAll(t, bs, "perf-new"), 20)

	// A broker that does not auto-create: the producer says the topic is
	// not there once its bound is up, and exits 1.
	off := startBroker(t, "auto.create.topics.enable=false")
	r = run(t, "a\n", "console-producer", "--bootstrap-server", off, "--topic", "absent", "--producer-property", "max.block.ms=3000")
	requireError(t, r, "not present in metadata after 3000 ms (max.block.ms)")
	assert.Contains(t, r.Stderr, "UNKNOWN_TOPIC_OR_PARTITION")
}
