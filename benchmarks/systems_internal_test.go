package benchmarks

import (
	"net"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestBrokerProcessPortTaken: a broker whose port is taken exits at start,
// which startOnce reports as an error (start then tries another port), and
// start serves on a free one.
func TestBrokerProcessPortTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	taken := ln.Addr().(*net.TCPAddr).Port
	args := func(port int) []string { return []string{"-port", strconv.Itoa(port)} }
	bin := filepath.Join(binaries(t), "kfakeserver")

	p := &brokerProcess{}
	_, err = p.startOnce(t, "kfake", taken, bin, args)
	require.ErrorContains(t, err, "exited at start")

	s := p.start(t, "kfake", bin, args)
	require.NotEqual(t, net.JoinHostPort("127.0.0.1", strconv.Itoa(taken)), s.addr)
}
