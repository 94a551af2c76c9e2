package proctest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestConfigsTool: kafka-configs.sh describes and alters topic configs
// (--add-config with a bracketed list, --delete-config), describes broker
// configs and defaults, and refuses what Kafka refuses.
func TestConfigsTool(t *testing.T) {
	bs := startBroker(t)
	requireOK(t, run(t, "", "topics", "--bootstrap-server", bs, "--create", "--topic", "cfg"))
	configs := func(args ...string) result {
		return runScript(t, nil, "kafka-configs.sh", append([]string{"--bootstrap-server", bs}, args...)...)
	}

	r := configs("--entity-type", "topics", "--entity-name", "cfg", "--describe")
	requireOK(t, r)
	assert.Equal(t, "Dynamic configs for topic cfg are:\n", r.Stdout)

	r = configs("--entity-type", "topics", "--entity-name", "cfg", "--alter", "--add-config", "retention.ms=60000,cleanup.policy=[compact,delete]")
	requireOK(t, r)
	assert.Equal(t, "Completed updating config for topic cfg.\n", r.Stdout)
	r = configs("--topic", "cfg", "--describe")
	requireOK(t, r)
	assert.Regexp(t, `^Dynamic configs for topic cfg are:\n`+
		`  cleanup.policy=compact,delete sensitive=false synonyms=\{DYNAMIC_TOPIC_CONFIG:cleanup.policy=compact,delete.*\}\n`+
		`  retention.ms=60000 sensitive=false synonyms=\{DYNAMIC_TOPIC_CONFIG:retention.ms=60000.*\}\n$`, r.Stdout)
	r = run(t, "", "topics", "--bootstrap-server", bs, "--describe", "--topic", "cfg")
	assert.Contains(t, r.Stdout, "Configs: cleanup.policy=compact,delete,retention.ms=60000\n", "kafka-topics sees the change")

	r = configs("--entity-type", "topics", "--entity-name", "cfg", "--describe", "--all")
	requireOK(t, r)
	assert.True(t, strings.HasPrefix(r.Stdout, "All configs for topic cfg are:\n"), r.Stdout)
	assert.Regexp(t, `\n  segment.bytes=\d+ sensitive=false synonyms=\{`, r.Stdout, "--all lists defaults too")

	r = configs("--entity-type", "topics", "--entity-name", "cfg", "--alter", "--delete-config", "retention.ms")
	requireOK(t, r)
	r = configs("--entity-type", "topics", "--entity-name", "cfg", "--describe")
	assert.NotContains(t, r.Stdout, "retention.ms")
	r = configs("--entity-type", "topics", "--entity-name", "cfg", "--alter", "--delete-config", "retention.ms")
	requireError(t, r, "invalid config(s): retention.ms")
	r = configs("--entity-type", "topics", "--entity-name", "cfg", "--alter", "--add-config", "retention.ms=soon")
	requireError(t, r, "retention.ms")
	r = configs("--entity-type", "topics", "--entity-name", "nope", "--alter", "--add-config", "retention.ms=1")
	requireError(t, r, "nope")

	r = configs("--entity-type", "brokers", "--entity-name", "0", "--describe", "--all")
	requireOK(t, r)
	assert.True(t, strings.HasPrefix(r.Stdout, "All configs for broker 0 are:\n"), r.Stdout)
	assert.Regexp(t, `\n  num.partitions=1 sensitive=false synonyms=\{`, r.Stdout)
	r = configs("--entity-type", "brokers", "--entity-default", "--describe")
	requireOK(t, r)
	assert.Equal(t, "Default configs for brokers in the cluster are:\n", r.Stdout)
	r = configs("--entity-type", "brokers", "--entity-name", "x", "--describe")
	requireError(t, r, "must be a valid integer broker id")
	r = configs("--entity-type", "users", "--entity-name", "x", "--describe")
	requireError(t, r, "--entity-type users: not supported")
}

