//go:build !unix

package clitool

import "os"

// InterruptibleStdin returns standard input unchanged on this platform.
func InterruptibleStdin() (*os.File, func()) { return os.Stdin, func() {} }
