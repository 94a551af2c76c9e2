package server

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/net/apis"
	"github.com/strom-broker/strom/net/wire"
)

// deadline bounds every wait in these tests; generous because the machine
// is shared and -race is slow. It is a hang guard, never a timing assertion.
const deadline = 20 * time.Second

// funcHandler adapts a function to Handler with the default table.
type funcHandler struct {
	fn    func(ctx context.Context, req *Request) (Response, error)
	table []apis.Range
}

func (h funcHandler) Handle(ctx context.Context, req *Request) (Response, error) {
	return h.fn(ctx, req)
}

func (h funcHandler) APIVersions() []apis.Range {
	if h.table != nil {
		return h.table
	}
	return apis.Default()
}

// echoMetadata answers Metadata with one broker whose node id is the
// correlation id, so the test can tell answers apart.
func echoMetadata(req *Request) Response {
	resp := kmsg.NewPtrMetadataResponse()
	b := kmsg.NewMetadataResponseBroker()
	b.NodeID, b.Host, b.Port = req.CorrelationID, "127.0.0.1", 9092
	resp.Brokers = []kmsg.MetadataResponseBroker{b}
	return resp
}

// start runs a server with cfg and h on 127.0.0.1:0 and returns it with its
// address; it is closed at the end of the test.
func start(t *testing.T, cfg Config, h Handler) (*Server, string) {
	t.Helper()
	s, err := New(cfg, h)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	t.Cleanup(func() {
		s.Close()
		require.ErrorIs(t, <-served, ErrServerClosed)
	})
	return s, ln.Addr().String()
}

// rawConn is a test client speaking raw frames.
type rawConn struct {
	t *testing.T
	net.Conn
}

func dial(t *testing.T, addr string) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	require.NoError(t, c.SetDeadline(time.Now().Add(deadline)))
	return &rawConn{t: t, Conn: c}
}

// frame returns a full request frame for req at its version.
func frame(req kmsg.Request, corr int32) []byte {
	clientID := "test"
	buf, at := wire.StartFrame(nil)
	buf = wire.AppendRequestHeader(buf, req.Key(), req.GetVersion(), corr, &clientID)
	buf = req.AppendTo(buf)
	wire.FinishFrame(buf, at, 0)
	return buf
}

func (c *rawConn) send(req kmsg.Request, corr int32) {
	c.t.Helper()
	_, err := c.Write(frame(req, corr))
	require.NoError(c.t, err)
}

func (c *rawConn) sendRaw(b []byte) {
	c.t.Helper()
	_, err := c.Write(b)
	require.NoError(c.t, err)
}

// recv reads one response to a request of key at version and decodes it.
func (c *rawConn) recv(key, version int16) (int32, kmsg.Response) {
	c.t.Helper()
	var sz [4]byte
	_, err := io.ReadFull(c, sz[:])
	require.NoError(c.t, err)
	body := make([]byte, binary.BigEndian.Uint32(sz[:]))
	_, err = io.ReadFull(c, body)
	require.NoError(c.t, err)
	corr := int32(binary.BigEndian.Uint32(body))
	body = body[4:]
	if wire.ResponseHeaderFlexible(key, version) {
		require.Equal(c.t, byte(0), body[0])
		body = body[1:]
	}
	resp := kmsg.ResponseForKey(key)
	resp.SetVersion(version)
	require.NoError(c.t, resp.ReadFrom(body))
	return corr, resp
}

// expectClosed waits until the server closes the connection.
func (c *rawConn) expectClosed() {
	c.t.Helper()
	buf := make([]byte, 64)
	for {
		_, err := c.Read(buf)
		if err == nil {
			continue // a response to an earlier request; drain it
		}
		var ne net.Error
		require.False(c.t, errors.As(err, &ne) && ne.Timeout(), "connection not closed within the deadline")
		return // EOF or reset: closed
	}
}

// metadata returns a Metadata request at version v.
func metadata(v int16) *kmsg.MetadataRequest {
	r := kmsg.NewPtrMetadataRequest()
	r.Version = v
	return r
}

// roundTrip checks that c still gets answers.
func (c *rawConn) roundTrip(corr int32) {
	c.t.Helper()
	c.send(metadata(1), corr)
	got, resp := c.recv(3, 1)
	require.Equal(c.t, corr, got)
	require.Equal(c.t, corr, resp.(*kmsg.MetadataResponse).Brokers[0].NodeID)
}
