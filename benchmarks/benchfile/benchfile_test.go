package benchfile

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const sample = `goos: linux
goarch: amd64
pkg: github.com/strom-broker/strom/benchmarks
cpu: AMD EPYC
commit: abc1234
BenchmarkProduce/record=100B/acks=1/partitions=1-2   	       2	 185997914 ns/op	   2570045 kfake_rec/s	   1.686 x_kfake
BenchmarkProduce/record=100B/acks=1/partitions=1-2   	       2	 185997914 ns/op	   2570045 kfake_rec/s	   1.2 x_kfake
BenchmarkProduce/record=100B/acks=1/partitions=1-2   	       2	 185997914 ns/op	   2570045 kfake_rec/s	   1.5 x_kfake
BenchmarkEngineAppend/record=100B/batch=1MiB-2        	     300	   3935358 ns/op	 266.44 MB/s	 0.9067 x_raw	 280 B/op	 3 allocs/op
BenchmarkCodec
    systems_test.go:12: a log line
PASS
ok  	github.com/strom-broker/strom/benchmarks	111.026s
`

func TestParse(t *testing.T) {
	f, err := Parse(strings.NewReader(sample))
	require.NoError(t, err)
	assert.Equal(t, "abc1234", f.Config["commit"])
	assert.Equal(t, "AMD EPYC", f.Config["cpu"])
	require.Len(t, f.Runs, 4)
	assert.Equal(t, "Produce/record=100B/acks=1/partitions=1", f.Runs[0].Name)
	assert.Equal(t, int64(300), f.Runs[3].Iterations)
	assert.Equal(t, []float64{1.686, 1.2, 1.5}, f.Values("Produce/record=100B/acks=1/partitions=1", "x_kfake"))
	m, ok := f.Median("Produce/record=100B/acks=1/partitions=1", "x_kfake")
	require.True(t, ok)
	assert.Equal(t, 1.5, m)
	m, ok = f.Median("EngineAppend/record=100B/batch=1MiB", "MB/s")
	require.True(t, ok)
	assert.Equal(t, 266.44, m)
	_, ok = f.Median("EngineAppend/record=100B/batch=1MiB", "x_kfake")
	assert.False(t, ok)
}

func TestParseRejectsBadValue(t *testing.T) {
	_, err := Parse(strings.NewReader("BenchmarkX-2 10 abc ns/op\n"))
	require.Error(t, err)
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{
		{[]float64{3}, 3},
		{[]float64{4, 1}, 2.5},
		{[]float64{5, 1, 3}, 3},
		{[]float64{9, 1, 8, 2}, 5},
	} {
		in := append([]float64(nil), tc.in...)
		assert.Equal(t, tc.want, Median(tc.in))
		assert.Equal(t, in, tc.in, "input unchanged")
	}
}
