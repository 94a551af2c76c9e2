package fuzz

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strom-broker/strom/tools/config"
	"github.com/strom-broker/strom/tools/properties"
)

// FuzzProperties: what the properties parser returns has non-empty keys,
// and writing it back with every special character escaped parses to the
// same keys and values; malformed text fails with a SyntaxError naming a
// line of the input.
func FuzzProperties(f *testing.F) {
	f.Fuzz(func(t *testing.T, text string) {
		props, err := properties.Parse(strings.NewReader(text))
		if err != nil {
			var se *properties.SyntaxError
			require.ErrorAs(t, err, &se)
			require.ErrorIs(t, err, properties.ErrSyntax)
			require.GreaterOrEqual(t, se.Line, 1)
			require.LessOrEqual(t, se.Line, strings.Count(text, "\n")+strings.Count(text, "\r")+1)
			return
		}
		var b strings.Builder
		for _, p := range props {
			require.NotEmpty(t, p.Key)
			b.WriteString(escapeProperty(p.Key, true))
			b.WriteByte('=')
			b.WriteString(escapeProperty(p.Value, false))
			b.WriteByte('\n')
		}
		again, err := properties.Parse(strings.NewReader(b.String()))
		require.NoError(t, err, "re-escaped text %q", b.String())
		require.Len(t, again, len(props))
		for i := range props {
			require.Equal(t, props[i].Key, again[i].Key)
			require.Equal(t, props[i].Value, again[i].Value)
		}
	})
}

// escapeProperty escapes s for a key (every separator and comment
// character) or a value (leading blanks, backslashes and line ends).
func escapeProperty(s string, key bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\':
			b.WriteString(`\\`)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\r':
			b.WriteString(`\r`)
		case c == '\t':
			b.WriteString(`\t`)
		case c == '\f':
			b.WriteString(`\f`)
		case key && strings.IndexByte("=: #!", c) >= 0:
			b.WriteByte('\\')
			b.WriteByte(c)
		case !key && i == 0 && c == ' ':
			b.WriteString(`\ `)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// FuzzConfigParse: server.properties text never panics the config parser;
// every error is a syntax error with a line or names the offending key
// (config.KeyError with a non-empty Key that the message contains); a file
// that parses and gets defaults either validates or lists problems that
// each name a key.
func FuzzConfigParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, text string) {
		c, err := config.Parse(strings.NewReader(text), "server.properties")
		if err != nil {
			requireNamesKeyOrLine(t, err)
			return
		}
		c.EnsureDefaults()
		err = c.Validate()
		if err == nil {
			return
		}
		var ve *config.ValidationError
		if errors.As(err, &ve) {
			require.NotEmpty(t, ve.Problems)
			for _, p := range ve.Problems {
				requireNamesKeyOrLine(t, p)
			}
			return
		}
		requireNamesKeyOrLine(t, err)
	})
}

func requireNamesKeyOrLine(t *testing.T, err error) {
	t.Helper()
	if errors.Is(err, properties.ErrSyntax) {
		var se *properties.SyntaxError
		require.ErrorAs(t, err, &se)
		require.Contains(t, err.Error(), "line ")
		return
	}
	var ke *config.KeyError
	require.ErrorAs(t, err, &ke, "error names no key: %v", err)
	require.NotEmpty(t, ke.Key, "error names no key: %v", err)
	msg := err.Error()
	require.True(t, strings.Contains(msg, ke.Key) || strings.Contains(msg, strconv.Quote(ke.Key)),
		"message %q does not name key %q", msg, ke.Key)
}
