// Package netproxy is a TCP proxy for cutting the link between Kafka
// clients and one broker. The broker advertises the proxy's address
// (advertised.listeners), so every client connection to that broker,
// bootstrap or not, goes through it; the fault bed then partitions clients
// from the broker in two ways:
//
//   - loud (Reset): every forwarded connection is reset (RST on both
//     sides) and every new one is reset as soon as it is accepted, until
//     Heal: clients see errors at once and fail over or retry;
//   - silent (Silence): bytes stop flowing in the chosen directions while
//     both connections stay open, as when packets are dropped: requests
//     (client to broker) or responses (broker to client) or both hang until
//     Heal, when the bytes held are delivered, as TCP retransmission would.
//     Connections opened during a silence are accepted and then hang too.
//
// Bytes are never dropped from the middle of a stream (that would corrupt
// Kafka's framing, which no real network does to a TCP connection).
//
// A proxy made with NewIdentifying also names the peer of every connection
// (from the client id of its first Kafka request: PeerOfClientID), and
// ResetFrom / SilenceFrom cut only the connections of one peer: the fault
// bed puts one such proxy in front of each broker's inter-broker listener
// to cut the link between two brokers.
//
// Invariant (under mu): a pipe writes a chunk only when its direction is
// held neither for every peer nor for its link's peer, and its link is not
// closed; Reset and Close close every link, ResetFrom every link of the peer.
package netproxy

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"
)

// Direction is one direction of a proxied connection.
type Direction int

// The two directions.
const (
	ToServer Direction = iota // client to broker: requests
	ToClient                  // broker to client: responses
)

// Proxy forwards every connection it accepts to one target.
type Proxy struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup

	// identify names a connection's peer from its first bytes (nil: every
	// peer is "").
	identify func(*bufio.Reader) string

	mu     sync.Mutex
	cond   *sync.Cond // signalled on every change of reset, hold, from, links or closed
	reset  bool       // loud partition: reset every connection
	hold   [2]bool    // silent partition: per Direction, stop forwarding
	from   map[string]cut
	links  map[*link]struct{}
	closed bool
}

// cut is a partition of one peer's connections.
type cut struct {
	reset bool
	hold  [2]bool
}

// link is one proxied connection: client side and server side.
type link struct {
	client, server net.Conn
	peer           string
	closed         bool // under Proxy.mu
}

// New listens on a free loopback port and forwards to target.
func New(target string) (*Proxy, error) { return listen(target, nil) }

func listen(target string, identify func(*bufio.Reader) string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("netproxy: %w", err)
	}
	p := &Proxy{ln: ln, target: target, identify: identify, links: map[*link]struct{}{}, from: map[string]cut{}}
	p.cond = sync.NewCond(&p.mu)
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// NewIdentifying is New for a proxy that names the peer of every
// connection with PeerOfClientID, for ResetFrom and SilenceFrom.
func NewIdentifying(target string) (*Proxy, error) { return listen(target, PeerOfClientID) }

// identifyWait bounds how long a new connection may take to send its first
// request before it is forwarded as an unnamed peer.
const identifyWait = 10 * time.Second

// PeerOfClientID names a Kafka connection's peer from the client id in its
// first request's header (request header v1+: size, api key, api version,
// correlation id, then the client id as an int16-length string): the
// client id with a trailing "-<digits>" yields "broker <digits>" (Strom's
// inter-broker clients are strom-replica-fetcher-N, strom-controller-N and
// strom-alter-partition-N, N the sending broker's id); anything else is "".
// Nothing is consumed from r.
func PeerOfClientID(r *bufio.Reader) string {
	head, err := r.Peek(14)
	if err != nil {
		return ""
	}
	n := int(int16(binary.BigEndian.Uint16(head[12:14])))
	if n <= 0 || n > 256 {
		return ""
	}
	full, err := r.Peek(14 + n)
	if err != nil {
		return ""
	}
	id := string(full[14:])
	i := strings.LastIndexByte(id, '-')
	if i < 0 || !strings.HasPrefix(id, "strom-") || i == len(id)-1 {
		return ""
	}
	for _, c := range id[i+1:] {
		if c < '0' || c > '9' {
			return ""
		}
	}
	return "broker " + id[i+1:]
}

// Addr is the proxy's address, 127.0.0.1:port (what the broker advertises).
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Port is the proxy's port.
func (p *Proxy) Port() int { return p.ln.Addr().(*net.TCPAddr).Port }

