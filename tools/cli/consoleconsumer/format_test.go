package consoleconsumer

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestFormatter(t *testing.T) {
	rec := &kgo.Record{Key: []byte("k"), Value: []byte("v"), Partition: 2, Offset: 9, Timestamp: time.UnixMilli(42),
		Headers: []kgo.RecordHeader{{Key: "a", Value: []byte("1")}, {Key: "b"}}}
	tests := []struct {
		name  string
		props []string
		want  string
	}{
		{"default is value only", nil, "v\n"},
		{"key", []string{"print.key=true"}, "k\tv\n"},
		{"kafka order", []string{"print.value=true", "print.key=TRUE", "print.offset=true", "print.partition=true", "print.timestamp=true", "print.headers=true"},
			"CreateTime:42\tPartition:2\tOffset:9\ta:1,b:null\tk\tv\n"},
		{"escaped separators", []string{"print.key=true", `key.separator=\t|`, `line.separator=\r\n`}, "k\t|v\r\n"},
		{"headers separator", []string{"print.headers=true", "headers.separator=;", "print.value=false"}, "a:1;b:null\n"},
		{"nothing printed", []string{"print.value=false"}, ""},
		{"non-true is false", []string{"print.key=yes"}, "v\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := NewFormatter(tc.props, "")
			require.NoError(t, err)
			var b bytes.Buffer
			require.NoError(t, f.Format(&b, rec))
			assert.Equal(t, tc.want, b.String())
		})
	}
}

func TestFormatterNulls(t *testing.T) {
	f, err := NewFormatter([]string{"print.key=true", "print.headers=true", "null.literal=<nil>"}, "")
	require.NoError(t, err)
	var b bytes.Buffer
	require.NoError(t, f.Format(&b, &kgo.Record{}))
	assert.Equal(t, "NO_HEADERS\t<nil>\t<nil>\n", b.String())
}

func TestFormatterErrors(t *testing.T) {
	_, err := NewFormatter([]string{"print.keys=true"}, "")
	assert.ErrorContains(t, err, "unknown --property print.keys")
	_, err = NewFormatter([]string{"print.key"}, "")
	assert.ErrorContains(t, err, "not key=value")
}
