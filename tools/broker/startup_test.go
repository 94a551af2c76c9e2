package broker_test

import (
	"net"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strom-broker/strom/tools/broker"
	"github.com/strom-broker/strom/tools/broker/brokertest"
	"github.com/strom-broker/strom/tools/config"
)

// TestStartupFailuresAreErrors: a broker that cannot start (its log dir
// locked by a running broker, its port taken) returns an error from New,
// releases what it opened, and leaves the running broker alone.
func TestStartupFailuresAreErrors(t *testing.T) {
	b := brokertest.Start(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()
	for _, tc := range []struct {
		name      string
		overrides []string
	}{
		{"log dir in use", []string{"listeners=PLAINTEXT://127.0.0.1:0", "log.dirs=" + b.Dir}},
		{"port in use", []string{"listeners=PLAINTEXT://" + busy.Addr().String(), "log.dirs=" + filepath.Join(t.TempDir(), "logs")}},
	} {
		cfg, err := config.Load("", tc.overrides)
		require.NoError(t, err)
		nb, err := broker.New(cfg)
		assert.Error(t, err, tc.name)
		assert.Nil(t, nb, tc.name)
	}
	createTopic(t, b, "still-serving", 1)
	sp := produceOne(t, rawConn(t, b), "still-serving", 0, 1, rawBatch(1000, []byte("x")))
	assert.Zero(t, sp.ErrorCode)

	// The failed start on a fresh dir released it: a broker can use it now.
	dir := filepath.Join(t.TempDir(), "logs")
	cfg, err := config.Load("", []string{"listeners=PLAINTEXT://" + busy.Addr().String(), "log.dirs=" + dir})
	require.NoError(t, err)
	_, err = broker.New(cfg)
	require.Error(t, err)
	brokertest.StartIn(t, dir)
}
