package server

import (
	"context"
	"errors"
	"net"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/net/apis"
	"github.com/strom-broker/strom/net/fetchwire"
)

// Handler answers requests. The server calls Handle for the requests of one
// connection one at a time, in request order (so appends keep the order a
// client sent them in), and for different connections concurrently; it
// writes the answers of a connection in request order.
//
// Handle returns
//   - a kmsg.Response of the request's key (the server sets its version to
//     the request's and encodes it),
//   - a *fetchwire.FetchResponse for Fetch, written zero-copy (its files must
//     stay open until the response is written: hold them until ctx is done
//     or use reference counting),
//   - nil for no response at all (Produce with acks=0),
//   - or an error, which closes the connection (logged at error level; use
//     the response's error codes for errors the client should see). An
//     error wrapping ErrCloseConnection closes it as a protocol answer,
//     logged at info level (Produce with acks=0 that failed: Kafka closes
//     the connection so the producer refreshes its metadata).
//
// ctx is cancelled when the connection closes or the server is closed; a
// graceful Shutdown does not cancel it, so long polls end on their own.
// A panic in Handle is recovered: it closes that connection and is logged.
//
// APIVersions lists the keys and version ranges the broker serves; the
// server calls it once in New, answers ApiVersions requests itself from it
// and closes any connection that sends a key or version outside it.
type Handler interface {
	Handle(ctx context.Context, req *Request) (Response, error)
	APIVersions() []apis.Range
}

// Response is what Handle returns: a kmsg.Response or a
// *fetchwire.FetchResponse.
type Response interface {
	Key() int16
}

var (
	_ Response = kmsg.Response(nil)
	_ Response = (*fetchwire.FetchResponse)(nil)
)

// Request is one decoded request.
type Request struct {
	// Key and Version of the API.
	Key, Version int16
	// CorrelationID from the header; the server echoes it.
	CorrelationID int32
	// ClientID from the header (nil if null).
	ClientID *string
	// Body is the decoded request; its byte fields (e.g. Produce records)
	// are sub-slices of the request frame. The handler may keep them,
	// except a Produce request's: its frame is recycled for a later request
	// once Handle returns, so a handler copies what it keeps of it (Strom's
	// broker writes the records to the log and keeps nothing).
	Body kmsg.Request
	// Size is the size of the frame in bytes (without the size prefix).
	Size int
	// Conn describes the connection the request came on.
	Conn ConnInfo

	frame []byte // the frame Body was decoded from
}

// ConnInfo describes one client connection.
type ConnInfo struct {
	// ID is unique per server.
	ID uint64
	// Listener is the name passed to ServeNamed ("PLAINTEXT" for Serve).
	Listener string
	// Remote and Local are the connection's addresses.
	Remote, Local net.Addr
}

// Errors reported by the server.
var (
	// ErrServerClosed is returned by Serve after Shutdown or Close.
	ErrServerClosed = errors.New("server: closed")
	// ErrHandlerPanic wraps a recovered handler panic.
	ErrHandlerPanic = errors.New("server: handler panicked")
	// ErrWrongResponse: a handler returned a response of another key or
	// an unknown type.
	ErrWrongResponse = errors.New("server: handler returned a wrong response")
	// ErrCloseConnection: a handler answers a request by closing its
	// connection (after the answers to the requests before it).
	ErrCloseConnection = errors.New("server: handler closes the connection")
)
