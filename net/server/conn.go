package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime/debug"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/net/apis"
	"github.com/strom-broker/strom/net/fetchwire"
	"github.com/strom-broker/strom/net/kerr"
	"github.com/strom-broker/strom/net/wire"
)

// errIdle ends a connection idle for ConnectionsMaxIdle; errStopped one
// interrupted by Shutdown.
var (
	errIdle    = errors.New("idle for connections.max.idle.ms")
	errStopped = errors.New("server shutting down")
)

// conn is one client connection.
//
// Invariants: only the reader goroutine sends on queue and closes it; only
// the writer goroutine writes to nc; inflight counts requests queued or being
// written (read by the idle check).
type conn struct {
	s    *Server
	nc   net.Conn
	info ConnInfo

	ctx    context.Context // cancelled when the connection ends
	cancel context.CancelFunc

	queue    chan *pending // to the writer, in request order
	work     chan work     // to the handler goroutine, in request order
	inflight atomic.Int32
	stopping atomic.Bool // set by stopReading
}

// pending is one request on its way: done is closed when resp/err are set.
type pending struct {
	key, version int16
	respVersion  int16 // version to encode the response at
	corr         int32
	done         chan struct{}
	resp         Response
	err          error
}

// work is one request for the handler goroutine; charge is what its frame
// reserved from the server's byte budget, given back once it is handled.
type work struct {
	p      *pending
	req    *Request
	charge int64
}

func newConn(s *Server, nc net.Conn, info ConnInfo) *conn {
	c := &conn{s: s, nc: nc, info: info, queue: make(chan *pending, s.cfg.MaxInFlightPerConn),
		work: make(chan work, s.cfg.MaxInFlightPerConn)}
	c.ctx, c.cancel = context.WithCancel(s.baseCtx)
	return c
}

// serve runs the reader and the handler goroutine, and the writer in this
// goroutine, and cleans up when all are done.
func (c *conn) serve() {
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		c.read()
	}()
	handlerDone := make(chan struct{})
	go func() {
		defer close(handlerDone)
		for w := range c.work { // closed by the reader
			c.handle(w.p, w.req)
			c.s.budget.release(w.charge)
			if w.req.Key == apis.Produce {
				c.s.frames.Put(w.req.frame) // see Request.Body
			}
		}
	}()
	c.write()
	c.close()
	<-readerDone
	<-handlerDone
	c.s.forget(c)
}

// close ends the connection at once.
func (c *conn) close() {
	c.cancel()
	_ = c.nc.Close()
}

// stopReading makes the reader stop at its next read; requests already read
// are still answered. Safe to call from any goroutine.
func (c *conn) stopReading() {
	c.stopping.Store(true)
	_ = c.nc.SetReadDeadline(time.Unix(1, 0))
}

// Read implements io.Reader for the frame reader: it applies the idle
// deadline and tells idleness (no request in flight) from a slow client.
func (c *conn) Read(p []byte) (int, error) {
	idle := c.s.cfg.ConnectionsMaxIdle
	for {
		if idle > 0 {
			_ = c.nc.SetReadDeadline(time.Now().Add(idle))
		}
		// Checked after setting the deadline: stopReading sets the flag
		// before its own deadline, so one of the two is always seen.
		if c.stopping.Load() {
			return 0, errStopped
		}
		n, err := c.nc.Read(p)
		if n == 0 && err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
			if c.stopping.Load() {
				return 0, errStopped
			}
			if c.inflight.Load() > 0 {
				continue // waiting on our own slow handlers, not idle
			}
			return 0, errIdle
		}
		return n, err
	}
}

// read is the reader goroutine: frames in, requests queued for the writer
// and the handler goroutine.
func (c *conn) read() {
	defer close(c.queue)
	defer close(c.work)
	for {
		p, req, charge, err := c.readRequest()
		if err != nil {
			c.logReadEnd(err)
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET) {
				// The client is gone: nothing can be delivered, so end
				// long polls and other waits of this connection now.
				c.cancel()
			}
			return
		}
		c.inflight.Add(1)
		select {
		case c.queue <- p:
		case <-c.ctx.Done():
			// The connection ended while this reader was parked on a
			// full queue: the request will never be handled, so give
			// its reservation (and a Produce frame) back here.
			c.s.budget.release(charge)
			if req != nil && req.Key == apis.Produce {
				c.s.frames.Put(req.frame)
			}
			return
		}
		if req != nil {
			c.work <- work{p, req, charge} // the handler goroutine always drains work
		} else {
			c.s.budget.release(charge)
		}
	}
}

func (c *conn) logReadEnd(err error) {
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, errStopped), errors.Is(err, net.ErrClosed):
	case errors.Is(err, errIdle):
		c.s.log.Debug("closing idle connection", "conn", c.info.ID, "remote", c.info.Remote)
	default:
		c.s.log.Debug("closing connection after bad request", "conn", c.info.ID, "remote", c.info.Remote, "err", err)
	}
}

// readRequest reads and decodes one request, reserving the frame's size
// from the server's byte budget before reading it; the caller releases
// charge once the request is handled (on error, nothing stays reserved).
// ApiVersions is answered here (p is returned done and req nil).
func (c *conn) readRequest() (p *pending, req *Request, charge int64, err error) {
	size, err := wire.ReadFrameSize(c, c.s.cfg.MaxRequestBytes)
	if err != nil {
		return nil, nil, 0, err
	}
	if err := c.s.budget.acquire(c.ctx, int64(size)); err != nil {
		return nil, nil, 0, err
	}
	p, req, err = c.readBody(size)
	if err != nil {
		c.s.budget.release(int64(size))
		return nil, nil, 0, err
	}
	return p, req, int64(size), nil
}

