package compat

// librdkafka through kcat. kcat frames records as text lines, so its cases
// use hex-digit keys and values (random per record) and headers given once
// per run with -H (the same for every record of a case, random per case).

import (
	"bytes"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestKcat round-trips through librdkafka (kcat -P / kcat -C) for every
// codec, plus an idempotent producer (enable.idempotence=true).
func TestKcat(t *testing.T) {
	requireCommand(t, "kcat")
	bootstrap := startBroker(t)
	rng := newRNG(t)
	gen := genOpts{text: true, fixedHeaders: []header{
		{Key: "trace-id", Value: randBytes(rng, hexAlphabet, 16)},
		{Key: "h-a", Value: randBytes(rng, hexAlphabet, 8)},
	}}
	cases := append(matrix(false, gen),
		caseSpec{codec: codecZstd, partitions: 3, idempotent: true, gen: gen})
	runMatrix(t, bootstrap, cases, kcatRoundTrip)
}

func kcatRoundTrip(t *testing.T, bootstrap, topic string, cs caseSpec, recs []record) []consumed {
	ctx := caseContext(t)
	var in bytes.Buffer
	for _, r := range recs {
		in.Write(r.Key)
		in.WriteByte('\t')
		in.Write(r.Value)
		in.WriteByte('\n')
	}
	args := []string{"-P", "-b", bootstrap, "-t", topic, "-K", "\t", "-z", string(cs.codec),
		// Many small batches, so a case crosses many batch boundaries.
		"-X", "batch.num.messages=500", "-X", "acks=all"}
	for _, h := range cs.gen.fixedHeaders {
		args = append(args, "-H", h.Key+"="+string(h.Value))
	}
	if cs.idempotent {
		args = append(args, "-X", "enable.idempotence=true")
	}
	prod := exec.CommandContext(ctx, "kcat", args...)
	prod.Stdin = &in
	out, err := prod.CombinedOutput()
	require.NoError(t, err, "kcat -P: %s", tail(string(out), 4000))
	if len(bytes.TrimSpace(out)) > 0 {
		t.Logf("kcat -P output:\n%s", tail(string(out), 2000))
	}

	cons := exec.CommandContext(ctx, "kcat", "-C", "-b", bootstrap, "-t", topic,
		"-o", "beginning", "-e", "-q", "-f", `%p\t%o\t%k\t%s\t%h\n`)
	var stderr bytes.Buffer
	cons.Stderr = &stderr
	out, err = cons.Output()
	require.NoError(t, err, "kcat -C: %s", tail(stderr.String(), 4000))
	return parseKcat(t, out)
}

// parseKcat parses lines of "partition\toffset\tkey\tvalue\th1=v1,h2=v2".
func parseKcat(t *testing.T, out []byte) []consumed {
	t.Helper()
	var got []consumed
	for line := range strings.Lines(string(out)) {
		f := strings.Split(strings.TrimSuffix(line, "\n"), "\t")
		require.Len(t, f, 5, "kcat output line %q", line)
		p, err := strconv.ParseInt(f[0], 10, 32)
		require.NoError(t, err, "kcat partition in %q", line)
		o, err := strconv.ParseInt(f[1], 10, 64)
		require.NoError(t, err, "kcat offset in %q", line)
		c := consumed{Partition: int32(p), Offset: o, record: record{Key: []byte(f[2]), Value: []byte(f[3])}}
		if f[4] != "" {
			for kv := range strings.SplitSeq(f[4], ",") {
				k, v, ok := strings.Cut(kv, "=")
				require.True(t, ok, "kcat header %q in %q", kv, line)
				c.Headers = append(c.Headers, header{Key: k, Value: []byte(v)})
			}
		}
		got = append(got, c)
	}
	return got
}
