package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func write(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
	return p
}

func TestRun(t *testing.T) {
	dir := t.TempDir()
	tracked := filepath.Join(dir, "results")
	require.NoError(t, os.Mkdir(tracked, 0o755))
	targets := write(t, dir, "targets.txt", "A x_raw 1.0 0.5 # note\n")
	write(t, tracked, "2026-01-01-aaa.txt", "BenchmarkA-2 1 1 ns/op 0.6 x_raw\n")
	write(t, tracked, "2026-02-01-bbb.txt", "BenchmarkA-2 1 1 ns/op 2.0 x_raw\n")
	for _, tc := range []struct {
		name, cur, tracked string
		code               int
		want               string
	}{
		{"above floor, no reference", "BenchmarkA-2 1 1 ns/op 0.8 x_raw\n", "", 0, "MISSES TARGET"},
		{"below floor", "BenchmarkA-2 1 1 ns/op 0.4 x_raw\n", "", 1, "FAIL: BELOW FLOOR"},
		// Newest tracked file (2.0) is the reference: 0.8 < 2.0*0.7.
		{"regressed against newest", "BenchmarkA-2 1 1 ns/op 0.8 x_raw\n", tracked, 1, "2026-02-01-bbb.txt"},
		{"met against newest", "BenchmarkA-2 1 1 ns/op 1.5 x_raw\n", tracked, 0, "PASS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cur := write(t, t.TempDir(), "cur.txt", tc.cur)
			var out, errOut bytes.Buffer
			code := run([]string{"-targets", targets, "-tracked", tc.tracked, cur}, &out, &errOut)
			assert.Equal(t, tc.code, code, out.String()+errOut.String())
			assert.Contains(t, out.String(), tc.want)
		})
	}
	var out, errOut bytes.Buffer
	assert.Equal(t, 2, run([]string{"-targets", filepath.Join(dir, "none.txt"), "x"}, &out, &errOut))
	assert.Equal(t, 2, run(nil, &out, &errOut))
}
