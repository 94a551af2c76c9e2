package crc32c

import (
	"bytes"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// randomBytes returns n bytes from a generator seeded with seed.
func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// impl is one implementation under test.
type impl struct {
	name   string
	update func(crc uint32, b []byte) uint32
}

// paths lists the implementations under test: Update as dispatched on this
// CPU, and the hash/crc32-only path forced.
func paths() []impl {
	return []impl{
		{"dispatch", Update},
		{"generic", func(crc uint32, b []byte) uint32 { return update(crc, b, false) }},
	}
}

func TestChecksumEveryLengthAndOffset(t *testing.T) {
	const maxLen, maxOff = 4096, 63
	buf := randomBytes(1, maxLen+maxOff)
	for _, p := range paths() {
		t.Run(p.name, func(t *testing.T) {
			for off := 0; off <= maxOff; off++ {
				for n := 0; n <= maxLen; n++ {
					b := buf[off : off+n]
					want := crc32.Checksum(b, castagnoli)
					if got := p.update(0, b); got != want {
						require.Equalf(t, want, got, "len %d offset %d", n, off)
					}
				}
			}
		})
	}
}

func TestChecksumLarge(t *testing.T) {
	for _, n := range []int{1 << 20, 1<<20 + 1, 1<<20 + 63, 1<<20 + 4097, 3<<20 + 77} {
		b := randomBytes(uint64(n), n)
		want := crc32.Checksum(b, castagnoli)
		require.Equalf(t, want, Checksum(b), "len %d", n)
		require.Equalf(t, crc32.Checksum(b[1:], castagnoli), Checksum(b[1:]), "len %d offset 1", n)
	}
}

func TestChecksumConstantBytes(t *testing.T) {
	for _, v := range []byte{0x00, 0xff} {
		for _, n := range []int{1, 63, 64, 255, 256, 511, 512, 513, 1024, 4096, 65536 + 3, 1 << 20} {
			b := bytes.Repeat([]byte{v}, n)
			require.Equalf(t, crc32.Checksum(b, castagnoli), Checksum(b), "%d bytes of %#x", n, v)
		}
	}
}

func TestUpdateChainingEverySplit(t *testing.T) {
	b := randomBytes(2, 2048+37)
	want := crc32.Checksum(b, castagnoli)
	for _, p := range paths() {
		t.Run(p.name, func(t *testing.T) {
			for i := 0; i <= len(b); i++ {
				got := p.update(p.update(0, b[:i]), b[i:])
				require.Equalf(t, want, got, "split at %d", i)
			}
			// Three pieces, the middle one long enough for the kernel.
			for i := 0; i+kernelMin+64 <= len(b); i += 7 {
				j := i + kernelMin + 64
				got := p.update(p.update(p.update(0, b[:i]), b[i:j]), b[j:])
				require.Equalf(t, want, got, "split at %d and %d", i, j)
			}
		})
	}
}

func TestUpdateArbitraryInitialCRC(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	b := randomBytes(3, 8192)
	for range 2000 {
		crc := r.Uint32()
		off := r.IntN(64)
		n := r.IntN(len(b) - off)
		want := crc32.Update(crc, castagnoli, b[off:off+n])
		require.Equalf(t, want, Update(crc, b[off:off+n]), "crc %#x len %d offset %d", crc, n, off)
	}
}

// TestKnownAnswer pins the check value of the CRC-32C catalogue
// ("123456789") and RFC 3720's 32 zero bytes, independently of hash/crc32.
func TestKnownAnswer(t *testing.T) {
	require.Equal(t, uint32(0xe3069283), Checksum([]byte("123456789")))
	require.Equal(t, uint32(0x8a9136aa), Checksum(make([]byte, 32)))
	long := bytes.Repeat([]byte("123456789"), 1000)
	require.Equal(t, crc32.Checksum(long, castagnoli), Checksum(long))
}

func FuzzChecksum(f *testing.F) {
	f.Add(uint32(0), []byte("123456789"), uint16(0))
	f.Add(uint32(0xffffffff), make([]byte, 64), uint16(8))
	f.Add(uint32(0x12345678), randomBytes(4, 300), uint16(3))
	f.Add(uint32(1), randomBytes(5, 1000), uint16(0))
	f.Fuzz(func(t *testing.T, crc uint32, data []byte, repeat uint16) {
		// Repeating the input reaches the kernel's lengths from short
		// fuzzer inputs.
		b := bytes.Repeat(data, 1+int(repeat%128))
		want := crc32.Update(crc, castagnoli, b)
		if got := Update(crc, b); got != want {
			t.Fatalf("Update(%#x, %d bytes) = %#x, hash/crc32 %#x", crc, len(b), got, want)
		}
		if got := Checksum(b); got != crc32.Checksum(b, castagnoli) {
			t.Fatalf("Checksum(%d bytes) = %#x, hash/crc32 %#x", len(b), got, crc32.Checksum(b, castagnoli))
		}
	})
}

func BenchmarkChecksum(b *testing.B) {
	for _, c := range []struct {
		name string
		size int
	}{{"1KiB", 1 << 10}, {"16KiB", 16 << 10}, {"1MiB", 1 << 20}} {
		size := c.size
		b.Run("size="+c.name, func(b *testing.B) {
			benchAgainstStdlib(b, randomBytes(6, size), Checksum)
		})
	}
}

// benchAgainstStdlib times sum over buf b.N times, then hash/crc32 the same
// number of times, and reports how many times faster sum is (x_stdlib) and
// the stdlib's own throughput.
func benchAgainstStdlib(b *testing.B, buf []byte, sum func([]byte) uint32) {
	b.Helper()
	b.SetBytes(int64(len(buf)))
	var sink uint32
	b.ResetTimer()
	for range b.N {
		sink ^= sum(buf)
	}
	b.StopTimer()
	ours := b.Elapsed()
	start := time.Now()
	for range b.N {
		sink ^= crc32.Checksum(buf, castagnoli)
	}
	std := time.Since(start)
	if ours > 0 && std > 0 {
		b.ReportMetric(float64(std)/float64(ours), "x_stdlib")
		b.ReportMetric(float64(len(buf))*float64(b.N)/std.Seconds()/1e6, "stdlib_MB/s")
	}
	runtime.KeepAlive(sink)
}

// BenchmarkKernelCrossover compares the kernel path with hash/crc32 alone
// around kernelMin, the lengths where choosing the threshold matters.
func BenchmarkKernelCrossover(b *testing.B) {
	if !haveKernel {
		b.Skip("CPU lacks AVX-512 VPCLMULQDQ")
	}
	for _, size := range []int{64, 100, 127, 128, 192, 255, 256, 320, 512, 1024} {
		b.Run(fmt.Sprintf("size=%dB", size), func(b *testing.B) {
			// kernel for every length, whatever kernelMin says.
			benchAgainstStdlib(b, randomBytes(8, size), func(p []byte) uint32 { return ^kernel(^uint32(0), p) })
		})
	}
}
