package server

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/strom-broker/strom/net/wire"
)

// Config configures a Server. The zero value is usable: WithDefaults fills
// every unset field with Kafka's default.
type Config struct {
	// MaxRequestBytes bounds one request frame (socket.request.max.bytes).
	// Default 100 MiB.
	MaxRequestBytes int32
	// MaxConnections caps open connections; a connection accepted beyond
	// the cap is closed at once. 0 means no cap (max.connections).
	MaxConnections int
	// ConnectionsMaxIdle closes a connection that has sent nothing and has
	// no request in flight for this long (connections.max.idle.ms).
	// Default 10 minutes; negative disables.
	ConnectionsMaxIdle time.Duration
	// QueuedMaxRequestBytes bounds the request bytes read but not yet
	// handled, over all connections (queued.max.request.bytes): a reader
	// that would exceed it waits, without reading its frame, until handled
	// requests give bytes back. A frame larger than the whole budget is read
	// when nothing else is held. Decoding adds at most a small multiple of a
	// frame's size on top (see DecodeRequest). Zero or negative means
	// unbounded, Kafka's default: then what the broker holds is bounded only
	// by what clients actually sent (each connection reads at most
	// MaxInFlightPerConn requests ahead). A bound trades memory for
	// availability: a client that sends a size prefix and stalls holds its
	// reservation until ConnectionsMaxIdle closes it.
	QueuedMaxRequestBytes int64
	// MaxInFlightPerConn bounds the requests of one connection being
	// handled or waiting to be written; the connection is not read further
	// until one completes. Default 64.
	MaxInFlightPerConn int
	// SendBufferBytes and ReceiveBufferBytes set SO_SNDBUF and SO_RCVBUF
	// on every accepted TCP connection (socket.send.buffer.bytes and
	// socket.receive.buffer.bytes). Zero or negative keeps the OS default,
	// which autotunes: unlike the other fields, the zero value is not
	// Kafka's default (102400), which the broker's config passes.
	SendBufferBytes, ReceiveBufferBytes int
	// Logger receives connection-level events; default discards.
	Logger *slog.Logger
}

// Defaults for Config fields.
const (
	DefaultConnectionsMaxIdle = 10 * time.Minute
	DefaultMaxInFlightPerConn = 64
)

// WithDefaults returns c with every unset field set to its default.
func (c Config) WithDefaults() Config {
	if c.MaxRequestBytes == 0 {
		c.MaxRequestBytes = wire.DefaultMaxFrameBytes
	}
	if c.ConnectionsMaxIdle == 0 {
		c.ConnectionsMaxIdle = DefaultConnectionsMaxIdle
	}
	if c.MaxInFlightPerConn == 0 {
		c.MaxInFlightPerConn = DefaultMaxInFlightPerConn
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate reports every invalid field at once.
func (c Config) Validate() error {
	var errs []error
	if c.MaxRequestBytes < 8 {
		errs = append(errs, fmt.Errorf("socket.request.max.bytes: %d is below the 8-byte request header", c.MaxRequestBytes))
	}
	if c.MaxConnections < 0 {
		errs = append(errs, fmt.Errorf("max.connections: %d is negative", c.MaxConnections))
	}
	if c.MaxInFlightPerConn < 1 {
		errs = append(errs, fmt.Errorf("max in-flight per connection: %d is below 1", c.MaxInFlightPerConn))
	}
	return errors.Join(errs...)
}
