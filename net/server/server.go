// Package server is Strom's Kafka connection server: it accepts
// connections, reads size-prefixed request frames, decodes them with kmsg,
// hands them to a Handler, and writes the responses back in request order.
//
// Per connection there are three goroutines: a reader, a handler and a
// writer. The reader decodes requests and queues them; the handler goroutine
// runs the Handler on them one at a time, in request order; the writer
// writes the responses in request order. A client may pipeline (the reader
// reads ahead, up to Config.MaxInFlightPerConn requests), but the requests
// of one connection are handled strictly one after another, as Kafka does:
// two pipelined Produce requests for one partition are appended in the
// order they were sent. A slow handler (long-poll Fetch, acks=all Produce)
// therefore delays the requests behind it on its connection only; clients
// use separate connections for fetching and producing.
//
// Memory: before reading a frame, the reader reserves its size from one
// budget shared by all connections (Config.QueuedMaxRequestBytes); the
// handler goroutine gives it back once the request is handled. A reader
// that does not fit waits, so all clients together hold at most that many
// request bytes (plus decoded structs, a small multiple; see
// DecodeRequest).
//
// Errors are confined to their connection: a malformed frame or body, an
// unknown API key, a version outside the handler's table, a handler error or
// panic closes that connection only (after writing the responses of earlier
// requests), and is logged (debug for client mistakes, error for handler
// failures). The server answers ApiVersions itself from the handler's table.
//
// Shutdown stops accepting, stops reading new requests, lets the requests
// already read finish and their responses be written, then closes the
// connections, like net/http's Shutdown.
//
// Lock order: Server.mu only; conn state is owned by its two goroutines and
// atomics.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strom-broker/strom/net/apis"
	"github.com/strom-broker/strom/net/fetchwire"
	"github.com/strom-broker/strom/net/wire"
)

// Server serves the Kafka protocol on any number of listeners.
type Server struct {
	cfg   Config
	h     Handler
	table apis.Table
	log   *slog.Logger

	baseCtx    context.Context // cancelled by Close
	baseCancel context.CancelFunc

	shutting atomic.Bool // set once by Shutdown or Close; never cleared
	nextID   atomic.Uint64
	conns    sync.WaitGroup // one per registered conn

	mu struct {
		sync.Mutex
		listeners map[net.Listener]struct{}
		conns     map[*conn]struct{}
	}

	stats struct {
		accepted, rejected, open, requests atomic.Int64
	}
	fw     fetchwire.Counters
	budget *byteBudget    // queued.max.request.bytes
	frames wire.FramePool // Produce frames, recycled after their handler
}

// Stats is a snapshot of server counters.
type Stats struct {
	// ConnectionsAccepted counts connections served; ConnectionsRejected
	// those closed at once for MaxConnections; ConnectionsOpen is current.
	ConnectionsAccepted, ConnectionsRejected, ConnectionsOpen int64
	// Requests counts decoded requests (ApiVersions included).
	Requests int64
	// QueuedRequestBytes is the part of Config.QueuedMaxRequestBytes held
	// now by requests read and not yet handled.
	QueuedRequestBytes int64
	// SendfileBytes counts Fetch record bytes sent with sendfile;
	// CopiedBytes those copied through user space (non-TCP connections).
	SendfileBytes, CopiedBytes int64
}

// New validates cfg (after WithDefaults) and the handler's API table.
// ApiVersions 0-4 is added to the table if the handler does not list it.
func New(cfg Config, h Handler) (*Server, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("server config: %w", err)
	}
	ranges := h.APIVersions()
	has := false
	for _, r := range ranges {
		has = has || r.Key == apis.ApiVersions
	}
	if !has {
		ranges = append(ranges, apis.Range{Key: apis.ApiVersions, Min: 0, Max: 4})
	}
	table, err := apis.NewTable(ranges)
	if err != nil {
		return nil, fmt.Errorf("server handler table: %w", err)
	}
	s := &Server{cfg: cfg, h: h, table: table, log: cfg.Logger, budget: newByteBudget(cfg.QueuedMaxRequestBytes)}
	s.baseCtx, s.baseCancel = context.WithCancel(context.Background())
	s.mu.listeners = make(map[net.Listener]struct{})
	s.mu.conns = make(map[*conn]struct{})
	return s, nil
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	return Stats{
		ConnectionsAccepted: s.stats.accepted.Load(),
		ConnectionsRejected: s.stats.rejected.Load(),
		ConnectionsOpen:     s.stats.open.Load(),
		Requests:            s.stats.requests.Load(),
		QueuedRequestBytes:  s.budget.inUse(),
		SendfileBytes:       s.fw.Sendfile.Load(),
		CopiedBytes:         s.fw.Copied.Load(),
	}
}

