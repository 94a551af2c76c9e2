// Package corpus builds the seed inputs of the fuzz targets and writes them
// in Go's fuzz corpus file format:
//
//	go test fuzz v1
//	[]byte("...")
//	bool(true)
//
// one line per argument of the fuzz function, in order. Go reads these files
// from testdata/fuzz/<FuzzTarget>/ both when fuzzing and when running the
// target as an ordinary test.
package corpus

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// header is the first line of every corpus file; part of Go's format.
const header = "go test fuzz v1\n"

// Encode renders one corpus entry. Arguments may be []byte, string, bool,
// int32, int64 or uint8 (the types the fuzz targets take).
func Encode(args ...any) ([]byte, error) {
	var b strings.Builder
	b.WriteString(header)
	for i, a := range args {
		switch v := a.(type) {
		case []byte:
			fmt.Fprintf(&b, "[]byte(%s)\n", strconv.Quote(string(v)))
		case string:
			fmt.Fprintf(&b, "string(%s)\n", strconv.Quote(v))
		case bool:
			fmt.Fprintf(&b, "bool(%t)\n", v)
		case int32:
			fmt.Fprintf(&b, "int32(%d)\n", v)
		case int64:
			fmt.Fprintf(&b, "int64(%d)\n", v)
		case uint8:
			fmt.Fprintf(&b, "byte(%s)\n", strconv.QuoteRune(rune(v)))
		default:
			return nil, fmt.Errorf("corpus: argument %d: unsupported type %T", i, a)
		}
	}
	return []byte(b.String()), nil
}

// Writer writes corpus files under Root/<target>/.
type Writer struct {
	// Root is the testdata/fuzz directory.
	Root string
	// Written counts the files written.
	Written int
}

// Add writes one entry for target. The file is named name (made safe for
// a file system) plus a short hash of the content, so distinct inputs never
// overwrite each other and regenerating is idempotent.
func (w *Writer) Add(target, name string, args ...any) error {
	data, err := Encode(args...)
	if err != nil {
		return fmt.Errorf("%s/%s: %w", target, name, err)
	}
	dir := filepath.Join(w.Root, target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	sum := sha256.Sum256(data)
	file := filepath.Join(dir, "seed-"+safe(name)+"-"+hex.EncodeToString(sum[:4]))
	if err := os.WriteFile(file, data, 0o644); err != nil {
		return err
	}
	w.Written++
	return nil
}

// safe keeps letters, digits, '-', '_' and '.'; other bytes become '_'.
func safe(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, s)
}