// TestGetOffsetsAndDeleteRecords: kafka-get-offsets.sh at -1, -2, -3 and a
// timestamp, with --topic-partitions patterns; kafka-delete-records.sh
// moves the log start, which get-offsets -2 then shows.
func TestGetOffsetsAndDeleteRecords(t *testing.T) {
	bs := startBroker(t)
	requireOK(t, run(t, "", "topics", "--bootstrap-server", bs, "--create", "--topic", "go-a", "--partitions", "3"))
	requireOK(t, run(t, "", "topics", "--bootstrap-server", bs, "--create", "--topic", "go-b"))
	cl, err := kgo.NewClient(kgo.SeedBrokers(bs), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	require.NoError(t, err)
	defer cl.Close()
	base := time.UnixMilli(1_700_000_000_000)
	var recs []*kgo.Record
	for i := range 10 {
		recs = append(recs, &kgo.Record{Topic: "go-a", Partition: int32(i % 2), Timestamp: base.Add(time.Duration(i) * time.Second), Value: []byte{byte(i)}})
	}
	recs = append(recs, &kgo.Record{Topic: "go-b", Value: []byte("x")})
	require.NoError(t, cl.ProduceSync(context.Background(), recs...).FirstErr())

	getOffsets := func(args ...string) result {
		return runScript(t, nil, "kafka-get-offsets.sh", append([]string{"--bootstrap-server", bs}, args...)...)
	}
	r := getOffsets("--topic", "go-.*")
	requireOK(t, r)
	assert.Equal(t, "go-a:0:5\ngo-a:1:5\ngo-a:2:0\ngo-b:0:1\n", r.Stdout)
	r = getOffsets("--topic", "go-a", "--partitions", "1", "--time", "-2")
	requireOK(t, r)
	assert.Equal(t, "go-a:1:0\n", r.Stdout)
	r = getOffsets("--topic-partitions", "go-a:0-2,go-b", "--time", "-3")
	requireOK(t, r)
	assert.Equal(t, "go-a:0:4\ngo-a:1:4\ngo-b:0:0\n", r.Stdout)
	// Record i is at base+i s on partition i%2, offset i/2: the first at or
	// after base+5s is record 5 (p1, offset 2) and record 6 (p0, offset 3).
	r = getOffsets("--topic", "go-a", "--time", "1700000005000")
	requireOK(t, r)
	assert.Equal(t, "go-a:0:3\ngo-a:1:2\n", r.Stdout, "a partition without such an offset is left out")
	r = getOffsets("--time", "yesterday")
	requireError(t, r, `--time "yesterday"`)

	file := filepath.Join(t.TempDir(), "offsets.json")
	require.NoError(t, os.WriteFile(file, []byte(`{"partitions":[{"topic":"go-a","partition":0,"offset":3},{"topic":"go-a","partition":1,"offset":-1}],"version":1}`), 0o644))
	r = runScript(t, nil, "kafka-delete-records.sh", "--bootstrap-server", bs, "--offset-json-file", file)
	requireOK(t, r)
	assert.Equal(t, "Executing records delete operation\nRecords delete operation completed:\npartition: go-a-0\tlow_watermark: 3\npartition: go-a-1\tlow_watermark: 5\n", r.Stdout)
	r = getOffsets("--topic", "go-a", "--time", "-2")
	assert.Equal(t, "go-a:0:3\ngo-a:1:5\ngo-a:2:0\n", r.Stdout)

	require.NoError(t, os.WriteFile(file, []byte(`{"partitions":[{"topic":"go-a","partition":0,"offset":99}],"version":1}`), 0o644))
	r = runScript(t, nil, "kafka-delete-records.sh", "--bootstrap-server", bs, "--offset-json-file", file)
	requireError(t, r, "1 of 1 partitions failed")
	assert.Contains(t, r.Stdout, "partition: go-a-0\terror: OFFSET_OUT_OF_RANGE")
	require.NoError(t, os.WriteFile(file, []byte(`{"partitions":[{"topic":"go-a"}]}`), 0o644))
	r = runScript(t, nil, "kafka-delete-records.sh", "--bootstrap-server", bs, "--offset-json-file", file)
	requireError(t, r, "partitions[0] needs topic, partition and offset")
}

// TestBrokerAPIVersions: kafka-broker-api-versions.sh lists every API in
// Kafka's layout: what the broker serves with the usable version, the
// rest UNSUPPORTED.
func TestBrokerAPIVersions(t *testing.T) {
	bs := startBroker(t)
	r := runScript(t, nil, "kafka-broker-api-versions.sh", "--bootstrap-server", bs)
	requireOK(t, r)
	lines := strings.Split(strings.TrimSuffix(r.Stdout, "\n"), "\n")
	assert.Regexp(t, `^127\.0\.0\.1:\d+ \(id: 0 rack: null\) -> \($`, lines[0])
	assert.Equal(t, ")", lines[len(lines)-1])
	assert.Contains(t, r.Stdout, "\n\tProduce(0): 0 to 11 [usable: 11],\n")
	assert.Contains(t, r.Stdout, "\n\tApiVersions(18): 0 to ")
	assert.Contains(t, r.Stdout, "\n\tLeaderAndIsr(4): 2 to 7 [usable: 7],\n")
	assert.Contains(t, r.Stdout, "\n\tControlledShutdown(7): 1 to 3 [usable: 3],\n")
	assert.Contains(t, r.Stdout, "\n\tSaslHandshake(17): UNSUPPORTED,\n")
	for _, l := range lines[1 : len(lines)-2] {
		assert.Regexp(t, `^\t\w+\(\d+\): (UNSUPPORTED|\d+ to \d+ \[usable: (\d+|NONE)\]),$`, l)
	}
	assert.NotRegexp(t, `,$`, lines[len(lines)-2], "the last API has no comma")
}

// TestLogDirs: kafka-log-dirs.sh --describe over the broker's
// DescribeLogDirs: the broker's dir, each partition with the size of its
// files on disk.
func TestLogDirs(t *testing.T) {
	b := startBrokerIn(t)
	bs := b.Addr()
	requireOK(t, run(t, "", "topics", "--bootstrap-server", bs, "--create", "--topic", "ld", "--partitions", "2"))
	requireOK(t, run(t, "", "topics", "--bootstrap-server", bs, "--create", "--topic", "other"))
	requireOK(t, run(t, strings.Repeat("some record text\n", 100), "console-producer", "--bootstrap-server", bs, "--topic", "ld"))

	r := runScript(t, nil, "kafka-log-dirs.sh", "--bootstrap-server", bs, "--describe", "--topic-list", "ld")
	requireOK(t, r)
	lines := strings.Split(strings.TrimSuffix(r.Stdout, "\n"), "\n")
	require.Len(t, lines, 3, r.Stdout)
	assert.Equal(t, "Querying brokers for log directories information", lines[0])
	assert.Equal(t, "Received log directory information from brokers 0", lines[1])
	var out struct {
		Brokers []struct {
			Broker  int32
			LogDirs []struct {
				LogDir     string
				Error      *string
				Partitions []struct {
					Partition string
					Size      int64
					OffsetLag int64
					IsFuture  bool
				}
			}
		}
		Version int
	}
	require.NoError(t, json.Unmarshal([]byte(lines[2]), &out), lines[2])
	assert.Equal(t, 1, out.Version)
	require.Len(t, out.Brokers, 1)
	require.Len(t, out.Brokers[0].LogDirs, 1)
	d := out.Brokers[0].LogDirs[0]
	assert.Equal(t, filepath.Clean(b.Dir), d.LogDir)
	assert.Nil(t, d.Error)
	require.Len(t, d.Partitions, 2, "only the listed topic")
	var total int64
	for i, p := range d.Partitions {
		assert.Equal(t, fmt.Sprintf("ld-%d", i), p.Partition)
		assert.Equal(t, logBytes(t, filepath.Join(b.Dir, p.Partition)), p.Size, p.Partition)
		total += p.Size
	}
	assert.Positive(t, total)

	r = runScript(t, nil, "kafka-log-dirs.sh", "--bootstrap-server", bs, "--describe")
	requireOK(t, r)
	assert.Contains(t, r.Stdout, `"partition":"other-0","size":0,"offsetLag":0,"isFuture":false`)
	r = runScript(t, nil, "kafka-log-dirs.sh", "--bootstrap-server", bs)
	requireError(t, r, "missing required option --describe")
}

// logBytes sums the sizes of the .log segment files in a partition dir.
func logBytes(t *testing.T, dir string) int64 {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.log"))
	require.NoError(t, err)
	var n int64
	for _, f := range files {
		fi, err := os.Stat(f)
		require.NoError(t, err)
		n += fi.Size()
	}
	return n
}
