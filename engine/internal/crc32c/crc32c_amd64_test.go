package crc32c

import (
	"hash/crc32"
	"math/bits"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// xPowMod returns x^n mod P(x) for the Castagnoli polynomial, as a natural
// 32-bit polynomial (bit i is the coefficient of x^i). It starts from
// crc32.Castagnoli, the reflected polynomial without its x^32 term.
func xPowMod(n int) uint32 {
	p := bits.Reverse32(crc32.Castagnoli)
	r := uint32(1)
	for range n {
		carry := r >> 31
		r <<= 1
		if carry != 0 {
			r ^= p
		}
	}
	return r
}

// foldPair returns the kernel's two operands for folding a 128-bit lane
// over d bits: x^(d+63) mod P for the lane's high-degree quadword and
// x^(d-1) mod P for its low-degree one, each bit-reflected into 64 bits
// (the -1 cancels the extra x of a reflected carry-less product).
func foldPair(d int) [2]uint64 {
	return [2]uint64{
		bits.Reverse64(uint64(xPowMod(d + 64 - 1))),
		bits.Reverse64(uint64(xPowMod(d - 1))),
	}
}

// TestXPowModAgainstHashCRC32 checks xPowMod on its own: a message of k
// bytes whose only set bit is the first byte's bit 0 is the polynomial
// x^(8k-1), so its CRC register from zero is x^(8k-1+32) mod P, reflected.
func TestXPowModAgainstHashCRC32(t *testing.T) {
	for _, k := range []int{1, 2, 5, 16, 64, 257} {
		msg := make([]byte, k)
		msg[0] = 1
		register := ^crc32.Update(^uint32(0), castagnoli, msg)
		require.Equalf(t, bits.Reverse32(xPowMod(8*k-1+32)), register, "k=%d", k)
	}
}

func TestKernelConstantsMatchPolynomial(t *testing.T) {
	var want [numConstants]uint64
	for i, d := range []int{2048, 512, 1536, 1024, 384, 256, 128} {
		pair := foldPair(d)
		want[2*i], want[2*i+1] = pair[0], pair[1]
	}
	// want[14:16] stay zero: lane 3 of the last register is not folded.
	var got [numConstants]uint64
	kernelConstants(&got)
	for i := range want {
		require.Equalf(t, want[i], got[i], "constant word %d: want %#016x, assembly has %#016x", i, want[i], got[i])
	}
}

// TestKernelDirect calls the assembly on every length it accepts up to
// 4 KiB, at every misalignment, from random registers.
func TestKernelDirect(t *testing.T) {
	if !haveKernel {
		t.Skip("CPU lacks AVX-512 VPCLMULQDQ")
	}
	r := rand.New(rand.NewPCG(7, 7))
	buf := randomBytes(7, 4096+63)
	for off := 0; off < 64; off++ {
		for n := 64; n <= 4096; n++ {
			crc := r.Uint32()
			b := buf[off : off+n]
			want := crc32.Update(crc, castagnoli, b)
			if got := ^kernel(^crc, b); got != want {
				require.Equalf(t, want, got, "len %d offset %d crc %#x", n, off, crc)
			}
		}
	}
}
