//go:build !unix

package clitool

import "io"

// Interruptible returns r unchanged on this platform.
func Interruptible(r io.Reader) (io.Reader, func()) { return r, func() {} }
