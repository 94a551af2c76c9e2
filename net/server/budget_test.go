package server

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// granted reports whether acquire's result arrived on done.
func granted(done <-chan error) bool {
	select {
	case err := <-done:
		return err == nil
	default:
		return false
	}
}

// acquireAsync runs acquire in a goroutine and returns its result channel.
func acquireAsync(ctx context.Context, b *byteBudget, n int64) <-chan error {
	done := make(chan error, 1)
	go func() { done <- b.acquire(ctx, n) }()
	return done
}

func TestByteBudget(t *testing.T) {
	ctx := context.Background()

	t.Run("grants while it fits, waits first come first served", func(t *testing.T) {
		b := newByteBudget(100)
		require.NoError(t, b.acquire(ctx, 60))
		big := acquireAsync(ctx, b, 50) // does not fit: waits
		waitFor(t, "big waits", func() bool { b.mu.Lock(); defer b.mu.Unlock(); return len(b.waiters) == 1 })
		small := acquireAsync(ctx, b, 10) // would fit, but big is first
		waitFor(t, "small waits", func() bool { b.mu.Lock(); defer b.mu.Unlock(); return len(b.waiters) == 2 })
		assert.False(t, granted(big))
		assert.False(t, granted(small))
		b.release(60)
		require.NoError(t, <-big)
		require.NoError(t, <-small)
		assert.Equal(t, int64(60), b.inUse())
	})

	t.Run("a reservation larger than the budget runs alone", func(t *testing.T) {
		b := newByteBudget(100)
		require.NoError(t, b.acquire(ctx, 1))
		huge := acquireAsync(ctx, b, 500)
		waitFor(t, "huge waits", func() bool { b.mu.Lock(); defer b.mu.Unlock(); return len(b.waiters) == 1 })
		b.release(1)
		require.NoError(t, <-huge)
		assert.Equal(t, int64(500), b.inUse())
		next := acquireAsync(ctx, b, 1)
		waitFor(t, "next waits", func() bool { b.mu.Lock(); defer b.mu.Unlock(); return len(b.waiters) == 1 })
		b.release(500)
		require.NoError(t, <-next)
	})

	t.Run("a cancelled wait reserves nothing and lets the next one in", func(t *testing.T) {
		b := newByteBudget(100)
		require.NoError(t, b.acquire(ctx, 90))
		cctx, cancel := context.WithCancel(ctx)
		big := acquireAsync(cctx, b, 50)
		waitFor(t, "big waits", func() bool { b.mu.Lock(); defer b.mu.Unlock(); return len(b.waiters) == 1 })
		small := acquireAsync(ctx, b, 10)
		waitFor(t, "small waits", func() bool { b.mu.Lock(); defer b.mu.Unlock(); return len(b.waiters) == 2 })
		cancel()
		require.ErrorIs(t, <-big, context.Canceled)
		require.NoError(t, <-small) // 90+10 fits once big is gone
		assert.Equal(t, int64(100), b.inUse())
	})

	t.Run("unbounded", func(t *testing.T) {
		b := newByteBudget(-1)
		require.NoError(t, b.acquire(ctx, 1<<40))
		require.NoError(t, b.acquire(ctx, 1<<40))
		b.release(2 << 40)
		assert.Zero(t, b.inUse())
	})
}

// paddedMetadata is a Metadata v1 request whose frame is about size bytes.
func paddedMetadata(size int) *kmsg.MetadataRequest {
	r := metadata(1)
	name := strings.Repeat("t", size)
	r.Topics = []kmsg.MetadataRequestTopic{{Topic: &name}}
	return r
}