// Reset starts a loud partition: every open connection is reset now and
// every new one when accepted, until Heal.
func (p *Proxy) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reset = true
	for l := range p.links {
		p.closeLocked(l, true)
	}
	p.cond.Broadcast()
}

// Silence starts a silent partition in the given directions (one way or
// both): bytes stop flowing, connections stay open, until Heal.
func (p *Proxy) Silence(dirs ...Direction) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, d := range dirs {
		p.hold[d] = true
	}
	p.cond.Broadcast()
}

// ResetFrom starts a loud partition of one peer (as named by the proxy's
// identify function): its open connections are reset now and its new ones
// once named, until Heal.
func (p *Proxy) ResetFrom(peer string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.from[peer]
	c.reset = true
	p.from[peer] = c
	for l := range p.links {
		if l.peer == peer {
			p.closeLocked(l, true)
		}
	}
	p.cond.Broadcast()
}

// SilenceFrom starts a silent partition of one peer's connections in the
// given directions, until Heal.
func (p *Proxy) SilenceFrom(peer string, dirs ...Direction) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.from[peer]
	for _, d := range dirs {
		c.hold[d] = true
	}
	p.from[peer] = c
	p.cond.Broadcast()
}

// Heal ends any partition, of every peer and of single peers: new
// connections are forwarded and held bytes flow again.
func (p *Proxy) Heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reset = false
	p.hold = [2]bool{}
	clear(p.from)
	p.cond.Broadcast()
}

// Links is the number of connections being forwarded.
func (p *Proxy) Links() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.links)
}

// Close stops the proxy and closes every connection. Idempotent.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	for l := range p.links {
		p.closeLocked(l, false)
	}
	p.cond.Broadcast()
	p.mu.Unlock()
	err := p.ln.Close()
	p.wg.Wait()
	return err
}

// closeLocked closes both sides of l, with an RST if rst.
// REQUIRES: p.mu is held.
func (p *Proxy) closeLocked(l *link, rst bool) {
	if l.closed {
		return
	}
	l.closed = true
	for _, c := range []net.Conn{l.client, l.server} {
		if rst {
			resetConn(c)
		}
		_ = c.Close()
	}
	delete(p.links, l)
}

// resetConn makes Close send an RST instead of a FIN.
func resetConn(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		p.mu.Lock()
		if p.reset || p.closed {
			p.mu.Unlock()
			resetConn(c)
			_ = c.Close()
			continue
		}
		p.mu.Unlock()
		p.wg.Add(1)
		go p.forward(c)
	}
}

func (p *Proxy) forward(c net.Conn) {
	defer p.wg.Done()
	fromClient := bufio.NewReader(c)
	peer := ""
	if p.identify != nil {
		_ = c.SetReadDeadline(time.Now().Add(identifyWait))
		peer = p.identify(fromClient)
		_ = c.SetReadDeadline(time.Time{})
	}
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		resetConn(c) // the broker is down: the client sees a refused-like reset
		_ = c.Close()
		return
	}
	l := &link{client: c, server: s, peer: peer}
	p.mu.Lock()
	if p.reset || p.from[peer].reset || p.closed {
		p.closeLocked(l, true)
		p.mu.Unlock()
		return
	}
	p.links[l] = struct{}{}
	p.mu.Unlock()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); p.pipe(l, s, fromClient, ToServer) }()
	go func() { defer wg.Done(); p.pipe(l, c, s, ToClient) }()
	wg.Wait()
}

// pipe copies src to dst chunk by chunk, waiting while d is held; when
// either side ends, the link is closed (FIN, not RST: the peer closed).
func (p *Proxy) pipe(l *link, dst net.Conn, src io.Reader, d Direction) {
	buf := make([]byte, 32*1024)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.waitOpen(l, d) {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				err = werr
			}
		}
		if err != nil {
			p.mu.Lock()
			p.closeLocked(l, false)
			p.cond.Broadcast()
			p.mu.Unlock()
			return
		}
	}
}

// waitOpen blocks while direction d is held; false if l was closed meanwhile.
func (p *Proxy) waitOpen(l *link, d Direction) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for (p.hold[d] || p.from[l.peer].hold[d]) && !l.closed {
		p.cond.Wait()
	}
	return !l.closed
}
