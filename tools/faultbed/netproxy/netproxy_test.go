package netproxy

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// echo is a TCP echo server that also reports every chunk it received.
func echo(t *testing.T) (addr string, got chan string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	got = make(chan string, 100)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 1024)
				for {
					n, err := c.Read(buf)
					if err != nil {
						return
					}
					got <- string(buf[:n])
					_, _ = c.Write(buf[:n])
				}
			}()
		}
	}()
	return ln.Addr().String(), got
}

func start(t *testing.T) (*Proxy, chan string) {
	addr, got := echo(t)
	p, err := New(addr)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, p.Close()) })
	return p, got
}

func dial(t *testing.T, p *Proxy) net.Conn {
	c, err := net.Dial("tcp", p.Addr())
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

func roundTrip(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	_, err := c.Write([]byte(msg))
	require.NoError(t, err)
	buf := make([]byte, len(msg))
	require.NoError(t, c.SetReadDeadline(time.Now().Add(30*time.Second)))
	_, err = io.ReadFull(c, buf)
	require.NoError(t, err)
	assert.Equal(t, msg, string(buf))
}

func TestForwards(t *testing.T) {
	p, _ := start(t)
	c := dial(t, p)
	roundTrip(t, c, "hello")
	assert.Equal(t, 1, p.Links())
}

// TestResetIsLoud: an open connection is reset, a new one too, until Heal.
func TestResetIsLoud(t *testing.T) {
	p, _ := start(t)
	c := dial(t, p)
	roundTrip(t, c, "before")
	p.Reset()
	_, err := c.Read(make([]byte, 1))
	assert.True(t, errors.Is(err, syscall.ECONNRESET), "reset, not a clean EOF: %v", err)

	// A new connection is accepted by the kernel, then reset; on a busy
	// machine the reset can already reach the dialer inside connect.
	c2, err := net.Dial("tcp", p.Addr())
	if err == nil {
		defer c2.Close()
		_, err = c2.Read(make([]byte, 1))
	}
	assert.True(t, errors.Is(err, syscall.ECONNRESET), "new connections are reset: %v", err)

	p.Heal()
	roundTrip(t, dial(t, p), "after")
}

// TestSilenceHoldsBytes: with responses held, the request reaches the
// server but no answer comes back; after Heal it does, on the same
// connection.
func TestSilenceHoldsBytes(t *testing.T) {
	p, got := start(t)
	c := dial(t, p)
	roundTrip(t, c, "a")
	<-got
	p.Silence(ToClient)
	_, err := c.Write([]byte("b"))
	require.NoError(t, err)
	assert.Equal(t, "b", <-got, "the request went through")
	require.NoError(t, c.SetReadDeadline(time.Now().Add(300*time.Millisecond)))
	_, err = c.Read(make([]byte, 1))
	var ne net.Error
	require.ErrorAs(t, err, &ne, "the answer is held")
	assert.True(t, ne.Timeout())

	p.Heal()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(30*time.Second)))
	buf := make([]byte, 1)
	_, err = io.ReadFull(c, buf)
	require.NoError(t, err)
	assert.Equal(t, "b", string(buf), "held bytes are delivered after Heal")
}

// TestSilenceToServer: requests are held; nothing reaches the server
// until Heal.
func TestSilenceToServer(t *testing.T) {
	p, got := start(t)
	c := dial(t, p)
	roundTrip(t, c, "a")
	<-got
	p.Silence(ToServer)
	_, err := c.Write([]byte("b"))
	require.NoError(t, err)
	select {
	case s := <-got:
		t.Fatalf("server got %q during the silence", s)
	case <-time.After(300 * time.Millisecond):
	}
	p.Heal()
	assert.Equal(t, "b", <-got)
}

func TestCloseEndsLinks(t *testing.T) {
	p, _ := start(t)
	c := dial(t, p)
	roundTrip(t, c, "x")
	p.Silence(ToServer, ToClient)
	require.NoError(t, p.Close())
	require.NoError(t, c.SetReadDeadline(time.Now().Add(30*time.Second)))
	_, err := c.Read(make([]byte, 1))
	assert.Error(t, err)
	assert.Equal(t, 0, p.Links())
}

// header is the start of a Kafka request (size, api key, version,
// correlation id, client id) as a broker's inter-broker client sends it.
func header(clientID string) string {
	b := binary.BigEndian.AppendUint32(nil, uint32(10+len(clientID)))
	b = binary.BigEndian.AppendUint16(b, 18) // ApiVersions
	b = binary.BigEndian.AppendUint16(b, 3)
	b = binary.BigEndian.AppendUint32(b, 1)
	b = binary.BigEndian.AppendUint16(b, uint16(len(clientID)))
	return string(append(b, clientID...))
}

func TestPeerOfClientID(t *testing.T) {
	for id, want := range map[string]string{
		"strom-replica-fetcher-2":  "broker 2",
		"strom-controller-13":      "broker 13",
		"strom-alter-partition-1":  "broker 1",
		"kgo":                      "",
		"strom-replica-fetcher-":   "",
		"strom-replica-fetcher-2x": "",
		"other-client-3":           "",
	} {
		assert.Equal(t, want, PeerOfClientID(bufio.NewReader(strings.NewReader(header(id)))), id)
	}
	assert.Equal(t, "", PeerOfClientID(bufio.NewReader(strings.NewReader("\x00\x00"))), "short input")
}

// TestCutOnePeer: ResetFrom and SilenceFrom cut the connections of one
// named peer; another peer's connection keeps flowing; Heal restores.
func TestCutOnePeer(t *testing.T) {
	addr, got := echo(t)
	p, err := NewIdentifying(addr)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, p.Close()) })
	b2, other := dial(t, p), dial(t, p)
	h2, ho := header("strom-replica-fetcher-2"), header("kgo")
	roundTrip(t, b2, h2)
	roundTrip(t, other, ho)
	<-got
	<-got

	p.SilenceFrom("broker 2", ToServer)
	_, err = b2.Write([]byte("held"))
	require.NoError(t, err)
	roundTrip(t, other, "flows")
	assert.Equal(t, "flows", <-got, "the other peer's request arrived, broker 2's is held")
	p.Heal()
	assert.Equal(t, "held", <-got)
	buf := make([]byte, 4)
	_, err = io.ReadFull(b2, buf)
	require.NoError(t, err)

	p.ResetFrom("broker 2")
	_, err = b2.Read(make([]byte, 1))
	assert.True(t, errors.Is(err, syscall.ECONNRESET), "broker 2's link reset: %v", err)
	roundTrip(t, other, "still")
	<-got
	again := dial(t, p)
	_, err = again.Write([]byte(h2))
	require.NoError(t, err)
	_, err = again.Read(make([]byte, 1))
	assert.True(t, errors.Is(err, syscall.ECONNRESET), "a new link of broker 2 is reset once named: %v", err)
	p.Heal()
	roundTrip(t, dial(t, p), h2)
}
