#include "textflag.h"

// Bit order. A 16-byte lane loaded little-endian holds a piece of the
// message as a bit-reflected polynomial: bit j of the 128-bit lane is the
// coefficient of x^(127-j), so the low quadword H carries x^127..x^64 and
// the high quadword L carries x^63..x^0. A carry-less product of two
// reflected 64-bit operands is the reflected 128-bit product times x.
//
// Folding a lane A = H*x^64 + L forward over d bits (onto the lane d/8
// bytes later) replaces A*x^d by H*(x^(d+64) mod P) + L*(x^d mod P), which
// has degree < 96 and is xored into the later lane. Because the product
// carries an extra x, the table holds, for each d, the reflected 64-bit
// operands x^(d+63) mod P (for H, used by imm 0x00) and x^(d-1) mod P
// (for L, imm 0x11). crc32c_amd64_test.go recomputes every word.
//
// Table (two words per 128-bit lane):
//   0x00  d = 2048  fold each lane over 256 bytes (four registers)
//   0x10  d =  512  fold a register onto the next, 64 bytes on
//   0x20  d = 1536  fold the first of four registers onto the last
//   0x30  d = 1024  fold the second of four registers onto the last
//   0x40  d =  384, 256, 128, -  fold lanes 0, 1, 2 of the last register
//                                onto lane 3 (lane 3 is not multiplied)
DATA foldK<>+0x00(SB)/8, $0xe9a5d8be00000000
DATA foldK<>+0x08(SB)/8, $0x1426a81500000000
DATA foldK<>+0x10(SB)/8, $0x1c19243b00000000
DATA foldK<>+0x18(SB)/8, $0x75bba45b00000000
DATA foldK<>+0x20(SB)/8, $0x7ccbbbf200000000
DATA foldK<>+0x28(SB)/8, $0x31c9460800000000
DATA foldK<>+0x30(SB)/8, $0x6577b24500000000
DATA foldK<>+0x38(SB)/8, $0x7417153f00000000
DATA foldK<>+0x40(SB)/8, $0xa46ef4aa00000000
DATA foldK<>+0x48(SB)/8, $0x6051243f00000000
DATA foldK<>+0x50(SB)/8, $0x33ccbbbc00000000
DATA foldK<>+0x58(SB)/8, $0xa2158b3400000000
DATA foldK<>+0x60(SB)/8, $0x3743f7bd00000000
DATA foldK<>+0x68(SB)/8, $0x3171d43000000000
DATA foldK<>+0x70(SB)/8, $0
DATA foldK<>+0x78(SB)/8, $0
GLOBL foldK<>(SB), RODATA|NOPTR, $128

// func kernel(crc uint32, p []byte) uint32
//
// Requires len(p) >= 64. crc is the register (the inverted checksum); it is
// xored into the first four message bytes, which turns the rest into a CRC
// with a zero register: after folding the first len(p)&^63 bytes, the
// remaining 128 bits R satisfy message*x^32 = R*x^32 (mod P), so the
// register is the CRC32 instruction's result over R's two quadwords
// starting from zero. The last len(p)%64 bytes then go through CRC32Q, L,
// W and B.
TEXT ·kernel(SB), NOSPLIT, $0-36
	MOVL crc+0(FP), AX
	MOVQ p_base+8(FP), SI
	MOVQ p_len+16(FP), CX
	VMOVD AX, X4              // zeroes bits 32..511 of Z4

	CMPQ CX, $256
	JAE  start256

	// 64..255 bytes: one register, folded 64 bytes at a time.
	VMOVDQU64       0(SI), Z3
	VPXORQ          Z4, Z3, Z3
	ADDQ            $64, SI
	SUBQ            $64, CX
	VBROADCASTI32X4 foldK<>+0x10(SB), Z4
	JMP             loop64

start256:
	VMOVDQU64 0(SI), Z0
	VMOVDQU64 64(SI), Z1
	VMOVDQU64 128(SI), Z2
	VMOVDQU64 192(SI), Z3
	VPXORQ    Z4, Z0, Z0
	ADDQ      $256, SI
	SUBQ      $256, CX

	VBROADCASTI32X4 foldK<>+0x00(SB), Z4

loop256:
	CMPQ CX, $256
	JB   fold4
	VMOVDQU64  0(SI), Z8
	VMOVDQU64  64(SI), Z9
	VMOVDQU64  128(SI), Z10
	VMOVDQU64  192(SI), Z11
	VPCLMULQDQ $0x00, Z4, Z0, Z12
	VPCLMULQDQ $0x11, Z4, Z0, Z0
	VPCLMULQDQ $0x00, Z4, Z1, Z13
	VPCLMULQDQ $0x11, Z4, Z1, Z1
	VPCLMULQDQ $0x00, Z4, Z2, Z14
	VPCLMULQDQ $0x11, Z4, Z2, Z2
	VPCLMULQDQ $0x00, Z4, Z3, Z15
	VPCLMULQDQ $0x11, Z4, Z3, Z3
	VPTERNLOGQ $0x96, Z12, Z8, Z0  // Z0 ^= Z8 ^ Z12
	VPTERNLOGQ $0x96, Z13, Z9, Z1
	VPTERNLOGQ $0x96, Z14, Z10, Z2
	VPTERNLOGQ $0x96, Z15, Z11, Z3
	ADDQ       $256, SI
	SUBQ       $256, CX
	JMP        loop256

