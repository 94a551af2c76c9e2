package main

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const sample = `commit: abc1234
cpu: AMD EPYC
BenchmarkProduce/record=100B/acks=1/partitions=1-2 2 1 ns/op 2000000 kfake_rec/s 4000000 strom_rec/s 2.0 x_kfake
BenchmarkLatency-2 1 1 ns/op 2 kfake_p50_ms 9 kfake_p99_ms 1.5 strom_p50_ms 6 strom_p99_ms 1.5 x_kfake_p99
BenchmarkEngineReadSendfile-2 100 1 ns/op 3000 strom_MB/s 2900 raw_MB/s 1.03 x_raw
`

func TestRender(t *testing.T) {
	dir := t.TempDir()
	in, out := filepath.Join(dir, "r.txt"), filepath.Join(dir, "p.svg")
	require.NoError(t, os.WriteFile(in, []byte(sample), 0o644))
	require.Equal(t, 0, run([]string{"-o", out, in}, os.Stderr))
	svg, err := os.ReadFile(out)
	require.NoError(t, err)
	// Well-formed XML.
	d := xml.NewDecoder(strings.NewReader(string(svg)))
	for {
		_, err := d.Token()
		if err != nil {
			require.ErrorContains(t, err, "EOF")
			break
		}
	}
	s := string(svg)
	assert.Contains(t, s, "strom 4M rec/s")
	assert.Contains(t, s, "kfake 2M rec/s")
	assert.Contains(t, s, "x_kfake 2.00")
	assert.Contains(t, s, "strom 6 ms")
	assert.Contains(t, s, "x_raw 1.03")
	assert.NotContains(t, s, "512 KiB", "rows without data are left out")
	// Strom's produce bar is the longest of its row (barMaxW), kfake's half.
	assert.Contains(t, s, `width="420"`)
	assert.Contains(t, s, `width="210"`)
}

func TestUsage(t *testing.T) {
	assert.Equal(t, 2, run(nil, &strings.Builder{}))
}