// Table returns the API table the server enforces and advertises.
func (s *Server) Table() apis.Table { return s.table }

// Serve is ServeNamed("PLAINTEXT", ln).
func (s *Server) Serve(ln net.Listener) error { return s.ServeNamed("PLAINTEXT", ln) }

// ServeNamed accepts connections on ln until Shutdown or Close, and then
// returns ErrServerClosed; name is the listener name reported in ConnInfo.
// ln is closed when ServeNamed returns.
func (s *Server) ServeNamed(name string, ln net.Listener) error {
	s.mu.Lock()
	if s.shutting.Load() {
		s.mu.Unlock()
		_ = ln.Close()
		return ErrServerClosed
	}
	s.mu.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.mu.listeners, ln)
		s.mu.Unlock()
		_ = ln.Close()
	}()

	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.shutting.Load() {
				return ErrServerClosed
			}
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			// Transient (e.g. EMFILE): back off and retry, like net/http.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.log.Warn("accept failed; retrying", "listener", name, "err", err, "backoff", backoff)
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-s.baseCtx.Done():
				t.Stop()
				return ErrServerClosed
			}
			continue
		}
		backoff = 0
		s.accept(name, nc)
	}
}

// accept registers nc and starts its goroutines, or closes it when the
// server is shutting down or at MaxConnections.
func (s *Server) accept(listener string, nc net.Conn) {
	s.mu.Lock()
	if s.shutting.Load() {
		s.mu.Unlock()
		_ = nc.Close()
		return
	}
	if s.cfg.MaxConnections > 0 && len(s.mu.conns) >= s.cfg.MaxConnections {
		s.mu.Unlock()
		s.stats.rejected.Add(1)
		s.log.Debug("connection refused: max.connections reached", "remote", nc.RemoteAddr(), "max", s.cfg.MaxConnections)
		_ = nc.Close()
		return
	}
	s.setBuffers(nc)
	c := newConn(s, nc, ConnInfo{
		ID:       s.nextID.Add(1),
		Listener: listener,
		Remote:   nc.RemoteAddr(),
		Local:    nc.LocalAddr(),
	})
	s.mu.conns[c] = struct{}{}
	s.conns.Add(1)
	s.mu.Unlock()
	s.stats.accepted.Add(1)
	s.stats.open.Add(1)
	go c.serve()
}

// forget removes a finished connection.
func (s *Server) forget(c *conn) {
	s.mu.Lock()
	delete(s.mu.conns, c)
	s.mu.Unlock()
	s.stats.open.Add(-1)
	s.conns.Done()
}

// beginShutdown marks the server closed and closes its listeners; it
// returns the connections open at that moment.
func (s *Server) beginShutdown() []*conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.shutting.Store(true)
	for ln := range s.mu.listeners {
		_ = ln.Close()
	}
	cs := make([]*conn, 0, len(s.mu.conns))
	for c := range s.mu.conns {
		cs = append(cs, c)
	}
	return cs
}

// Shutdown stops accepting connections and reading requests, waits until
// every request already read has been answered and every connection closed,
// and returns nil. If ctx ends first it closes everything (as Close) and
// returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	for _, c := range s.beginShutdown() {
		c.stopReading()
	}
	done := make(chan struct{})
	go func() {
		s.conns.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.Close()
		<-done
		return ctx.Err()
	}
}

// Close closes the listeners and every connection at once, cancelling
// in-flight handlers' contexts. It does not wait for handlers to return.
func (s *Server) Close() {
	cs := s.beginShutdown()
	s.baseCancel()
	for _, c := range cs {
		c.close()
	}
}

// setBuffers applies SendBufferBytes and ReceiveBufferBytes to nc if it is
// a TCP connection; a failure is logged and the connection kept.
func (s *Server) setBuffers(nc net.Conn) {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return
	}
	if n := s.cfg.SendBufferBytes; n > 0 {
		if err := tc.SetWriteBuffer(n); err != nil {
			s.log.Warn("cannot set socket.send.buffer.bytes", "remote", nc.RemoteAddr(), "bytes", n, "err", err)
		}
	}
	if n := s.cfg.ReceiveBufferBytes; n > 0 {
		if err := tc.SetReadBuffer(n); err != nil {
			s.log.Warn("cannot set socket.receive.buffer.bytes", "remote", nc.RemoteAddr(), "bytes", n, "err", err)
		}
	}
}
