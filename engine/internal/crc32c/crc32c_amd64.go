package crc32c

import "golang.org/x/sys/cpu"

// haveKernel reports whether this CPU runs the folding kernel: AVX-512
// F and VL with VPCLMULQDQ for the folds, SSE4.2 for the final CRC32
// instructions. (x/sys/cpu already checks the OS saves the ZMM state.)
var haveKernel = cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL &&
	cpu.X86.HasAVX512VPCLMULQDQ && cpu.X86.HasSSE42

// kernel returns the CRC register (inverted, as the CRC32 instruction
// keeps it) after p, starting from register crc.
//
// REQUIRES: haveKernel and len(p) >= 64.
//
//go:noescape
func kernel(crc uint32, p []byte) uint32

// kernelConstants copies the assembly's folding-constant table into dst
// (for the test that checks it against the polynomial).
//
//go:noescape
func kernelConstants(dst *[numConstants]uint64)

// numConstants is the number of 64-bit words in the assembly's table:
// one pair (high half, low half of a 128-bit lane) for the 256-byte fold,
// one for the 64-byte fold, one each for folding the first and second of
// four registers onto the last, and four for the final 512-to-128-bit fold
// (the last lane is not folded, its pair is zero).
const numConstants = 16