fold4:
	// Fold Z0, Z1, Z2 onto Z3 (192, 128, 64 bytes on) independently.
	VBROADCASTI32X4 foldK<>+0x20(SB), Z5
	VBROADCASTI32X4 foldK<>+0x30(SB), Z6
	VBROADCASTI32X4 foldK<>+0x10(SB), Z4
	VPCLMULQDQ      $0x00, Z5, Z0, Z7
	VPCLMULQDQ      $0x11, Z5, Z0, Z0
	VPCLMULQDQ      $0x00, Z6, Z1, Z8
	VPCLMULQDQ      $0x11, Z6, Z1, Z1
	VPCLMULQDQ      $0x00, Z4, Z2, Z9
	VPCLMULQDQ      $0x11, Z4, Z2, Z2
	VPTERNLOGQ      $0x96, Z7, Z0, Z3  // Z3 ^= Z0 ^ Z7
	VPTERNLOGQ      $0x96, Z8, Z1, Z2  // Z2 ^= Z1 ^ Z8
	VPTERNLOGQ      $0x96, Z9, Z2, Z3  // Z3 ^= Z2 ^ Z9

loop64:
	CMPQ       CX, $64
	JB         reduce
	VMOVDQU64  0(SI), Z8
	VPCLMULQDQ $0x00, Z4, Z3, Z12
	VPCLMULQDQ $0x11, Z4, Z3, Z3
	VPTERNLOGQ $0x96, Z12, Z8, Z3
	ADDQ       $64, SI
	SUBQ       $64, CX
	JMP        loop64

reduce:
	// Lanes 0, 1, 2 of Z3 fold onto lane 3 (48, 32, 16 bytes on); the
	// zero constants of lane 3 make its products zero.
	VMOVDQU64     foldK<>+0x40(SB), Z4
	VPCLMULQDQ    $0x00, Z4, Z3, Z5
	VPCLMULQDQ    $0x11, Z4, Z3, Z6
	VPXORQ        Z6, Z5, Z5
	VEXTRACTI32X4 $3, Z3, X7
	VEXTRACTI32X4 $1, Z5, X8
	VEXTRACTI32X4 $2, Z5, X9
	VPXOR         X8, X5, X5
	VPXOR         X9, X7, X7
	VPXOR         X7, X5, X5

	// 128 bits to the 32-bit register.
	VMOVQ   X5, BX
	VPEXTRQ $1, X5, DX
	XORL    AX, AX
	CRC32Q  BX, AX
	CRC32Q  DX, AX
	VZEROUPPER

	// The last CX < 64 bytes, in order.
tail8:
	CMPQ   CX, $8
	JB     tail1
	CRC32Q 0(SI), AX
	ADDQ   $8, SI
	SUBQ   $8, CX
	JMP    tail8

tail1:
	// CX < 8: one CRC32L, CRC32W and CRC32B at most.
	TESTQ  $4, CX
	JZ     tail2
	CRC32L 0(SI), AX
	ADDQ   $4, SI

tail2:
	TESTQ  $2, CX
	JZ     tail3
	CRC32W 0(SI), AX
	ADDQ   $2, SI

tail3:
	TESTQ  $1, CX
	JZ     done
	CRC32B 0(SI), AX

done:
	MOVL AX, ret+32(FP)
	RET

// func kernelConstants(dst *[12]uint64)
TEXT ·kernelConstants(SB), NOSPLIT, $0-8
	MOVQ  dst+0(FP), DI
	MOVOU foldK<>+0x00(SB), X0
	MOVOU X0, 0x00(DI)
	MOVOU foldK<>+0x10(SB), X0
	MOVOU X0, 0x10(DI)
	MOVOU foldK<>+0x20(SB), X0
	MOVOU X0, 0x20(DI)
	MOVOU foldK<>+0x30(SB), X0
	MOVOU X0, 0x30(DI)
	MOVOU foldK<>+0x40(SB), X0
	MOVOU X0, 0x40(DI)
	MOVOU foldK<>+0x50(SB), X0
	MOVOU X0, 0x50(DI)
	MOVOU foldK<>+0x60(SB), X0
	MOVOU X0, 0x60(DI)
	MOVOU foldK<>+0x70(SB), X0
	MOVOU X0, 0x70(DI)
	RET
