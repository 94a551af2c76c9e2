// Package testclock is a manually advanced clock for the engine's tests:
// code under test takes its Now as its clock, and the test moves time with
// Advance instead of sleeping.
package testclock

import (
	"sync"
	"time"
)

// Clock is a clock that only moves when Advance is called. It is safe for
// concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// New returns a clock standing at a fixed instant (2023-11-14, Unix ms
// 1,700,000,000,000), so tests are reproducible.
func New() *Clock { return &Clock{t: time.UnixMilli(1_700_000_000_000)} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
