package properties

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Property
	}{
		{"empty", "", nil},
		{"equals", "a=b\n", []Property{{"a", "b", 1}}},
		{"colon", "a: b", []Property{{"a", "b", 1}}},
		{"space separator", "a b c", []Property{{"a", "b c", 1}}},
		{"spaces around equals", "  a  =  b  ", []Property{{"a", "b  ", 1}}},
		{"empty value", "a=\nb", []Property{{"a", "", 1}, {"b", "", 2}}},
		{"comments", "# c\n! d\n   # e\na=1", []Property{{"a", "1", 4}}},
		{"hash in value", "a=x#y", []Property{{"a", "x#y", 1}}},
		{"second separator kept", "a==b", []Property{{"a", "=b", 1}}},
		{"continuation", "a=one,\\\n    two,\\\n  three\nb=2", []Property{{"a", "one,two,three", 1}, {"b", "2", 4}}},
		{"even backslashes no continuation", "a=x\\\\\nb=y", []Property{{"a", "x\\", 1}, {"b", "y", 2}}},
		{"continuation at eof", "a=x\\", []Property{{"a", "x", 1}}},
		{"escaped separators in key", "a\\=b\\:c\\ d=v", []Property{{"a=b:c d", "v", 1}}},
		{"escapes", `a=\t\n\r\f\u0041\\\q`, []Property{{"a", "\t\n\r\fA\\q", 1}}},
		{"crlf", "a=1\r\nb=2\rc=3", []Property{{"a", "1", 1}, {"b", "2", 2}, {"c", "3", 3}}},
		{"duplicates in order", "a=1\na=2", []Property{{"a", "1", 1}, {"a", "2", 2}}},
		{"blank lines", "\n\n  \na=1", []Property{{"a", "1", 4}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(strings.NewReader(tc.in))
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, in, line string
	}{
		{"short unicode escape", "a=\\u12", "line 1"},
		{"bad unicode escape", "x=1\na=\\uZZZZ", "line 2"},
		{"empty key", "=value", "line 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tc.in))
			require.ErrorIs(t, err, ErrSyntax)
			assert.Contains(t, err.Error(), tc.line)
		})
	}
}
