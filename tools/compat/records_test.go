package compat

// Records the suite sends and the checks it applies to what comes back.
//
// Invariants kept by genRecords:
//   - every record's key is unique within a case (it embeds the record's
//     index), so a consumed record is matched to the produced one by key;
//   - header keys are unique within a record and never look like integers
//     (kafkajs carries headers in a JS object, which reorders integer keys);
//   - values are random per record yet compressible even by LZ-only codecs
//     (snappy, lz4): each is a random sequence of words from a small random
//     dictionary plus a random tail. Clients send a batch uncompressed when
//     compression does not shrink it, which would hide the codec under test.

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recordsPerCase is how many records each case produces and consumes.
const recordsPerCase = 10_000

// header is one record header; kafka header keys are strings on every client.
type header struct {
	Key   string
	Value []byte
}

// record is what a case produces.
type record struct {
	Key     []byte
	Value   []byte
	Headers []header
}

// consumed is a record as a consumer reports it.
type consumed struct {
	Partition int32
	Offset    int64
	record
}

// binaryAlphabet mixes bytes that break naive framings (NUL, newline, tab,
// separators, quotes, invalid UTF-8) with ordinary letters.
var binaryAlphabet = []byte{0x00, 0xff, '\n', '\r', '\t', ',', '=', '"', '\\', 0x80, 0xc3, 'a', 'Z', ' ', 0x7f, 0x01}

// hexAlphabet is for clients driven through a text framing (kcat).
var hexAlphabet = []byte("0123456789abcdef")

// genOpts says how records are generated for one client.
type genOpts struct {
	// text restricts keys and values to hex digits, for line-framed tools.
	text bool
	// fixedHeaders, when set, is given to every record instead of random
	// per-record headers (kcat's -H applies to every record of a run).
	fixedHeaders []header
}

// newRNG returns a seeded generator and logs the seed so a failure can be
// replayed.
func newRNG(t *testing.T) *rand.Rand {
	t.Helper()
	seed := rand.Uint64()
	t.Logf("record seed %d", seed)
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

func randBytes(rng *rand.Rand, alphabet []byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[rng.IntN(len(alphabet))]
	}
	return b
}

// genRecords returns n records of about 100 bytes each.
func genRecords(rng *rand.Rand, n int, o genOpts) []record {
	alphabet := binaryAlphabet
	if o.text {
		alphabet = hexAlphabet
	}
	headerKeys := []string{"trace-id", "h-a", "content-type"}
	words := make([][]byte, 32)
	for i := range words {
		words[i] = randBytes(rng, alphabet, 8)
	}
	recs := make([]record, n)
	for i := range recs {
		var key []byte
		if o.text {
			key = fmt.Appendf(nil, "%06x", i)
		} else {
			key = []byte{byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)}
		}
		key = append(key, randBytes(rng, alphabet, 4+rng.IntN(8))...)
		var value []byte
		for range 7 + rng.IntN(5) {
			value = append(value, words[rng.IntN(len(words))]...)
		}
		value = append(value, randBytes(rng, alphabet, rng.IntN(9))...)
		r := record{Key: key, Value: value}
		if o.fixedHeaders != nil {
			r.Headers = o.fixedHeaders
		} else {
			for h := range i % (len(headerKeys) + 1) {
				r.Headers = append(r.Headers, header{Key: headerKeys[h], Value: randBytes(rng, alphabet, rng.IntN(12))})
			}
		}
		recs[i] = r
	}
	return recs
}

// reporter is the part of *testing.T the checks use, so their own tests
// can hand them a fake and see that damage is reported.
type reporter interface {
	Helper()
	Errorf(format string, args ...any)
}

// failRecorder is a reporter that only remembers whether it was failed.
type failRecorder struct{ failures int }

func (*failRecorder) Helper() {}

func (f *failRecorder) Errorf(string, ...any) { f.failures++ }

// maxReported bounds how many mismatches verifyConsumed reports, so a broken
// case prints a readable failure instead of 10,000 lines.
const maxReported = 5

