package consoleproducer_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strom-broker/strom/tools/cli/clitest"
	"github.com/strom-broker/strom/tools/cli/consoleconsumer"
	"github.com/strom-broker/strom/tools/cli/consoleproducer"
)

func TestProduceThenConsumeWithKeys(t *testing.T) {
	bs := clitest.Cluster(t, 1, "lines")
	r := clitest.Run(t, consoleproducer.Run, "k1:v1\nk2:v2:x\r\nk3:\n",
		"--bootstrap-server", bs, "--topic", "lines", "--property", "parse.key=true", "--property", "key.separator=:",
		"--producer-property", "linger.ms=0", "--compression-codec", "gzip")
	clitest.RequireOK(t, r)
	assert.Empty(t, r.Stdout)

	r = clitest.Run(t, consoleconsumer.Run, "", "--bootstrap-server", bs, "--topic", "lines", "--from-beginning",
		"--max-messages", "3", "--property", "print.key=true")
	clitest.RequireOK(t, r)
	assert.Equal(t, "k1\tv1\nk2\tv2:x\nk3\t\n", r.Stdout)
	assert.Equal(t, "Processed a total of 3 messages\n", r.Stderr)

	r = clitest.Run(t, consoleconsumer.Run, "", "--bootstrap-server", bs, "--topic", "lines", "--from-beginning",
		"--max-messages", "3", "--property", "print.timestamp=true", "--property", "print.partition=true",
		"--property", "print.offset=true", "--property", "print.headers=true", "--property", "print.key=true",
		"--property", "key.separator= | ")
	clitest.RequireOK(t, r)
	lines := strings.Split(strings.TrimSuffix(r.Stdout, "\n"), "\n")
	require.Len(t, lines, 3)
	for i, want := range []string{"k1 | v1", "k2 | v2:x", "k3 | "} {
		assert.Regexp(t, regexp.MustCompile(`^CreateTime:\d{13} \| Partition:0 \| Offset:`+string(rune('0'+i))+` \| NO_HEADERS \| `+regexp.QuoteMeta(want)+`$`), lines[i])
	}

	// Without parse.key the whole line is the value and the key is null.
	r = clitest.Run(t, consoleproducer.Run, "plain:line\n", "--broker-list", bs, "--topic", "lines",
		"--request-required-acks", "1", "--sync")
	clitest.RequireOK(t, r)
	r = clitest.Run(t, consoleconsumer.Run, "", "--bootstrap-server", bs, "--topic", "lines", "--partition", "0",
		"--offset", "3", "--max-messages", "1", "--property", "print.key=true")
	clitest.RequireOK(t, r)
	assert.Equal(t, "null\tplain:line\n", r.Stdout)
}

