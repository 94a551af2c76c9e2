// Package client is a small Kafka client for broker-to-broker calls
// (follower Fetch, OffsetForLeaderEpoch, ...): one connection, pipelined
// requests matched to responses by correlation id, versions negotiated from
// the peer's ApiVersions.
//
// Concurrency: a Client is safe for concurrent use. Requests are written in
// the order their calls take the write lock; each caller waits for its own
// response. If a call's ctx ends before its response arrives, or any read or
// write fails, the connection is closed and every waiting call fails: a
// half-read stream cannot be resynchronised.
package client

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/net/kerr"
	"github.com/strom-broker/strom/net/wire"
)

// ErrClosed is returned by calls on a closed client; the cause that closed
// it is joined to it.
var ErrClosed = errors.New("client: connection closed")

// apiVersionsMax is the newest ApiVersions version this client sends first.
const apiVersionsMax = 4

// apiVersionsKey is the ApiVersions API key.
const apiVersionsKey = 18

// Client is one connection to a broker.
type Client struct {
	nc       net.Conn
	clientID *string
	versions map[int16][2]int16 // peer's [min, max] per key; read-only after Dial

	mu struct {
		sync.Mutex
		nextCorr int32
		pending  map[int32]*call
		err      error // set once when closed
	}
	done chan struct{} // closed when the reader exits
}

// call is one request waiting for its response.
type call struct {
	key, version int16
	body         chan []byte // response body after the header; closed on failure
}

// Dial connects to addr, learns the broker's API versions and starts the
// response reader. ctx bounds the dial and the ApiVersions exchange.
func Dial(ctx context.Context, addr, clientID string) (*Client, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("client: dial %s: %w", addr, err)
	}
	c := &Client{nc: nc, clientID: &clientID, done: make(chan struct{})}
	c.mu.pending = make(map[int32]*call)
	go c.readLoop()
	if err := c.negotiate(ctx); err != nil {
		c.Close()
		return nil, fmt.Errorf("client: %s: %w", addr, err)
	}
	return c, nil
}

// negotiate asks for ApiVersions, retrying at the version the broker
// supports if it answers UNSUPPORTED_VERSION (with a v0 response).
func (c *Client) negotiate(ctx context.Context) error {
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = apiVersionsMax
	req.ClientSoftwareName, req.ClientSoftwareVersion = "strom", "0"
	for range 2 {
		resp, err := c.RequestVersion(ctx, req)
		if err != nil {
			return fmt.Errorf("ApiVersions: %w", err)
		}
		av := resp.(*kmsg.ApiVersionsResponse)
		versions := make(map[int16][2]int16, len(av.ApiKeys))
		for _, k := range av.ApiKeys {
			versions[k.ApiKey] = [2]int16{k.MinVersion, k.MaxVersion}
		}
		if av.ErrorCode == kerr.UnsupportedVersion.Code {
			r, ok := versions[req.Key()]
			if !ok || r[1] >= req.Version {
				break
			}
			req.Version = r[1]
			continue
		}
		if err := kerr.ForCode(av.ErrorCode); err != nil {
			return fmt.Errorf("ApiVersions: %w", err)
		}
		c.versions = versions
		return nil
	}
	return fmt.Errorf("ApiVersions: %w", kerr.UnsupportedVersion)
}

// Versions returns the broker's [min, max] for key, if it serves key.
func (c *Client) Versions(key int16) (minV, maxV int16, ok bool) {
	r, ok := c.versions[key]
	return r[0], r[1], ok
}

// Request sends req at the newest version both sides support (the minimum
// of req.MaxVersion() and the broker's max for the key; req's version is
// set to it) and returns the response. A Produce with Acks 0 gets no
// response: Request returns (nil, nil) once it is written.
func (c *Client) Request(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	r, ok := c.versions[req.Key()]
	v := min(req.MaxVersion(), r[1])
	if !ok || v < r[0] {
		return nil, fmt.Errorf("client: %s: %w", kmsg.NameForKey(req.Key()), kerr.UnsupportedVersion)
	}
	req.SetVersion(v)
	return c.RequestVersion(ctx, req)
}

