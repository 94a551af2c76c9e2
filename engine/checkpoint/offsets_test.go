package checkpoint

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	tp := func(topic string, p int32) TopicPartition { return TopicPartition{topic, p} }
	tests := []struct {
		name    string
		in      string
		want    Offsets
		wantErr error
	}{
		{"empty file", "", Offsets{}, nil},
		{"version only", "0\n", Offsets{}, nil},
		{"zero entries", "0\n0\n", Offsets{}, nil},
		{"two entries", "0\n2\norders 0 1042\norders 1 977\n", Offsets{tp("orders", 0): 1042, tp("orders", 1): 977}, nil},
		{"no trailing newline", "0\n1\na 3 7", Offsets{tp("a", 3): 7}, nil},
		{"crlf", "0\r\n1\r\na.b_c-d 0 0\r\n", Offsets{tp("a.b_c-d", 0): 0}, nil},
		{"max offset", "0\n1\nt 2147483647 9223372036854775807\n", Offsets{tp("t", 2147483647): 9223372036854775807}, nil},
		{"bad version", "1\n0\n", nil, ErrVersion},
		{"version not a number", "x\n0\n", nil, ErrMalformed},
		{"count not a number", "0\nx\n", nil, ErrMalformed},
		{"negative count", "0\n-1\n", nil, ErrMalformed},
		{"count too big", "0\n2\nt 0 1\n", nil, ErrMalformed},
		{"count too small", "0\n0\nt 0 1\n", nil, ErrMalformed},
		{"huge count", "0\n2147483647\n", nil, ErrMalformed},
		{"two fields", "0\n1\nt 0\n", nil, ErrMalformed},
		{"four fields", "0\n1\nt 0 1 2\n", nil, ErrMalformed},
		{"blank entry line", "0\n2\nt 0 1\n\n", nil, ErrMalformed},
		{"negative partition", "0\n1\nt -1 5\n", nil, ErrMalformed},
		{"negative offset", "0\n1\nt 0 -5\n", nil, ErrMalformed},
		{"partition overflow", "0\n1\nt 2147483648 5\n", nil, ErrMalformed},
		{"offset overflow", "0\n1\nt 0 9223372036854775808\n", nil, ErrMalformed},
		{"illegal topic", "0\n1\nt/x 0 1\n", nil, ErrMalformed},
		{"dot topic", "0\n1\n.. 0 1\n", nil, ErrMalformed},
		{"duplicate", "0\n2\nt 0 1\nt 0 2\n", nil, ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse([]byte(tc.in))
			if tc.wantErr != nil {
				require.Error(t, err)
				assert.ErrorIs(t, err, tc.wantErr)
				assert.ErrorIs(t, err, ErrMalformed, "every content error is ErrMalformed")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestFormatIsSortedAndRoundTrips(t *testing.T) {
	in := Offsets{{"b", 1}: 5, {"a", 10}: 1, {"a", 2}: 0, {"b", 0}: 1 << 40}
	data, err := Format(in)
	require.NoError(t, err)
	assert.Equal(t, "0\n4\na 2 0\na 10 1\nb 0 1099511627776\nb 1 5\n", string(data))
	back, err := Parse(data)
	require.NoError(t, err)
	assert.Equal(t, in, back)
}

func TestFormatRejectsUnwritable(t *testing.T) {
	for name, o := range map[string]Offsets{
		"space in topic":     {{"a b", 0}: 1},
		"empty topic":        {{"", 0}: 1},
		"negative partition": {{"a", -1}: 1},
		"negative offset":    {{"a", 0}: -1},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Format(o)
			assert.ErrorIs(t, err, ErrMalformed)
		})
	}
}

func TestValidTopic(t *testing.T) {
	long := make([]byte, 250)
	for i := range long {
		long[i] = 'a'
	}
	assert.True(t, ValidTopic("__consumer_offsets"))
	assert.True(t, ValidTopic(string(long[:249])))
	assert.False(t, ValidTopic(string(long)))
	assert.False(t, ValidTopic("."))
	assert.False(t, ValidTopic("ä"))
}

func TestReadWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, RecoveryPointFile)

	got, err := Read(path)
	require.NoError(t, err, "a missing checkpoint reads as empty")
	assert.Empty(t, got)

	first := Offsets{{"t", 0}: 10}
	require.NoError(t, Write(path, first))
	second := Offsets{{"t", 0}: 20, {"u", 3}: 4}
	require.NoError(t, Write(path, second))
	got, err = Read(path)
	require.NoError(t, err)
	assert.Equal(t, second, got)

	_, err = os.Stat(path + TmpSuffix)
	assert.True(t, errors.Is(err, os.ErrNotExist), "no tmp file remains after a write")
}

func TestLeftoverTmpIsIgnored(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, ReplicationOffsetFile)
	want := Offsets{{"t", 1}: 99}
	require.NoError(t, Write(path, want))
	// A crash mid-write leaves a torn tmp file behind.
	require.NoError(t, os.WriteFile(path+TmpSuffix, []byte("0\n5\nt 0"), 0o644))

	got, err := Read(path)
	require.NoError(t, err)
	assert.Equal(t, want, got)

	// The next write overwrites it.
	require.NoError(t, Write(path, Offsets{}))
	got, err = Read(path)
	require.NoError(t, err)
	assert.Empty(t, got)
}

func TestReadGarbageNamesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), LogStartOffsetFile)
	require.NoError(t, os.WriteFile(path, []byte("\x00\xff garbage"), 0o644))
	_, err := Read(path)
	require.ErrorIs(t, err, ErrMalformed)
	assert.Contains(t, err.Error(), path)
}

func TestWriteFileAtomicMissingDir(t *testing.T) {
	err := WriteFileAtomic(filepath.Join(t.TempDir(), "nope", "f"), []byte("x"), 0o644)
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestTopicPartitionString(t *testing.T) {
	assert.Equal(t, "orders-12", TopicPartition{"orders", 12}.String())
}