// TestConsumerExactFormat checks every print property against records with
// known timestamps, headers and null fields.
func TestConsumerExactFormat(t *testing.T) {
	bs := clitest.Cluster(t, 2, "fixed")
	cl, err := kgo.NewClient(kgo.SeedBrokers(bs), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	require.NoError(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ts := time.UnixMilli(1700000000000)
	recs := []*kgo.Record{
		{Topic: "fixed", Partition: 1, Timestamp: ts, Value: []byte("v0"), Headers: []kgo.RecordHeader{{Key: "h1", Value: []byte("a")}, {Key: "h2"}}},
		{Topic: "fixed", Partition: 1, Timestamp: ts.Add(time.Millisecond), Key: []byte("k"), Value: nil},
	}
	require.NoError(t, cl.ProduceSync(ctx, recs...).FirstErr())

	all := []string{"--property", "print.timestamp=true", "--property", "print.partition=true", "--property", "print.offset=true",
		"--property", "print.headers=true", "--property", "print.key=true"}
	base := []string{"--bootstrap-server", bs, "--topic", "fixed"}
	tests := []struct {
		name string
		args []string
		want string
		n    int
	}{
		{"every field", append([]string{"--from-beginning", "--max-messages", "2"}, all...),
			"CreateTime:1700000000000\tPartition:1\tOffset:0\th1:a,h2:null\tnull\tv0\n" +
				"CreateTime:1700000000001\tPartition:1\tOffset:1\tNO_HEADERS\tk\tnull\n", 2},
		{"value only", []string{"--from-beginning", "--max-messages", "2"}, "v0\nnull\n", 2},
		{"no value, custom separators", []string{"--partition", "1", "--offset", "earliest", "--max-messages", "2",
			"--property", "print.value=false", "--property", "print.offset=true", "--property", "print.key=true",
			"--property", "key.separator=,", "--property", "line.separator=;", "--property", "null.literal=NIL"},
			"Offset:0,NIL;Offset:1,k;", 2},
		{"partition and offset", []string{"--partition", "1", "--offset", "1", "--max-messages", "1", "--property", "print.offset=true"},
			"Offset:1\tnull\n", 1},
		{"group", []string{"--group", "g1", "--from-beginning", "--max-messages", "2", "--property", "print.partition=true"},
			"Partition:1\tv0\nPartition:1\tnull\n", 2},
		{"timeout with nothing new", []string{"--timeout-ms", "300"}, "", 0},
		{"timeout after draining", []string{"--from-beginning", "--timeout-ms", "3000"}, "v0\nnull\n", 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := clitest.Run(t, consoleconsumer.Run, "", append(append([]string{}, base...), tc.args...)...)
			clitest.RequireOK(t, r)
			assert.Equal(t, tc.want, r.Stdout)
			assert.Equal(t, fmt.Sprintf("Processed a total of %d messages\n", tc.n), r.Stderr)
		})
	}
}

func TestProducerErrors(t *testing.T) {
	bs := clitest.Cluster(t, 1, "t")
	tests := []struct {
		name, stdin string
		args        []string
		want        string
	}{
		{"no topic", "", []string{"--bootstrap-server", bs}, "missing required option --topic"},
		{"no bootstrap", "", []string{"--topic", "t"}, "missing required option --bootstrap-server"},
		{"missing separator", "a:b\nnoseparator\n", []string{"--bootstrap-server", bs, "--topic", "t", "--property", "parse.key=true", "--property", "key.separator=:"},
			"no key separator found on line number 2: 'noseparator'"},
		{"bad acks", "x\n", []string{"--bootstrap-server", bs, "--topic", "t", "--request-required-acks", "2"}, `producer property acks="2": want 0, 1, -1 or all`},
		{"bad codec", "x\n", []string{"--bootstrap-server", bs, "--topic", "t", "--compression-codec", "brotli"}, `unknown codec "brotli"`},
		{"bad linger", "x\n", []string{"--bootstrap-server", bs, "--topic", "t", "--producer-property", "linger.ms=soon"}, "linger.ms"},
		{"idempotence without acks all", "x\n", []string{"--bootstrap-server", bs, "--topic", "t", "--producer-property", "acks=1", "--producer-property", "enable.idempotence=true"}, "needs acks=all"},
		{"unknown reader property", "x\n", []string{"--bootstrap-server", bs, "--topic", "t", "--property", "parse.keys=true"}, "unknown --property parse.keys"},
		{"producer property not kv", "x\n", []string{"--bootstrap-server", bs, "--topic", "t", "--producer-property", "acks"}, `--producer-property "acks" is not key=value`},
		{"missing producer.config", "x\n", []string{"--bootstrap-server", bs, "--topic", "t", "--producer.config", "/nonexistent/p.properties"}, "no such file"},
		{"unknown topic", "x\n", []string{"--bootstrap-server", bs, "--topic", "nope", "--producer-property", "max.block.ms=1000"}, "topics [nope] not present in metadata after 1000 ms (max.block.ms)"},
		{"bad flag", "", []string{"--nope"}, "unknown option --nope"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clitest.RequireOneLineError(t, clitest.Run(t, consoleproducer.Run, tc.stdin, tc.args...), tc.want)
		})
	}
}

func TestConsumerErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--bootstrap-server", "127.0.0.1:1"}, "exactly one of --topic or --include is required"},
		{[]string{"--bootstrap-server", "127.0.0.1:1", "--topic", "t", "--offset", "5"}, "the partition is required when offset is specified"},
		{[]string{"--bootstrap-server", "127.0.0.1:1", "--topic", "t", "--partition", "0", "--offset", "5", "--from-beginning"}, "cannot be specified together"},
		{[]string{"--bootstrap-server", "127.0.0.1:1", "--topic", "t", "--partition", "0", "--group", "g"}, "--group and --partition"},
		{[]string{"--bootstrap-server", "127.0.0.1:1", "--topic", "t", "--partition", "0", "--offset", "x"}, `--offset "x"`},
		{[]string{"--bootstrap-server", "127.0.0.1:1", "--topic", "t", "--max-messages", "0"}, "--max-messages must be >= 1"},
		{[]string{"--bootstrap-server", "127.0.0.1:1", "--topic", "t", "--property", "print.everything=true"}, "unknown --property print.everything"},
		{[]string{"--bootstrap-server", "127.0.0.1:1", "--topic", "t", "--consumer-property", "fetch.max.bytes=-3"}, "fetch.max.bytes"},
		{[]string{"--max-messages", "many"}, `invalid value "many" for option --max-messages`},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			clitest.RequireOneLineError(t, clitest.Run(t, consoleconsumer.Run, "", tc.args...), tc.want)
		})
	}
}

func TestHelp(t *testing.T) {
	r := clitest.Run(t, consoleproducer.Run, "", "--help")
	clitest.RequireOK(t, r)
	for _, f := range []string{"--bootstrap-server", "--topic", "--property", "--producer-property", "--request-required-acks", "--compression-codec"} {
		assert.Contains(t, r.Stdout, f)
	}
	r = clitest.Run(t, consoleconsumer.Run, "", "--help")
	clitest.RequireOK(t, r)
	for _, f := range []string{"--bootstrap-server", "--topic", "--from-beginning", "--partition", "--offset", "--max-messages", "--timeout-ms", "--group", "--property"} {
		assert.Contains(t, r.Stdout, f)
	}
}
