package proctest

import (
	"context"
	"encoding/binary"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestConsoleProducerHeadersAndNullMarker: parse.headers with Kafka's
// delimiters and null.marker, read back with every field printed.
func TestConsoleProducerHeadersAndNullMarker(t *testing.T) {
	bs := startBroker(t)
	in := "h1:a,h2:b\tk1:v1\n\tk2:NULL\nh:NULL\tNULL:v3\n"
	r := run(t, in, "console-producer", "--bootstrap-server", bs, "--topic", "hdr",
		"--property", "parse.headers=true", "--property", "parse.key=true", "--property", "key.separator=:",
		"--property", "null.marker=NULL")
	requireOK(t, r)
	r = run(t, "", "console-consumer", "--bootstrap-server", bs, "--topic", "hdr", "--from-beginning", "--max-messages", "3",
		"--property", "print.headers=true", "--property", "print.key=true")
	requireOK(t, r)
	assert.Equal(t, "h1:a,h2:b\tk1\tv1\nNO_HEADERS\tk2\tnull\nh:null\tnull\tv3\n", r.Stdout)

	// Custom delimiters; a line without the headers delimiter is an error
	// after the good lines are stored.
	r = run(t, "x=1;y=2|v4\nno delimiter\n", "console-producer", "--bootstrap-server", bs, "--topic", "hdr",
		"--property", "parse.headers=true", "--property", "headers.delimiter=|", "--property", "headers.separator=;",
		"--property", "headers.key.separator==")
	requireError(t, r, "no headers delimiter found on line number 2: 'no delimiter'")
	r = run(t, "", "console-consumer", "--bootstrap-server", bs, "--topic", "hdr", "--partition", "0", "--offset", "3",
		"--max-messages", "1", "--property", "print.headers=true")
	requireOK(t, r)
	assert.Equal(t, "x:1,y:2\tv4\n", r.Stdout)
}

// TestConsoleConsumerRunbookOptions: group.id and auto.offset.reset as
// consumer properties, --include, --isolation-level, --formatter and the
// deserializer properties, and the offsets formatter on
// __consumer_offsets.
func TestConsoleConsumerRunbookOptions(t *testing.T) {
	bs := startBroker(t, "num.partitions=1")
	requireOK(t, run(t, "a\nb\nc\n", "console-producer", "--bootstrap-server", bs, "--topic", "inc-1"))
	requireOK(t, run(t, "d\n", "console-producer", "--bootstrap-server", bs, "--topic", "inc-2"))
	requireOK(t, run(t, "e\n", "console-producer", "--bootstrap-server", bs, "--topic", "other"))

	r := run(t, "", "console-consumer", "--bootstrap-server", bs, "--topic", "inc-1", "--max-messages", "3",
		"--consumer-property", "group.id=props", "--consumer-property", "auto.offset.reset=earliest")
	requireOK(t, r)
	assert.Equal(t, "a\nb\nc\n", r.Stdout)
	assert.Equal(t, "Processed a total of 3 messages\n", r.Stderr, "no 'ignored property' warning")
	r = run(t, "", "consumer-groups", "--bootstrap-server", bs, "--describe", "--group", "props")
	requireOK(t, r)
	assert.Regexp(t, `props\s+inc-1\s+0\s+3\s+3\s+0`, r.Stdout, "group.id was the group that committed")

	r = run(t, "", "console-consumer", "--bootstrap-server", bs, "--include", "inc-.*", "--from-beginning", "--max-messages", "4",
		"--isolation-level", "read_committed")
	requireOK(t, r)
	assert.ElementsMatch(t, []string{"a", "b", "c", "d"}, splitLines(r.Stdout))

	r = run(t, "", "console-consumer", "--bootstrap-server", bs, "--topic", "inc-1", "--from-beginning", "--max-messages", "3",
		"--formatter", "kafka.tools.NoOpMessageFormatter")
	requireOK(t, r)
	assert.Empty(t, r.Stdout)
	assert.Equal(t, "Processed a total of 3 messages\n", r.Stderr)

	// Numbers written by Java's LongSerializer / IntegerSerializer.
	cl, err := kgo.NewClient(kgo.SeedBrokers(bs), kgo.AllowAutoTopicCreation())
	require.NoError(t, err)
	defer cl.Close()
	v := binary.BigEndian.AppendUint64(nil, uint64(1)<<40|42)
	k := binary.BigEndian.AppendUint32(nil, uint32(0xFFFFFFFF)) // -1
	require.NoError(t, cl.ProduceSync(context.Background(), &kgo.Record{Topic: "nums", Key: k, Value: v}).FirstErr())
	r = run(t, "", "console-consumer", "--bootstrap-server", bs, "--topic", "nums", "--from-beginning", "--max-messages", "1",
		"--property", "print.key=true", "--property", "key.deserializer=org.apache.kafka.common.serialization.IntegerDeserializer",
		"--property", "value.deserializer=org.apache.kafka.common.serialization.LongDeserializer")
	requireOK(t, r)
	assert.Equal(t, "-1\t1099511627818\n", r.Stdout)
	r = run(t, "", "console-consumer", "--bootstrap-server", bs, "--topic", "nums", "--from-beginning", "--max-messages", "1",
		"--property", "value.deserializer=org.apache.kafka.common.serialization.IntegerDeserializer")
	requireError(t, r, "size of data received by the deserializer is not 4")
	r = run(t, "", "console-consumer", "--bootstrap-server", bs, "--topic", "nums", "--from-beginning", "--max-messages", "1",
		"--value-deserializer", "org.apache.kafka.common.serialization.IntegerDeserializer", "--skip-message-on-error")
	requireOK(t, r)
	assert.Empty(t, r.Stdout)
	assert.Equal(t, "ERROR: Error processing message, skipping this message: value of nums-0@0: size of data received by the deserializer is not 4\nProcessed a total of 1 messages\n", r.Stderr)
	fc := writeProps(t, "formatter.properties", "print.key=true\nkey.deserializer=org.apache.kafka.common.serialization.IntegerDeserializer\n")
	r = run(t, "", "console-consumer", "--bootstrap-server", bs, "--topic", "nums", "--from-beginning", "--max-messages", "1",
		"--formatter-config", fc, "--value-deserializer", "LongDeserializer")
	requireOK(t, r)
	assert.Equal(t, "-1\t1099511627818\n", r.Stdout)

	// The classic runbook step: what has group "props" committed?
	n := recordCount(t, bs, "__consumer_offsets")
	require.Positive(t, n)
	r = run(t, "", "console-consumer", "--bootstrap-server", bs, "--topic", "__consumer_offsets", "--from-beginning", "--max-messages", strconv.FormatInt(n, 10),
		"--formatter", "kafka.coordinator.group.GroupMetadataManager$OffsetsMessageFormatter")
	requireOK(t, r)
	assert.Regexp(t, `(?m)^\[props,inc-1,0\]::OffsetAndMetadata\(offset=3, leaderEpoch=(Optional\[\d+\]|Optional\.empty), metadata=[^,]*, commitTimestamp=\d{13}, expireTimestamp=None\)$`, r.Stdout)
}

// recordCount is the number of records in topic (end minus start offsets).
func recordCount(t *testing.T, bootstrap, topic string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap))
	require.NoError(t, err)
	defer cl.Close()
	adm := kadm.NewClient(cl)
	starts, err := adm.ListStartOffsets(ctx, topic)
	require.NoError(t, err)
	ends, err := adm.ListEndOffsets(ctx, topic)
	require.NoError(t, err)
	var n int64
	ends.Each(func(e kadm.ListedOffset) {
		s, ok := starts.Lookup(e.Topic, e.Partition)
		require.True(t, ok)
		n += e.Offset - s.Offset
	})
	return n
}

func splitLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}