// verifyConsumed checks that got holds every record of want exactly once,
// byte-identical (key, value, headers), with each partition's records at
// offsets 0, 1, 2, ... in the order they were produced. who names the
// consumer in messages. It returns the number of records per partition.
func verifyConsumed(t reporter, who string, want []record, got []consumed, partitions int32) map[int32]int {
	t.Helper()
	byKey := make(map[string]int, len(want))
	for i, r := range want {
		byKey[string(r.Key)] = i
	}
	seen := make([]bool, len(want))
	lastIdx := map[int32]int{}
	nextOff := map[int32]int64{}
	perPartition := map[int32]int{}
	bad := 0
	report := func(format string, args ...any) {
		bad++
		if bad <= maxReported {
			assert.Failf(t, who+": record mismatch", format, args...)
		}
	}
	for _, c := range got {
		perPartition[c.Partition]++
		if c.Partition < 0 || c.Partition >= partitions {
			report("partition %d out of range [0,%d)", c.Partition, partitions)
			continue
		}
		if c.Offset != nextOff[c.Partition] {
			report("partition %d: offset %d, want %d (gap or duplicate)", c.Partition, c.Offset, nextOff[c.Partition])
		}
		nextOff[c.Partition] = c.Offset + 1
		i, ok := byKey[string(c.Key)]
		if !ok {
			report("partition %d offset %d: unknown key %x", c.Partition, c.Offset, c.Key)
			continue
		}
		if seen[i] {
			report("record %d (key %x) consumed twice", i, c.Key)
		}
		seen[i] = true
		if last, ok := lastIdx[c.Partition]; ok && i < last {
			report("partition %d: record %d after record %d (out of produce order)", c.Partition, i, last)
		}
		lastIdx[c.Partition] = i
		w := want[i]
		if !bytes.Equal(c.Value, w.Value) {
			report("record %d: value %x, want %x", i, c.Value, w.Value)
		}
		if !headersEqual(c.Headers, w.Headers) {
			report("record %d: headers %s, want %s", i, fmtHeaders(c.Headers), fmtHeaders(w.Headers))
		}
	}
	missing := 0
	for i := range seen {
		if !seen[i] {
			missing++
		}
	}
	assert.Zero(t, missing, "%s: records produced but not consumed", who)
	assert.Len(t, got, len(want), "%s: consumed record count", who)
	if bad > maxReported {
		t.Errorf("%s: %d further mismatches not shown", who, bad-maxReported)
	}
	if partitions > 1 {
		assert.Len(t, perPartition, int(partitions), "%s: records should spread over every partition", who)
	}
	return perPartition
}

func headersEqual(a, b []header) bool {
	return slices.EqualFunc(a, b, func(x, y header) bool {
		return x.Key == y.Key && bytes.Equal(x.Value, y.Value)
	})
}

func fmtHeaders(hs []header) string {
	var b bytes.Buffer
	for i, h := range hs {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%s", h.Key, hex.EncodeToString(h.Value))
	}
	return "[" + b.String() + "]"
}

func TestVerifyConsumedDetectsDamage(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	want := genRecords(rng, 50, genOpts{})
	good := make([]consumed, len(want))
	for i, r := range want {
		good[i] = consumed{Partition: 0, Offset: int64(i), record: r}
	}
	cases := map[string]func([]consumed) []consumed{
		"dropped":   func(c []consumed) []consumed { return c[:len(c)-1] },
		"duplicate": func(c []consumed) []consumed { return append(c, c[3]) },
		"reordered": func(c []consumed) []consumed {
			c[3].record, c[4].record = c[4].record, c[3].record
			return c
		},
		"value flipped": func(c []consumed) []consumed {
			v := slices.Clone(c[7].Value)
			v[0] ^= 1
			c[7].Value = v
			return c
		},
		"header lost": func(c []consumed) []consumed {
			for i := range c {
				if len(c[i].Headers) > 0 {
					c[i].Headers = c[i].Headers[1:]
					return c
				}
			}
			panic("no record with headers")
		},
		"offset gap": func(c []consumed) []consumed {
			c[10].Offset++
			return c
		},
	}
	for name, damage := range cases {
		t.Run(name, func(t *testing.T) {
			rec := &failRecorder{}
			verifyConsumed(rec, "test", want, damage(slices.Clone(good)), 1)
			require.NotZero(t, rec.failures, "damage %q went unnoticed", name)
		})
	}
	t.Run("intact", func(t *testing.T) {
		got := verifyConsumed(t, "test", want, good, 1)
		require.Equal(t, map[int32]int{0: len(want)}, got)
	})
}
