package compat

import (
	"testing"

	"github.com/strom-broker/strom/tools/broker/brokertest"
)

// startBroker starts a single broker on a loopback port for the life of t
// and returns its bootstrap address ("127.0.0.1:port").
//
// This is the suite's only seam to the broker under test: Strom's own
// broker, started in-process (data dir under t.TempDir(), shut down in
// t.Cleanup). The suite creates every topic it uses explicitly.
func startBroker(t *testing.T) (bootstrap string) {
	t.Helper()
	return brokertest.Start(t).Addr()
}
