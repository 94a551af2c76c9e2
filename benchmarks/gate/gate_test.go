package gate

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strom-broker/strom/benchmarks/benchfile"
)

const targets = `# header comment
A x_raw 1.0 0.5   # target 1.0 (issue); floor 0.5
B x_kfake 1.0 0.5 0.1
`

func results(t *testing.T, lines ...string) *benchfile.File {
	t.Helper()
	f, err := benchfile.Parse(strings.NewReader(strings.Join(lines, "\n")))
	require.NoError(t, err)
	return f
}

func TestParseTargets(t *testing.T) {
	got, err := ParseTargets(strings.NewReader(targets))
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.Equal(t, Target{Bench: "A", Metric: "x_raw", Goal: 1, Floor: 0.5, Note: "target 1.0 (issue); floor 0.5"}, got[0])
	assert.Equal(t, 0.1, got[1].Tolerance)

	for _, bad := range []string{"", "A x 1", "A x 1 y", "A x 1 -1", "A x 1 0.5 1.5"} {
		_, err := ParseTargets(strings.NewReader(bad))
		assert.True(t, errors.Is(err, ErrTargets), "%q: %v", bad, err)
	}
}

func TestCheck(t *testing.T) {
	tg, err := ParseTargets(strings.NewReader(targets))
	require.NoError(t, err)
	ref := results(t, "BenchmarkA-2 1 1 ns/op 2.0 x_raw", "BenchmarkB-2 1 1 ns/op 1.0 x_kfake")
	for _, tc := range []struct {
		name  string
		lines []string
		ref   *benchfile.File
		want  []Status
		fail  bool
	}{
		{"all met", []string{"BenchmarkA-2 1 1 ns/op 1.5 x_raw", "BenchmarkB-2 1 1 ns/op 1.2 x_kfake"}, nil, []Status{Met, Met}, false},
		{"below target only", []string{"BenchmarkA-2 1 1 ns/op 0.6 x_raw", "BenchmarkB-2 1 1 ns/op 0.9 x_kfake"}, nil, []Status{BelowTarget, BelowTarget}, false},
		{"below floor", []string{"BenchmarkA-2 1 1 ns/op 0.4 x_raw", "BenchmarkB-2 1 1 ns/op 1 x_kfake"}, nil, []Status{BelowFloor, Met}, true},
		{"missing", []string{"BenchmarkA-2 1 1 ns/op 1 x_raw"}, nil, []Status{Met, Missing}, true},
		// A: 1.5 >= 2.0*0.7 passes; B: 0.95 < 1.0*0.9 (own tolerance 0.1) regresses.
		{"regressed", []string{"BenchmarkA-2 1 1 ns/op 1.5 x_raw", "BenchmarkB-2 1 1 ns/op 0.85 x_kfake"}, ref, []Status{Met, Regressed}, true},
		{"median of runs", []string{"BenchmarkA-2 1 1 ns/op 0.1 x_raw", "BenchmarkA-2 1 1 ns/op 1.1 x_raw", "BenchmarkA-2 1 1 ns/op 1.2 x_raw", "BenchmarkB-2 1 1 ns/op 1 x_kfake"}, nil, []Status{Met, Met}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := Check(tg, results(t, tc.lines...), tc.ref, 0.3)
			var got []Status
			for _, l := range rep.Lines {
				got = append(got, l.Status)
			}
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.fail, rep.Failed())
			var out bytes.Buffer
			rep.Print(&out, "")
			assert.Equal(t, tc.fail, strings.Contains(out.String(), "FAIL: benchmark gate"), out.String())
		})
	}
}

func TestLatest(t *testing.T) {
	dir := t.TempDir()
	got, err := Latest(dir)
	require.NoError(t, err)
	assert.Empty(t, got)
	for _, n := range []string{"2026-11-25-abc.txt", "2026-12-01-def.txt", "2026-11-30-xyz.txt", "notes.md"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, n), nil, 0o644))
	}
	got, err = Latest(dir)
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(dir, "2026-12-01-def.txt"), got)
}
