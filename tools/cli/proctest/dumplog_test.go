package proctest

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDumpLog: kafka-dump-log.sh reads a stopped broker's files: every
// batch of a segment (each codec) with valid CRCs and every record's key
// and value, index entries that point at batch starts, time index entries,
// the idempotent producer's snapshot, and decoded __consumer_offsets
// records.
func TestDumpLog(t *testing.T) {
	b := startBrokerIn(t, "log.index.interval.bytes=1")
	bs := b.Addr()
	requireOK(t, run(t, "", "topics", "--bootstrap-server", bs, "--create", "--topic", "dl"))
	var want []string
	for _, codec := range []string{"none", "gzip", "snappy", "lz4", "zstd"} {
		pad := strings.Repeat("x", 300) // compressible: franz-go sends a batch uncompressed when that is smaller
		in := fmt.Sprintf("k-%s\tv-%s-1%s\nk-%s\tv-%s-2%s\n", codec, codec, pad, codec, codec, pad)
		requireOK(t, run(t, in, "console-producer", "--bootstrap-server", bs, "--topic", "dl", "--compression-codec", codec,
			"--property", "parse.key=true"))
		want = append(want, "key: k-"+codec+" payload: v-"+codec+"-1"+pad, "key: k-"+codec+" payload: v-"+codec+"-2"+pad)
	}
	requireOK(t, run(t, "", "console-consumer", "--bootstrap-server", bs, "--topic", "dl", "--group", "dumper", "--from-beginning", "--max-messages", "10"))
	b.Stop()

	seg := filepath.Join(b.Dir, "dl-0", "00000000000000000000")
	dump := func(args ...string) result {
		return runScript(t, nil, "kafka-dump-log.sh", args...)
	}
	r := dump("--files", seg+".log", "--print-data-log")
	requireOK(t, r)
	lines := strings.Split(strings.TrimSuffix(r.Stdout, "\n"), "\n")
	assert.Equal(t, "Dumping "+seg+".log", lines[0])
	assert.Equal(t, "Log starting offset: 0", lines[1])
	batchRE := regexp.MustCompile(`^baseOffset: (\d+) lastOffset: (\d+) count: 2 baseSequence: (\d+) lastSequence: \d+ producerId: \d+ producerEpoch: 0 partitionLeaderEpoch: 0 isTransactional: false isControl: false deleteHorizonMs: OptionalLong.empty position: (\d+) CreateTime: \d+ size: \d+ magic: 2 compresscodec: (\w+) crc: \d+ isvalid: true$`)
	recordRE := regexp.MustCompile(`^\| offset: (\d+) CreateTime: \d+ keySize: \d+ valueSize: \d+ sequence: \d+ headerKeys: \[\] (key: .*)$`)
	var codecs, records []string
	positions := map[int64]int64{} // batch last offset -> position
	for _, l := range lines[2:] {
		if m := batchRE.FindStringSubmatch(l); m != nil {
			codecs = append(codecs, m[5])
			last, _ := strconv.ParseInt(m[2], 10, 64)
			pos, _ := strconv.ParseInt(m[4], 10, 64)
			positions[last] = pos
			continue
		}
		m := recordRE.FindStringSubmatch(l)
		require.NotNil(t, m, "unexpected line %q", l)
		assert.Equal(t, strconv.Itoa(len(records)), m[1])
		records = append(records, m[2])
	}
	assert.Equal(t, []string{"none", "gzip", "snappy", "lz4", "zstd"}, codecs)
	assert.Equal(t, want, records)

	r = dump("--files", seg+".index")
	requireOK(t, r)
	entries := strings.Split(strings.TrimSuffix(r.Stdout, "\n"), "\n")[1:]
	require.NotEmpty(t, entries)
	for _, l := range entries {
		var off, pos int64
		_, err := fmt.Sscanf(l, "offset: %d position: %d", &off, &pos)
		require.NoError(t, err, l)
		p, ok := positions[off]
		assert.True(t, ok && p == pos, "index entry %q is not a batch's last offset and start", l)
	}
	r = dump("--files", seg+".timeindex")
	requireOK(t, r)
	assert.Regexp(t, `^Dumping \S+\.timeindex\n(timestamp: \d{13} offset: \d+\n)+$`, r.Stdout)

	// The index checks, on the real files and on a damaged copy.
	r = dump("--files", seg+".index,"+seg+".timeindex", "--index-sanity-check")
	requireOK(t, r)
	assert.Equal(t, "Dumping "+seg+".index\n"+seg+".index passed sanity check.\nDumping "+seg+".timeindex\n"+seg+".timeindex passed sanity check.\n", r.Stdout)
	r = dump("--files", seg+".index,"+seg+".timeindex", "--verify-index-only")
	requireOK(t, r)
	assert.Equal(t, "Dumping "+seg+".index\n"+seg+".index matches "+seg+".log.\nDumping "+seg+".timeindex\n"+seg+".timeindex matches "+seg+".log.\n", r.Stdout)
	damaged := filepath.Join(t.TempDir(), "00000000000000000000")
	logBytes, err := os.ReadFile(seg + ".log")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(damaged+".log", logBytes, 0o644))
	idx, err := os.ReadFile(seg + ".index")
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(idx), 16)
	idx[15]++ // the second entry's position no longer starts a batch
	require.NoError(t, os.WriteFile(damaged+".index", idx, 0o644))
	r = dump("--files", damaged+".index", "--verify-index-only")
	requireError(t, r, "1 entries do not match")
	assert.Regexp(t, `Mismatches in :\S+\.index\n  Index offset: \d+, log offset: -1\n`, r.Stdout)
	require.NoError(t, os.WriteFile(damaged+".index", append(idx, 1, 2, 3), 0o644))
	r = dump("--files", damaged+".index", "--index-sanity-check")
	requireError(t, r, "corrupt index: 3 trailing bytes are not a whole entry")

	snaps, err := filepath.Glob(filepath.Join(b.Dir, "dl-0", "*.snapshot"))
	require.NoError(t, err)
	require.NotEmpty(t, snaps, "the idempotent producers left a snapshot")
	r = dump("--files", snaps[len(snaps)-1])
	requireOK(t, r)
	assert.Regexp(t, `\nproducerId: \d+ producerEpoch: 0 coordinatorEpoch: -1 currentTxnFirstOffset: OptionalLong.empty lastTimestamp: \d+ firstSequence: 0 lastSequence: 1 lastOffset: 9 offsetDelta: 1 timestamp: \d+\n$`, r.Stdout)

	// The group's commit is in one __consumer_offsets partition.
	logs, err := filepath.Glob(filepath.Join(b.Dir, "__consumer_offsets-*", "00000000000000000000.log"))
	require.NoError(t, err)
	var found string
	for _, l := range logs {
		if fi, err := os.Stat(l); err == nil && fi.Size() > 0 {
			found = l
		}
	}
	require.NotEmpty(t, found)
	r = dump("--files", found, "--offsets-decoder")
	requireOK(t, r)
	assert.Contains(t, r.Stdout, " key: offset_commit::group=dumper,partition=dl-0 payload: offset=10")
	assert.Regexp(t, `key: group_metadata::group=dumper payload: \{"protocolType":"consumer"`, r.Stdout)

	r = dump("--files", filepath.Join(b.Dir, "dl-0", "leader-epoch-checkpoint"))
	requireError(t, r, "not a Kafka log file name")
	r = dump()
	requireError(t, r, "missing required option --files")
}
