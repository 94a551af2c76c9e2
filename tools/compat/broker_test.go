package compat

import (
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
)

// startBroker starts a single broker on a loopback port for the life of t
// and returns its bootstrap address ("127.0.0.1:port").
//
// This is the suite's only seam to the broker under test. Today it starts
// franz-go's in-process kfake cluster; to test Strom, start Strom's broker
// in-process here instead (on 127.0.0.1:0, data dir under t.TempDir(),
// stopped in t.Cleanup) and return its listener address. The broker must
// allow CreateTopics; the suite creates every topic it uses explicitly.
func startBroker(t *testing.T) (bootstrap string) {
	t.Helper()
	// kfake listens on 127.0.0.1 with a port the kernel picks.
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	require.NoError(t, err, "start kfake cluster")
	t.Cleanup(c.Close)
	addrs := c.ListenAddrs()
	require.Len(t, addrs, 1)
	return addrs[0]
}
