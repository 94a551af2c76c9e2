// Package properties reads the java.util.Properties text format that Kafka's
// server.properties uses.
//
// The format, as implemented here:
//
//   - A natural line ends at "\n", "\r" or "\r\n". A logical line is one or
//     more natural lines joined where a line ends in an odd number of
//     backslashes; the backslash and line end are dropped, and the leading
//     white space of the continuation line is skipped.
//   - A logical line whose first non-blank character is '#' or '!' is a
//     comment; a blank line is ignored.
//   - The key runs to the first unescaped '=', ':', space, tab or form feed.
//     White space, then at most one '=' or ':', then white space separate it
//     from the value; the value is the rest of the logical line.
//   - Escapes in keys and values: \t \n \r \f, \uXXXX (exactly four hex
//     digits), and a backslash before any other character stands for that
//     character (so "\=", "\:", "\ ", "\#" and "\\" are literals).
//   - A key given twice keeps its last value (Parse returns both, in order).
//
// Values are returned as written (trailing white space included, as Java
// does); callers that convert them to numbers trim them, like Kafka does.
package properties

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ErrSyntax is wrapped by every error about malformed properties text.
var ErrSyntax = errors.New("properties syntax error")

// Property is one key/value pair and the (1-based) natural line its logical
// line started on.
type Property struct {
	// Key is the unescaped key; never empty.
	Key string
	// Value is the unescaped value; may be empty.
	Value string
	// Line is the natural line number the entry started on.
	Line int
}

// SyntaxError describes malformed text at a line.
type SyntaxError struct {
	// Line is the natural line the logical line started on.
	Line int
	// Msg says what is wrong.
	Msg string
}

// Error implements error.
func (e *SyntaxError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// Unwrap makes errors.Is(err, ErrSyntax) true.
func (e *SyntaxError) Unwrap() error { return ErrSyntax }

// Parse reads every entry of r in order. Duplicate keys are all returned;
// the last one is the one that counts.
func Parse(r io.Reader) ([]Property, error) {
	lines, err := naturalLines(r)
	if err != nil {
		return nil, err
	}
	var out []Property
	for i := 0; i < len(lines); i++ {
		start := i + 1
		line := strings.TrimLeft(lines[i], " \t\f")
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		// Join continuation lines.
		var logical strings.Builder
		for {
			if !endsInContinuation(line) {
				logical.WriteString(line)
				break
			}
			logical.WriteString(line[:len(line)-1])
			i++
			if i >= len(lines) {
				break
			}
			line = strings.TrimLeft(lines[i], " \t\f")
		}
		p, err := splitEntry(logical.String())
		if err != nil {
			return nil, &SyntaxError{Line: start, Msg: err.Error()}
		}
		p.Line = start
		out = append(out, p)
	}
	return out, nil
}

// naturalLines splits r on "\n", "\r" and "\r\n".
func naturalLines(r io.Reader) ([]string, error) {
	data, err := io.ReadAll(bufio.NewReader(r))
	if err != nil {
		return nil, fmt.Errorf("reading properties: %w", err)
	}
	s := strings.ReplaceAll(string(data), "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return nil, nil
	}
	return strings.Split(s, "\n"), nil
}

// endsInContinuation reports whether line ends in an odd number of
// backslashes.
func endsInContinuation(line string) bool {
	n := 0
	for i := len(line) - 1; i >= 0 && line[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

// splitEntry splits one logical, non-comment line into key and value.
func splitEntry(line string) (Property, error) {
	keyEnd := len(line)
	for i := 0; i < len(line); i++ {
		c := line[i]
		if c == '\\' {
			i++ // skip the escaped character
			continue
		}
		if c == '=' || c == ':' || c == ' ' || c == '\t' || c == '\f' {
			keyEnd = i
			break
		}
	}
	rest := line[keyEnd:]
	rest = strings.TrimLeft(rest, " \t\f")
	if rest != "" && (rest[0] == '=' || rest[0] == ':') {
		rest = strings.TrimLeft(rest[1:], " \t\f")
	}
	key, err := unescape(line[:keyEnd])
	if err != nil {
		return Property{}, err
	}
	if key == "" {
		return Property{}, errors.New("empty key")
	}
	val, err := unescape(rest)
	if err != nil {
		return Property{}, fmt.Errorf("key %q: %w", key, err)
	}
	return Property{Key: key, Value: val}, nil
}

// unescape resolves the escapes of the format.
func unescape(s string) (string, error) {
	if !strings.Contains(s, "\\") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		i++
		if i >= len(s) {
			break // a lone trailing backslash (end of file) is dropped, as Java does
		}
		switch s[i] {
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 'f':
			b.WriteByte('\f')
		case 'u':
			if i+5 > len(s) {
				return "", fmt.Errorf("malformed \\uxxxx escape %q", s[i-1:])
			}
			r, err := strconv.ParseUint(s[i+1:i+5], 16, 32)
			if err != nil {
				return "", fmt.Errorf("malformed \\uxxxx escape %q", s[i-1:i+5])
			}
			b.WriteRune(rune(r))
			i += 4
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String(), nil
}
