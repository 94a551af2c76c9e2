package server

import (
	"context"
	"sync"
)

// byteBudget bounds the request bytes held by all connections of a server
// (queued.max.request.bytes): a reader reserves a frame's size before it
// allocates the frame and the handler gives it back when it is done with the
// request. Reservations are granted first come, first served, so a large
// request is not starved by a stream of small ones.
//
// Invariants (under mu): 0 <= used; used <= limit unless a single
// reservation larger than limit was granted while used was 0 (so a request
// larger than the whole budget still runs, alone); waiters are in arrival
// order and the head is granted as soon as it fits.
type byteBudget struct {
	mu      sync.Mutex
	limit   int64 // <= 0: unbounded
	used    int64
	waiters []*budgetWaiter
}

// budgetWaiter is one blocked reservation; ready is closed once granted.
type budgetWaiter struct {
	n     int64
	ready chan struct{}
}

func newByteBudget(limit int64) *byteBudget { return &byteBudget{limit: limit} }

// fits reports whether n more bytes may be granted now (mu held).
func (b *byteBudget) fits(n int64) bool {
	return b.limit <= 0 || b.used == 0 || b.used+n <= b.limit
}

// acquire reserves n bytes, waiting until they fit or ctx is done (then it
// reserves nothing and returns ctx's error).
func (b *byteBudget) acquire(ctx context.Context, n int64) error {
	b.mu.Lock()
	if len(b.waiters) == 0 && b.fits(n) {
		b.used += n
		b.mu.Unlock()
		return nil
	}
	w := &budgetWaiter{n: n, ready: make(chan struct{})}
	b.waiters = append(b.waiters, w)
	b.mu.Unlock()

	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
		b.mu.Lock()
		defer b.mu.Unlock()
		select {
		case <-w.ready: // granted meanwhile: give it back
			b.used -= n
		default:
			for i, x := range b.waiters {
				if x == w {
					b.waiters = append(b.waiters[:i], b.waiters[i+1:]...)
					break
				}
			}
		}
		b.grant()
		return ctx.Err()
	}
}

// release returns n bytes reserved by acquire.
func (b *byteBudget) release(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.used -= n
	b.grant()
}

// grant wakes waiters from the head while they fit (mu held).
func (b *byteBudget) grant() {
	for len(b.waiters) > 0 && b.fits(b.waiters[0].n) {
		w := b.waiters[0]
		b.waiters = b.waiters[1:]
		b.used += w.n
		close(w.ready)
	}
}

// inUse returns the bytes reserved now.
func (b *byteBudget) inUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}
