package config

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors; every error this package returns wraps one of them.
var (
	// ErrUnknownKey: a key that is not a broker config Strom knows.
	ErrUnknownKey = errors.New("unknown config key")
	// ErrBadValue: a value that does not parse as its key's type.
	ErrBadValue = errors.New("malformed config value")
	// ErrInvalid: a well-formed value that breaks a constraint (range,
	// enumeration, relation to another key); returned by Validate.
	ErrInvalid = errors.New("invalid config value")
	// ErrBadOverride: an --override argument that is not key=value.
	ErrBadOverride = errors.New("malformed override")
)

// KeyError names the key (and value) an error is about.
type KeyError struct {
	// Key is the config key.
	Key string
	// Value is the offending value as written; empty for unknown keys.
	Value string
	// Source says where the value came from ("server.properties:12",
	// "--override"); may be empty.
	Source string
	// Reason says what is wrong, e.g. "not an integer".
	Reason string
	// Suggestion is the closest known key for an unknown one, or "".
	Suggestion string
	// Err is the sentinel: ErrUnknownKey, ErrBadValue or ErrInvalid.
	Err error
}

// Error implements error.
func (e *KeyError) Error() string {
	var b strings.Builder
	if e.Source != "" {
		b.WriteString(e.Source)
		b.WriteString(": ")
	}
	switch {
	case errors.Is(e.Err, ErrUnknownKey):
		fmt.Fprintf(&b, "unknown config key %q", e.Key)
		if e.Suggestion != "" {
			fmt.Fprintf(&b, " (did you mean %q?)", e.Suggestion)
		}
	default:
		fmt.Fprintf(&b, "invalid value %q for %s", e.Value, e.Key)
		if e.Reason != "" {
			b.WriteString(": ")
			b.WriteString(e.Reason)
		}
	}
	return b.String()
}

// Unwrap returns the sentinel.
func (e *KeyError) Unwrap() error { return e.Err }

// ValidationError carries every violation Validate found.
type ValidationError struct {
	// Problems holds one *KeyError per violation, in key order.
	Problems []*KeyError
}

// Error lists every problem on one line, separated by "; ".
func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.Error()
	}
	return "invalid configuration: " + strings.Join(parts, "; ")
}

// Unwrap exposes each problem to errors.Is/As.
func (e *ValidationError) Unwrap() []error {
	out := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		out[i] = p
	}
	return out
}

// suggest returns the known key closest to key, or "" when none is close.
func suggest(key string) string {
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.name
	}
	return Closest(key, names)
}

// Closest returns the candidate within a few edits of word (a quarter of
// its length, at least 2), the nearest first, or "" when none is that
// close. Tools use it for "did you mean" on keys and flags.
func Closest(word string, candidates []string) string {
	best, bestDist := "", -1
	for _, c := range candidates {
		d := editDistance(word, c)
		if bestDist < 0 || d < bestDist {
			best, bestDist = c, d
		}
	}
	limit := len(word) / 4
	if limit < 2 {
		limit = 2
	}
	if bestDist < 0 || bestDist > limit {
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
