package cleaner

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strom-broker/strom/engine/partlog"
	"github.com/strom-broker/strom/engine/segment"
)

// BenchmarkClean measures a full forced pass over a log of 64 MiB of
// 100-byte values (batches of 100 records, keys drawn from a key space)
// and, in the same run, a raw sequential read + write of the same .log
// bytes (the physical baseline). MB/s is of the cleaned (input) bytes;
// ratio-to-raw is clean time / raw copy time.
func BenchmarkClean(b *testing.B) {
	for _, keys := range []int{1_000, 100_000} {
		b.Run(fmt.Sprintf("keys=%d", keys), func(b *testing.B) { benchClean(b, keys) })
	}
}

func benchClean(b *testing.B, keys int) {
	clk := newClock()
	cfg := compactConfig()
	cfg.SegmentBytes = 16 << 20
	cfg.IndexIntervalBytes = 4096
	cfg.SegmentIndexBytes = 1 << 20
	template := logDir(b)
	l := openLog(b, template, cfg, clk)
	rng := rand.New(rand.NewPCG(1, 2))
	value := make([]byte, 100)
	for l.Size() < 64<<20 {
		recs := make([]kv, 100)
		for i := range recs {
			recs[i] = kv{k(fmt.Sprintf("key-%08d", rng.IntN(keys))), value}
		}
		appendKV(b, l, clk.Now().UnixMilli(), recs...)
	}
	require.NoError(b, l.Roll())
	size := l.Size()
	require.NoError(b, l.Close())

	var cleanNs, rawNs int64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dir := filepath.Join(b.TempDir(), tp0.String())
		copyDir(b, template, dir)
		l := openLog(b, dir, cfg, clk, partlog.WithCleanShutdown(true))
		c := newCleaner(clk)
		b.StartTimer()
		start := nowNs()
		st, err := c.CleanLog(tp0, l, true)
		cleanNs += nowNs() - start
		b.StopTimer()
		require.NoError(b, err)
		require.Positive(b, st.RecordsDropped)
		ns, n := rawCopy(b, template)
		rawNs += ns
		require.Equal(b, size, n, "raw copy moves the bytes the pass read")
		require.NoError(b, l.Close())
		b.StartTimer()
	}
	b.SetBytes(size)
	b.ReportMetric(float64(size)*float64(b.N)/(float64(rawNs)/1e9)/1e6, "raw-MB/s")
	b.ReportMetric(float64(cleanNs)/float64(rawNs), "ratio-to-raw")
}

// rawCopy reads every .log file of dir sequentially in 1 MiB chunks and
// writes it to a new file (fsync'd, as the cleaner's output is), returning
// the nanoseconds taken and the bytes copied.
func rawCopy(b *testing.B, dir string) (int64, int64) {
	out := filepath.Join(b.TempDir(), "raw")
	names, err := filepath.Glob(filepath.Join(dir, "*"+segment.LogSuffix))
	require.NoError(b, err)
	buf := make([]byte, 1<<20)
	var total int64
	start := nowNs()
	for _, name := range names {
		in, err := os.Open(name)
		require.NoError(b, err)
		o, err := os.Create(out)
		require.NoError(b, err)
		n, err := io.CopyBuffer(struct{ io.Writer }{o}, struct{ io.Reader }{in}, buf)
		require.NoError(b, err)
		total += n
		require.NoError(b, o.Sync())
		require.NoError(b, errorsJoin(in.Close(), o.Close()))
	}
	return nowNs() - start, total
}

func copyDir(b *testing.B, from, to string) {
	require.NoError(b, os.MkdirAll(to, 0o755))
	des, err := os.ReadDir(from)
	require.NoError(b, err)
	for _, de := range des {
		data, err := os.ReadFile(filepath.Join(from, de.Name()))
		require.NoError(b, err)
		require.NoError(b, os.WriteFile(filepath.Join(to, de.Name()), data, 0o644))
	}
}
