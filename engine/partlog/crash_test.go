package partlog

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strom-broker/strom/engine/segment"
)

// crashFixture is a log written and then abandoned as by a crash, with the
// stamped bytes of every batch.
type crashFixture struct {
	dir     string
	batches [][]byte
	ends    []int64 // LEO after each batch
	active  int64   // base offset of the active segment
}

func newCrashFixture(t *testing.T, cfg Config, n int) crashFixture {
	t.Helper()
	f := crashFixture{dir: t.TempDir()}
	l := openLog(t, f.dir, cfg)
	for i := 0; i < n; i++ {
		b := makeBatch(1+i%3, int64(1000+i), fmt.Sprint(i))
		_, err := l.Append(b, 1)
		require.NoError(t, err)
		f.batches = append(f.batches, b)
		f.ends = append(f.ends, l.LogEndOffset())
	}
	bases := l.SegmentBaseOffsets()
	f.active = bases[len(bases)-1]
	l.crash()
	return f
}

// clone copies the fixture's directory to a fresh one.
func (f crashFixture) clone(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	ents, err := os.ReadDir(f.dir)
	require.NoError(t, err)
	for _, e := range ents {
		data, err := os.ReadFile(filepath.Join(f.dir, e.Name()))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dst, e.Name()), data, 0o644))
	}
	return dst
}

// verify opens dir and checks that the log holds exactly the first keep
// batches, reads them back identically, and continues at the right offset.
func (f crashFixture) verify(t *testing.T, dir string, cfg Config, keep int, opts ...Option) {
	t.Helper()
	l := openLog(t, dir, cfg, opts...)
	defer l.Close()
	wantLEO := int64(0)
	if keep > 0 {
		wantLEO = f.ends[keep-1]
	}
	require.Equal(t, wantLEO, l.LogEndOffset(), "log end after recovery")
	got, err := l.ReadBytes(0, 1<<30, l.LogEndOffset())
	require.NoError(t, err)
	require.True(t, bytes.Equal(bytes.Join(f.batches[:keep], nil), got), "records read back identical")
	// Offsets inside the log still translate (indexes consistent).
	for i := 0; i < keep; i += 7 {
		b, err := l.ReadBytes(f.ends[i]-1, 1, l.LogEndOffset())
		require.NoError(t, err)
		require.Equal(t, f.batches[i], b)
	}
	info, err := l.Append(makeBatch(2, 5000, "after"), 2)
	require.NoError(t, err)
	require.Equal(t, wantLEO, info.FirstOffset, "next append continues at the log end")
}

func crashConfig() Config {
	c := smallConfig()
	c.SegmentBytes = 4096
	return c
}

func TestCrashCutAtEveryByte(t *testing.T) {
	cfg := crashConfig()
	f := newCrashFixture(t, cfg, 80)
	logPath := segment.FileName(f.dir, f.active, segment.LogSuffix)
	st, err := os.Stat(logPath)
	require.NoError(t, err)
	n := len(f.batches)
	last2 := int64(len(f.batches[n-1]) + len(f.batches[n-2]))
	require.Greater(t, st.Size(), last2, "the last two batches share the active segment")
	for cut := st.Size() - last2; cut <= st.Size(); cut++ {
		dir := f.clone(t)
		require.NoError(t, os.Truncate(segment.FileName(dir, f.active, segment.LogSuffix), cut))
		keep := n - 2
		if cut >= st.Size()-int64(len(f.batches[n-1])) {
			keep = n - 1
		}
		if cut == st.Size() {
			keep = n
		}
		t.Run(fmt.Sprint("cut=", cut), func(t *testing.T) {
			f.verify(t, dir, cfg, keep, WithRecoveryPoint(f.active))
		})
	}
}