// readBody reads and decodes the frame of size bytes whose size prefix was
// just read.
func (c *conn) readBody(size int) (*pending, *Request, error) {
	frame, err := c.s.frames.ReadPayload(c, size)
	if err != nil {
		return nil, nil, err
	}
	req, err := DecodeRequest(frame, c.s.table)
	if req == nil {
		return nil, nil, err
	}
	c.s.stats.requests.Add(1)
	p := &pending{key: req.Key, version: req.Version, respVersion: req.Version, corr: req.CorrelationID, done: make(chan struct{})}
	if req.Key == apis.ApiVersions && (err == nil || errors.Is(err, kerr.UnsupportedVersion)) {
		resp := c.apiVersions(req.Version)
		p.resp, p.respVersion = resp, resp.Version
		close(p.done)
		return p, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	req.Conn, req.frame = c.info, frame
	return p, req, nil
}

// apiVersions answers ApiVersions from the table. An unsupported version
// gets a v0 response with UNSUPPORTED_VERSION and the full list, and its body
// is not parsed (what Kafka does).
func (c *conn) apiVersions(version int16) *kmsg.ApiVersionsResponse {
	resp := kmsg.NewPtrApiVersionsResponse()
	for _, r := range c.s.table.Ranges() {
		k := kmsg.NewApiVersionsResponseApiKey()
		k.ApiKey, k.MinVersion, k.MaxVersion = r.Key, r.Min, r.Max
		resp.ApiKeys = append(resp.ApiKeys, k)
	}
	if !c.s.table.Supports(apis.ApiVersions, version) {
		resp.Version = 0
		resp.ErrorCode = kerr.UnsupportedVersion.Code
		return resp
	}
	resp.Version = version
	return resp
}

// handle runs the handler for one request and completes p.
func (c *conn) handle(p *pending, req *Request) {
	defer close(p.done)
	defer func() {
		if r := recover(); r != nil {
			p.resp = nil
			p.err = fmt.Errorf("%w: %v", ErrHandlerPanic, r)
			c.s.log.Error("handler panicked", "conn", c.info.ID, "api", kmsg.NameForKey(req.Key),
				"version", req.Version, "panic", r, "stack", string(debug.Stack()))
		}
	}()
	p.resp, p.err = c.s.h.Handle(c.ctx, req)
}

// write is the writer goroutine: responses out in request order. Every
// response it does not write is released once its handler is done.
func (c *conn) write() {
	defer func() {
		go func() {
			for p := range c.queue { // closed by the reader once nc is closed
				<-p.done
				release(p.resp)
			}
		}()
	}()
	var buf []byte
	for p := range c.queue {
		select {
		case <-p.done:
		case <-c.ctx.Done():
			go func() {
				<-p.done
				release(p.resp)
			}()
			return
		}
		if p.err != nil {
			switch {
			case errors.Is(p.err, ErrCloseConnection):
				c.s.log.Info("closing connection as the handler asked", "conn", c.info.ID,
					"api", kmsg.NameForKey(p.key), "version", p.version, "reason", p.err)
			case !errors.Is(p.err, ErrHandlerPanic):
				c.s.log.Error("handler failed; closing connection", "conn", c.info.ID,
					"api", kmsg.NameForKey(p.key), "version", p.version, "err", p.err)
			}
			return
		}
		var err error
		buf, err = c.writeResponse(buf[:0], p)
		release(p.resp)
		c.inflight.Add(-1)
		if err != nil {
			switch {
			case isResponseBug(err):
				c.s.log.Error("bad response from handler; closing connection", "conn", c.info.ID,
					"api", kmsg.NameForKey(p.key), "version", p.version, "err", err)
			case c.ctx.Err() == nil:
				c.s.log.Debug("write failed; closing connection", "conn", c.info.ID, "err", err)
			}
			return
		}
	}
}

// writeResponse encodes and writes p's response (nothing if nil), reusing
// buf; it returns buf for reuse.
func (c *conn) writeResponse(buf []byte, p *pending) ([]byte, error) {
	switch r := p.resp.(type) {
	case nil:
		return buf, nil
	case *fetchwire.FetchResponse:
		if p.key != fetchwire.Key {
			return buf, fmt.Errorf("%w: Fetch response to key %d", ErrWrongResponse, p.key)
		}
		r.Version = p.respVersion
		enc, err := r.Encode(p.corr)
		if err != nil {
			return buf, err
		}
		_, err = enc.WriteTo(c.nc, &c.s.fw)
		return buf, err
	case kmsg.Response:
		if r.Key() != p.key {
			return buf, fmt.Errorf("%w: key %d to key %d", ErrWrongResponse, r.Key(), p.key)
		}
		r.SetVersion(p.respVersion)
		buf, at := wire.StartFrame(buf)
		buf = wire.AppendResponseHeader(buf, p.corr, wire.ResponseHeaderFlexible(p.key, p.respVersion))
		buf = r.AppendTo(buf)
		wire.FinishFrame(buf, at, 0)
		_, err := c.nc.Write(buf)
		return buf, err
	default:
		return buf, fmt.Errorf("%w: %T", ErrWrongResponse, p.resp)
	}
}

// isResponseBug tells a response the handler got wrong (or a file that
// shrank under a Fetch) from a network failure.
func isResponseBug(err error) bool {
	for _, e := range []error{ErrWrongResponse, fetchwire.ErrVersion, fetchwire.ErrBadSlice, fetchwire.ErrTooLarge, fetchwire.ErrShortFile} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// release lets a zero-copy response free what its slices pinned.
func release(r Response) {
	if fr, ok := r.(*fetchwire.FetchResponse); ok && fr != nil && fr.Release != nil {
		fr.Release()
		fr.Release = nil
	}
}
