// Package crc32c computes CRC-32C (Castagnoli), the checksum of Kafka v2
// record batches, faster than hash/crc32 on CPUs with AVX-512 VPCLMULQDQ.
//
// Every function returns exactly what hash/crc32 returns with the
// Castagnoli table, for every input; only the speed differs.
//
// How: on amd64 with AVX-512 F/VL and VPCLMULQDQ (and SSE4.2), inputs of at
// least kernelMin bytes go to an assembly kernel that folds the message 256
// bytes per iteration with carry-less multiplications over four 512-bit
// registers (the method of Intel's "Fast CRC Computation for Generic
// Polynomials Using PCLMULQDQ"), then 64 bytes per iteration over one,
// reduces the 512-bit remainder to 128 bits and finishes with the SSE4.2
// CRC32 instruction (two quadwords of remainder, then the last len%64
// bytes). Shorter inputs and every other CPU go to hash/crc32 (itself
// SSE4.2 CRC32, three streams interleaved, on amd64).
//
// The folding constants are x^n mod P(x) for the distances the kernel folds
// over; crc32c_amd64_test.go derives them from the polynomial and compares
// them with the table in the assembly.
//
// Nothing here keeps mutable state; every function is safe for concurrent
// use.
package crc32c

import "hash/crc32"

// kernelMin is the shortest input handed to the folding kernel, the
// shortest it accepts (one 512-bit register). Measured on AMD EPYC (Zen 5),
// the kernel beats hash/crc32 at every length from 64 bytes up, 1.4x at
// its worst (64 bytes plus a 63-byte tail); see README.
const kernelMin = 64

// castagnoli is hash/crc32's table for the polynomial; it is never written
// after package initialisation.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Checksum returns the CRC-32C of b.
func Checksum(b []byte) uint32 { return Update(0, b) }

// Update returns the CRC-32C of the bytes whose CRC-32C is crc followed by
// b, with the semantics of crc32.Update (crc is a finished checksum, not
// the inverted register).
func Update(crc uint32, b []byte) uint32 { return update(crc, b, haveKernel) }

// update is Update, using the kernel only if useKernel (tests pass false to
// force the hash/crc32 path on any CPU).
//
// REQUIRES: haveKernel if useKernel.
func update(crc uint32, b []byte, useKernel bool) uint32 {
	if useKernel && len(b) >= kernelMin {
		return ^kernel(^crc, b)
	}
	return crc32.Update(crc, castagnoli, b)
}