func TestCrashRandomByteFlips(t *testing.T) {
	seed := testSeed(t, uint64(time.Now().UnixNano()))
	t.Logf("seed %d (replay with SEED=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	cfg := crashConfig()
	f := newCrashFixture(t, cfg, 80)
	// Batch start positions in the active segment.
	var starts []int64
	first := 0
	for i := range f.batches {
		if i > 0 && f.ends[i-1] == f.active || (i == 0 && f.active == 0) {
			first = i
		}
	}
	pos := int64(0)
	for i := first; i < len(f.batches); i++ {
		starts = append(starts, pos)
		pos += int64(len(f.batches[i]))
	}
	for trial := 0; trial < 40; trial++ {
		// Flip a byte covered by a check: skip baseOffset (0-7) and
		// partitionLeaderEpoch (12-15), which the format leaves outside
		// the CRC (Kafka cannot detect their corruption either).
		var at int64
		var victim int
		for {
			victim = rng.IntN(len(starts))
			within := int64(rng.IntN(len(f.batches[first+victim])))
			if within < 8 || (within >= 12 && within < 16) {
				continue
			}
			at = starts[victim] + within
			break
		}
		mask := byte(1 + rng.IntN(255))
		dir := f.clone(t)
		fh, err := os.OpenFile(segment.FileName(dir, f.active, segment.LogSuffix), os.O_RDWR, 0)
		require.NoError(t, err)
		b := []byte{0}
		_, err = fh.ReadAt(b, at)
		require.NoError(t, err)
		_, err = fh.WriteAt([]byte{b[0] ^ mask}, at)
		require.NoError(t, err)
		require.NoError(t, fh.Close())
		t.Run(fmt.Sprintf("seed=%d/trial=%d/byte=%d", seed, trial, at), func(t *testing.T) {
			f.verify(t, dir, cfg, first+victim, WithRecoveryPoint(f.active))
		})
	}
}

func TestCrashIndexDamage(t *testing.T) {
	cfg := crashConfig()
	f := newCrashFixture(t, cfg, 80)
	n := len(f.batches)
	damage := map[string]func(path string) error{
		"deleted":   os.Remove,
		"truncated": func(p string) error { return os.Truncate(p, 5) },
		"empty":     func(p string) error { return os.Truncate(p, 0) },
		"garbage": func(p string) error {
			return os.WriteFile(p, bytes.Repeat([]byte{0x7f, 0x01, 0xff}, 800), 0o644)
		},
		"zeros": func(p string) error { return os.WriteFile(p, make([]byte, 4096), 0o644) },
	}
	for name, fn := range damage {
		for _, suffix := range []string{segment.IndexSuffix, segment.TimeIndexSuffix} {
			for _, clean := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s%s/clean=%v", name, suffix, clean), func(t *testing.T) {
					dir := f.clone(t)
					// Damage every segment's index, sealed and active.
					segs, err := filepath.Glob(filepath.Join(dir, "*"+suffix))
					require.NoError(t, err)
					require.NotEmpty(t, segs)
					for _, p := range segs {
						require.NoError(t, fn(p))
					}
					// A clean open trusts only indexes that pass the check.
					f.verify(t, dir, cfg, n, WithCleanShutdown(clean), WithRecoveryPoint(f.ends[n-1]))
					checkDirFormat(t, dir, true)
				})
			}
		}
	}
}

func TestCrashLosesOnlyUnflushedTail(t *testing.T) {
	// With flush.messages=1 every acknowledged append is fsync'd; a crash
	// followed by garbage past the end loses nothing acknowledged.
	cfg := crashConfig()
	cfg.FlushMessages = 1
	dir := t.TempDir()
	l := openLog(t, dir, cfg)
	var all []byte
	for i := 0; i < 30; i++ {
		b := makeBatch(2, int64(i), "f")
		_, err := l.Append(b, 0)
		require.NoError(t, err)
		all = append(all, b...)
	}
	rp := l.RecoveryPoint()
	assert.Equal(t, l.LogEndOffset(), rp)
	bases := l.SegmentBaseOffsets()
	l.crash()
	fh, err := os.OpenFile(segment.FileName(dir, bases[len(bases)-1], segment.LogSuffix), os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = io.WriteString(fh, "torn write of a batch that was never acknowledged")
	require.NoError(t, err)
	require.NoError(t, fh.Close())
	l = openLog(t, dir, cfg, WithRecoveryPoint(rp))
	defer l.Close()
	got, err := l.ReadBytes(0, 1<<30, l.LogEndOffset())
	require.NoError(t, err)
	assert.Equal(t, all, got)
}
