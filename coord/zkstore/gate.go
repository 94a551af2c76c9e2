package zkstore

import (
	"encoding/binary"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// The client library (go-zookeeper/zk v1.0.4) has a data race on
// Conn.lastZxid, reported upstream (go-zookeeper/zk#35, samuel/go-zookeeper
// #178, #260) and not fixed: after a reconnect, sendSetWatches reads it
// (loop goroutine) to re-send the watches while the new connection's
// recvLoop may already write it for the answer to a queued request. On
// amd64 the word is read whole, so the harm is nil, but the race detector
// reports it and fails tests that reconnect while requests are in flight.
//
// gate orders the two accesses without touching the library: the store
// dials through it, and on a connection made while the client holds
// watches (so sendSetWatches will read lastZxid and then write a SetWatches
// request), reading answers after the connect handshake waits until that
// SetWatches request has been written. The write follows the read in the
// loop goroutine (a go statement, a channel send to the send loop), so the
// read happens before any answer is processed. If no SetWatches comes (the
// client held no watch after all) the wait ends after a bounded delay; a
// connection close ends it at once.

// opSetWatches is ZooKeeper's SetWatches request opcode.
const opSetWatches = 101

type gate struct {
	// watching is true while the client may hold watches: set when the
	// store arms one, cleared when the client drops them all (session
	// expired or closed).
	watching atomic.Bool
	wait     time.Duration // longest wait for a SetWatches that may not come
}

// dial is the client's Dialer.
func (g *gate) dial(network, address string, timeout time.Duration) (net.Conn, error) {
	c, err := net.DialTimeout(network, address, timeout)
	if err != nil || !g.watching.Load() {
		return c, err
	}
	return &gatedConn{Conn: c, wait: g.wait, open: make(chan struct{})}, nil
}

// gatedConn holds back reads after the connect handshake until a
// SetWatches request was written.
type gatedConn struct {
	net.Conn
	wait time.Duration

	open     chan struct{} // closed by the SetWatches write or Close
	openOnce sync.Once

	// Read by the loop goroutine during the handshake, then by recvLoop
	// only (a go statement orders them).
	hdr       [4]byte
	hdrN      int
	remaining int
	handshook bool
	opened    bool
}

func (c *gatedConn) release() { c.openOnce.Do(func() { close(c.open) }) }

// Read passes the connect response through, then waits for the gate once.
func (c *gatedConn) Read(p []byte) (int, error) {
	if !c.handshook {
		n, err := c.Conn.Read(p)
		c.consumeHandshake(p[:n])
		return n, err
	}
	if !c.opened {
		t := time.NewTimer(c.wait)
		select {
		case <-c.open:
		case <-t.C:
		}
		t.Stop()
		c.opened = true
	}
	return c.Conn.Read(p)
}

// consumeHandshake counts the bytes of the connect response: a 4-byte
// length, then that many bytes.
func (c *gatedConn) consumeHandshake(b []byte) {
	for len(b) > 0 && !c.handshook {
		if c.hdrN < len(c.hdr) {
			k := copy(c.hdr[c.hdrN:], b)
			c.hdrN += k
			b = b[k:]
			if c.hdrN == len(c.hdr) {
				c.remaining = int(binary.BigEndian.Uint32(c.hdr[:]))
				c.handshook = c.remaining == 0
			}
			continue
		}
		k := min(len(b), c.remaining)
		c.remaining -= k
		b = b[k:]
		c.handshook = c.remaining == 0
	}
}

// Write opens the gate when it writes a SetWatches request (the client
// writes one packet per call: length, xid, opcode, body).
func (c *gatedConn) Write(p []byte) (int, error) {
	if len(p) >= 12 && binary.BigEndian.Uint32(p[8:12]) == opSetWatches {
		c.release()
	}
	return c.Conn.Write(p)
}

// Close also opens the gate, so a waiting reader sees the close at once.
func (c *gatedConn) Close() error {
	c.release()
	return c.Conn.Close()
}
