package checkpoint

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Version is the only checkpoint format version Kafka writes and reads.
// It is part of the file format.
const Version = 0

// ErrMalformed is wrapped by every error about the content of a checkpoint
// or properties file (as opposed to I/O errors).
var ErrMalformed = errors.New("malformed checkpoint")

// ErrVersion is wrapped when a checkpoint declares a version other than
// Version. It also matches ErrMalformed.
var ErrVersion = fmt.Errorf("%w: unsupported version", ErrMalformed)

// parseText splits a versioned, counted checkpoint into its entry lines,
// each already split into exactly fields whitespace-separated fields.
// entry is called once per entry line with its 1-based line number.
func parseText(data []byte, fields int, entry func(line int, f []string) error) error {
	text := string(data)
	if text == "" {
		return nil
	}
	lines := strings.Split(text, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	for i := range lines {
		lines[i] = strings.TrimSuffix(lines[i], "\r")
	}
	v, err := strconv.ParseInt(lines[0], 10, 32)
	if err != nil {
		return fmt.Errorf("%w: line 1: version %q is not a number", ErrMalformed, lines[0])
	}
	if v != Version {
		return fmt.Errorf("%w %d (want %d)", ErrVersion, v, Version)
	}
	if len(lines) == 1 {
		return nil
	}
	count, err := strconv.ParseInt(lines[1], 10, 32)
	if err != nil || count < 0 {
		return fmt.Errorf("%w: line 2: entry count %q is not a non-negative number", ErrMalformed, lines[1])
	}
	body := lines[2:]
	if int64(len(body)) != count {
		return fmt.Errorf("%w: header says %d entries, found %d", ErrMalformed, count, len(body))
	}
	for i, l := range body {
		f := strings.Fields(l)
		if len(f) != fields {
			return fmt.Errorf("%w: line %d: %q: want %d fields, got %d", ErrMalformed, i+3, l, fields, len(f))
		}
		if err := entry(i+3, f); err != nil {
			return err
		}
	}
	return nil
}

// parseNonNeg parses a non-negative decimal integer of the given bit size.
func parseNonNeg(line int, what, s string, bits int) (int64, error) {
	n, err := strconv.ParseInt(s, 10, bits)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%w: line %d: %s %q is not a non-negative %d-bit number", ErrMalformed, line, what, s, bits)
	}
	return n, nil
}

// formatText renders the header and the given entry lines.
func formatText(n int, line func(i int, b *strings.Builder)) []byte {
	var b strings.Builder
	b.WriteString(strconv.Itoa(Version))
	b.WriteByte('\n')
	b.WriteString(strconv.Itoa(n))
	b.WriteByte('\n')
	for i := range n {
		line(i, &b)
		b.WriteByte('\n')
	}
	return []byte(b.String())
}
