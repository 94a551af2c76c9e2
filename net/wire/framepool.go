package wire

// Frame buffer recycling for large requests.
//
// Invariants: every buffer in class c of a FramePool has a capacity of
// exactly 1<<(c+minPoolShift); a buffer is in the pool only while no
// caller holds it (Put hands it over, ReadPayload takes it out). Taking a
// pooled buffer allocates nothing, so the memory invariant of frame.go
// still holds: a size prefix alone costs at most InitialFrameBuffer of new
// memory.

import (
	"errors"
	"fmt"
	"io"
	"math/bits"
	"sync"
)

const (
	minPoolShift = 17 // smallest pooled capacity: 128 KiB
	maxPoolShift = 24 // largest pooled capacity: 16 MiB
)

// MinPooledFrame and MaxPooledFrame bound the frame sizes a FramePool
// recycles: smaller frames cost one small allocation anyway, larger ones are
// rare enough not to be worth holding on to.
const (
	MinPooledFrame = InitialFrameBuffer + 1
	MaxPooledFrame = 1 << maxPoolShift
)

// FramePool recycles the buffers of large frames (MinPooledFrame to
// MaxPooledFrame bytes), in power-of-two capacity classes. A server reading
// large produce requests back to back otherwise allocates (and the garbage
// collector scans and frees) a fresh buffer per request: for 512 KiB
// records about as many bytes as the records themselves. The zero value is
// ready to use; buffers idle in the pool are freed by the garbage collector
// (sync.Pool semantics).
type FramePool struct {
	classes [maxPoolShift - minPoolShift + 1]sync.Pool // of *[]byte
}

// poolClass returns the class whose buffers hold size bytes, or -1 when
// frames of that size are not pooled.
func poolClass(size int) int {
	if size < MinPooledFrame || size > MaxPooledFrame {
		return -1
	}
	return max(bits.Len(uint(size-1)), minPoolShift) - minPoolShift
}

// ReadPayload is ReadPayload (the package function) that takes its buffer
// from the pool when one of the frame's class is free. Without one it grows
// a buffer as ReadPayload does, but to the class's power-of-two capacity,
// so that Put can recycle it. Frames outside the pooled sizes are read by
// ReadPayload. Give the frame back with Put once nothing refers to it.
func (p *FramePool) ReadPayload(r io.Reader, size int) ([]byte, error) {
	c := poolClass(size)
	if c < 0 {
		return ReadPayload(r, size)
	}
	v, _ := p.classes[c].Get().(*[]byte)
	if v == nil {
		return readGrowing(r, size, 1<<(c+minPoolShift))
	}
	buf := (*v)[:size]
	if n, err := io.ReadFull(r, buf); err != nil {
		p.classes[c].Put(v)
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%w: frame of %d bytes ended after %d", ErrTruncated, size, n)
		}
		return nil, err
	}
	return buf, nil
}

// Put gives a frame buffer back to the pool. Buffers whose capacity is not
// one of the pool's classes (e.g. read by the package-level ReadPayload, or
// a small frame) are left to the garbage collector. The caller must not use
// frame, or anything sliced from it, afterwards.
func (p *FramePool) Put(frame []byte) {
	c := cap(frame)
	if c&(c-1) != 0 { // not a power of two
		return
	}
	class := bits.Len(uint(c)) - 1 - minPoolShift
	if class < 0 || class >= len(p.classes) {
		return
	}
	buf := frame[:c]
	p.classes[class].Put(&buf)
}
