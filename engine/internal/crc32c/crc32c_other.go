//go:build !amd64

package crc32c

// haveKernel is false: the folding kernel exists for amd64 only.
const haveKernel = false

// kernel is never called on this architecture.
func kernel(crc uint32, p []byte) uint32 { panic("crc32c: no kernel on this architecture") }
