package clitool

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestExpandMulti(t *testing.T) {
	tests := []struct{ in, want []string }{
		{[]string{"--producer-props", "a=1", "b=2", "--topic", "t"}, []string{"--producer-props", "a=1", "--producer-props", "b=2", "--topic", "t"}},
		{[]string{"-producer-props", "a=1"}, []string{"-producer-props", "a=1"}},
		{[]string{"--producer-props=a=1", "b=2"}, []string{"--producer-props=a=1", "b=2"}},
		{[]string{"--topic", "x", "y"}, []string{"--topic", "x", "y"}},
		{[]string{"--producer-props"}, []string{"--producer-props"}},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, ExpandMulti(tc.in, "producer-props"), "%v", tc.in)
	}
}

func TestParseKV(t *testing.T) {
	m, err := ParseKV([]string{"a=1", " b =x=y", "a=2", "c="}, "--property")
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"a": "2", "b": "x=y", "c": ""}, m)
	_, err = ParseKV([]string{"novalue"}, "--property")
	require.ErrorIs(t, err, ErrUsage)
	assert.Equal(t, `usage: --property "novalue" is not key=value`, err.Error())
}

func TestFailIsOneLine(t *testing.T) {
	var b bytes.Buffer
	assert.Equal(t, ExitError, Fail(&b, errors.New("first\nsecond\n")))
	assert.Equal(t, "Error: first; second\n", b.String())
	b.Reset()
	Fail(&b, Usagef("missing %s", "x"))
	assert.Equal(t, "Error: missing x\n", b.String())
}

func TestFlagSetUsageAndAlias(t *testing.T) {
	fs := NewFlagSet("demo", "Usage: demo")
	bs := Bootstrap(fs)
	n := fs.Int("count", 3, "How many.")
	var out, errOut bytes.Buffer
	done, _ := fs.Parse([]string{"--broker-list", "h:1", "-count", "4"}, &out, &errOut)
	require.False(t, done)
	assert.Equal(t, "h:1", *bs)
	assert.Equal(t, 4, *n)

	done, code := fs.Parse([]string{"--help"}, &out, &errOut)
	assert.True(t, done)
	assert.Equal(t, 0, code)
	assert.Contains(t, out.String(), "--count <int>")
	assert.Contains(t, out.String(), "(default: 3)")
	assert.Regexp(t, `--broker-list <string>\s+Alias of --bootstrap-server\.`, out.String())
	assert.Empty(t, errOut.String())
}

func TestSeedsAndRequired(t *testing.T) {
	s, err := Seeds(" a:1, ,b:2")
	require.NoError(t, err)
	assert.Equal(t, []string{"a:1", "b:2"}, s)
	_, err = Seeds(" , ")
	require.ErrorIs(t, err, ErrUsage)
	assert.NoError(t, Required("a", "x", "b", "y"))
	assert.EqualError(t, Required("a", "x", "b", ""), "usage: missing required option --b")
}

func TestProducerOpts(t *testing.T) {
	var warn bytes.Buffer
	opts, err := ProducerOpts(map[string]string{
		"acks": "all", "compression.type": "zstd", "linger.ms": "5", "batch.size": "16384", "buffer.memory": "1000000",
		"enable.idempotence": "true", "client.id": "c", "retries": "3", "request.timeout.ms": "1000",
		"delivery.timeout.ms": "2000", "max.in.flight.requests.per.connection": "5", "key.serializer": "x", "mystery": "1",
	}, &warn)
	require.NoError(t, err)
	assert.Len(t, opts, 10, "one per mapped property; idempotence on is the default")
	assert.Equal(t, "WARN: ignoring unknown producer property mystery\n", warn.String())

	opts, err = ProducerOpts(map[string]string{"acks": "1"}, &warn)
	require.NoError(t, err)
	assert.Len(t, opts, 3, "acks, DisableIdempotentWrite and the default delivery.timeout.ms")

	for _, bad := range []map[string]string{
		{"acks": "2"}, {"compression.type": "brotli"}, {"linger.ms": "-1"}, {"batch.size": "0"},
		{"buffer.memory": "x"}, {"enable.idempotence": "yes"}, {"retries": "-1"}, {"request.timeout.ms": "0"},
		{"max.in.flight.requests.per.connection": "0"}, {"acks": "0", "enable.idempotence": "true"},
	} {
		_, err := ProducerOpts(bad, &warn)
		assert.ErrorIs(t, err, ErrUsage, "%v", bad)
	}
}

func TestMergePropertiesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.properties")
	require.NoError(t, os.WriteFile(path, []byte("# producer\nacks=1\nlinger.ms : 7\n"), 0o644))
	m := map[string]string{"acks": "all", "x": "y"}
	require.NoError(t, MergePropertiesFile(m, path))
	assert.Equal(t, map[string]string{"acks": "1", "linger.ms": "7", "x": "y"}, m)
	require.ErrorIs(t, MergePropertiesFile(m, path+".missing"), os.ErrNotExist)
	require.NoError(t, os.WriteFile(path, []byte("a=\\uZZZZ\n"), 0o644))
	assert.Error(t, MergePropertiesFile(m, path))
}