// TestQueuedMaxRequestBytes: with a budget of two and a half frames, five
// connections each sending one frame get at most two requests read and held
// at a time; the others are read as handled ones give their bytes back, and
// every request is answered.
func TestQueuedMaxRequestBytes(t *testing.T) {
	for _, tc := range []struct {
		name     string
		budget   func(frame int64) int64
		wantHeld int
	}{
		{"two fit", func(f int64) int64 { return 2*f + f/2 }, 2},
		{"frame larger than the budget runs alone", func(f int64) int64 { return f / 2 }, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const conns = 5
			req := paddedMetadata(1000)
			frameSize := int64(len(frame(req, 1)) - 4)
			gate := make(chan struct{})
			var held, maxHeld atomic.Int32
			var mu sync.Mutex
			h := funcHandler{fn: func(ctx context.Context, r *Request) (Response, error) {
				n := held.Add(1)
				mu.Lock()
				maxHeld.Store(max(maxHeld.Load(), n))
				mu.Unlock()
				<-gate
				held.Add(-1)
				return echoMetadata(r), nil
			}}
			s, addr := start(t, Config{QueuedMaxRequestBytes: tc.budget(frameSize)}, h)
			clients := make([]*rawConn, conns)
			for i := range clients {
				clients[i] = dial(t, addr)
				clients[i].send(req, int32(i))
			}
			waitFor(t, "the budget is full", func() bool {
				return held.Load() == int32(tc.wantHeld) &&
					s.Stats().QueuedRequestBytes == int64(tc.wantHeld)*frameSize
			})
			for range conns {
				gate <- struct{}{}
			}
			for i, c := range clients {
				corr, resp := c.recv(3, 1)
				assert.Equal(t, int32(i), corr)
				assert.Equal(t, int32(i), resp.(*kmsg.MetadataResponse).Brokers[0].NodeID)
			}
			assert.Equal(t, int32(tc.wantHeld), maxHeld.Load(), "most requests held at once")
			waitFor(t, "all bytes given back", func() bool { return s.Stats().QueuedRequestBytes == 0 })
		})
	}
}

// TestBudgetReturnsWhenParkedReaderEnds (#12 item 9): with
// queued.max.request.bytes set and one request in flight per connection,
// each connection's reader parks on its full queue holding a frame's
// reservation; the connections then end while the readers are parked
// (the client resets the connection, or the handler closes it). Every
// reservation is given back: the budget returns to full, and a request
// needing all of it is served.
func TestBudgetReturnsWhenParkedReaderEnds(t *testing.T) {
	for _, how := range []string{"client resets", "handler closes"} {
		t.Run(how, func(t *testing.T) {
			const conns, pipelined = 4, 6
			req := paddedMetadata(1000)
			frameSize := int64(len(frame(req, 1)) - 4)
			budget := int64(conns*pipelined) * frameSize
			gate := make(chan struct{})
			var started atomic.Int32
			var dropped atomic.Bool
			h := funcHandler{fn: func(ctx context.Context, r *Request) (Response, error) {
				if dropped.Load() {
					return echoMetadata(r), nil
				}
				started.Add(1)
				select {
				case <-gate:
				case <-ctx.Done():
				}
				if how == "handler closes" {
					return nil, fmt.Errorf("test: %w", ErrCloseConnection)
				}
				return echoMetadata(r), nil
			}}
			s, addr := start(t, Config{QueuedMaxRequestBytes: budget, MaxInFlightPerConn: 1}, h)
			clients := make([]*rawConn, conns)
			for i := range clients {
				clients[i] = dial(t, addr)
				for j := range pipelined {
					clients[i].send(req, int32(j))
				}
			}
			// One request handled and one queued per connection, and the
			// reader parked with a third read: three frames each.
			waitFor(t, "every reader parked on its full queue", func() bool {
				return started.Load() == conns && s.Stats().Requests == 3*conns &&
					s.Stats().QueuedRequestBytes == 3*conns*frameSize
			})
			if how == "client resets" {
				for _, c := range clients {
					require.NoError(t, c.Conn.(*net.TCPConn).SetLinger(0))
					require.NoError(t, c.Close())
				}
			}
			close(gate)
			waitFor(t, "every connection closed", func() bool { return s.Stats().ConnectionsOpen == 0 })
			waitFor(t, "the budget back to full", func() bool { return s.Stats().QueuedRequestBytes == 0 })
			dropped.Store(true)

			// The whole budget is available: one connection pipelines a
			// budget's worth of requests and gets every answer.
			c := dial(t, addr)
			n := int(budget / frameSize)
			for j := range n {
				c.send(req, int32(j))
			}
			for j := range n {
				corr, _ := c.recv(3, 1)
				assert.Equal(t, int32(j), corr)
			}
		})
	}
}
