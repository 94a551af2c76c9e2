package zktest

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
)

// Proxy forwards TCP connections from a loopback port to one or more
// targets (a client's view of the ensemble) and can cut them: Cut closes
// every forwarded connection and refuses new ones until Restore. A client
// connected through a Proxy is thus cut off from ZooKeeper while the
// servers run on, which lets a test expire that client's session.
//
// Connections are spread over the targets round-robin.
type Proxy struct {
	ln      net.Listener
	targets []string

	mu    sync.Mutex
	next  int
	cut   bool
	conns map[net.Conn]struct{} // both ends of every live forwarding
	done  bool
	wg    sync.WaitGroup
}

// NewProxy listens on a free loopback port and forwards to targets.
func NewProxy(targets ...string) (*Proxy, error) {
	if len(targets) == 0 {
		return nil, errors.New("zktest: proxy needs a target")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("zktest: proxy: %w", err)
	}
	p := &Proxy{ln: ln, targets: targets, conns: make(map[net.Conn]struct{})}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr returns the proxy's address, 127.0.0.1:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Cut closes every forwarded connection and refuses new ones (they are
// accepted and closed at once) until Restore.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for c := range p.conns {
		_ = c.Close()
	}
}

// Restore lets connections through again.
func (p *Proxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = false
}

// Close stops the proxy and closes every connection. Idempotent.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.done {
		p.mu.Unlock()
		return nil
	}
	p.done = true
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	err := p.ln.Close()
	p.wg.Wait()
	return err
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		p.mu.Lock()
		if p.cut || p.done {
			p.mu.Unlock()
			_ = c.Close()
			continue
		}
		target := p.targets[p.next%len(p.targets)]
		p.next++
		p.mu.Unlock()
		p.wg.Add(1)
		go p.forward(c, target)
	}
}

// forward copies bytes both ways between c and target until either side
// closes or the proxy cuts them.
func (p *Proxy) forward(c net.Conn, target string) {
	defer p.wg.Done()
	t, err := net.Dial("tcp", target)
	if err != nil {
		_ = c.Close()
		return
	}
	p.mu.Lock()
	if p.cut || p.done {
		p.mu.Unlock()
		_ = c.Close()
		_ = t.Close()
		return
	}
	p.conns[c], p.conns[t] = struct{}{}, struct{}{}
	p.mu.Unlock()

	var wg sync.WaitGroup
	pipe := func(dst, src net.Conn) {
		defer wg.Done()
		_, _ = io.Copy(dst, src)
		_ = dst.Close()
		_ = src.Close()
	}
	wg.Add(2)
	go pipe(t, c)
	go pipe(c, t)
	wg.Wait()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, t)
	p.mu.Unlock()
}