// RequestVersion sends req at exactly req.GetVersion().
func (c *Client) RequestVersion(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	key, version := req.Key(), req.GetVersion()
	noResponse := false
	if p, ok := req.(*kmsg.ProduceRequest); ok && p.Acks == 0 {
		noResponse = true
	}
	cl := &call{key: key, version: version, body: make(chan []byte, 1)}

	c.mu.Lock()
	if c.mu.err != nil {
		err := c.mu.err
		c.mu.Unlock()
		return nil, err
	}
	corr := c.mu.nextCorr
	c.mu.nextCorr = (c.mu.nextCorr + 1) & math.MaxInt32
	if !noResponse {
		c.mu.pending[corr] = cl
	}
	buf, at := wire.StartFrame(nil)
	buf = wire.AppendRequestHeader(buf, key, version, corr, c.clientID)
	buf = req.AppendTo(buf)
	wire.FinishFrame(buf, at, 0)
	if dl, ok := ctx.Deadline(); ok {
		_ = c.nc.SetWriteDeadline(dl)
	} else {
		_ = c.nc.SetWriteDeadline(time.Time{})
	}
	_, err := c.nc.Write(buf)
	c.mu.Unlock()
	if err != nil {
		c.fail(fmt.Errorf("write: %w", err))
		return nil, c.closedErr()
	}
	if noResponse {
		return nil, nil
	}

	select {
	case body, ok := <-cl.body:
		if !ok {
			return nil, c.closedErr()
		}
		resp := req.ResponseKind()
		resp.SetVersion(version)
		if key == apiVersionsKey && len(body) >= 2 && int16(binary.BigEndian.Uint16(body)) == kerr.UnsupportedVersion.Code {
			// A broker answers a too-new ApiVersions with a v0 body.
			resp.SetVersion(0)
		}
		if err := resp.ReadFrom(body); err != nil {
			return nil, fmt.Errorf("client: decoding %s v%d response: %w", kmsg.NameForKey(key), version, err)
		}
		return resp, nil
	case <-ctx.Done():
		c.fail(fmt.Errorf("%s v%d: %w", kmsg.NameForKey(key), version, ctx.Err()))
		return nil, ctx.Err()
	}
}

// readLoop reads response frames and hands each to its call.
func (c *Client) readLoop() {
	defer close(c.done)
	for {
		frame, err := wire.ReadFrame(c.nc, math.MaxInt32)
		if err != nil {
			c.fail(fmt.Errorf("read: %w", err))
			return
		}
		if len(frame) < 4 {
			c.fail(fmt.Errorf("read: %w: response header", wire.ErrTruncated))
			return
		}
		corr := int32(binary.BigEndian.Uint32(frame))
		c.mu.Lock()
		cl, ok := c.mu.pending[corr]
		delete(c.mu.pending, corr)
		c.mu.Unlock()
		if !ok {
			c.fail(fmt.Errorf("read: response for unknown correlation id %d", corr))
			return
		}
		body := frame[4:]
		if wire.ResponseHeaderFlexible(cl.key, cl.version) {
			if body, err = wire.SkipTags(body); err != nil {
				c.fail(fmt.Errorf("read: response header: %w", err))
				return
			}
		}
		cl.body <- body
	}
}

// fail closes the connection with cause and fails every waiting call.
func (c *Client) fail(cause error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mu.err != nil {
		return
	}
	c.mu.err = errors.Join(ErrClosed, cause)
	_ = c.nc.Close()
	for corr, cl := range c.mu.pending {
		close(cl.body)
		delete(c.mu.pending, corr)
	}
}

func (c *Client) closedErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mu.err
}

// Close closes the connection; waiting calls fail with ErrClosed.
func (c *Client) Close() error {
	c.fail(errors.New("closed by caller"))
	<-c.done
	return nil
}
