// Package brokertest starts a real Strom broker in-process for tests: on
// 127.0.0.1 with a kernel-chosen port, its data in t.TempDir(), shut down
// gracefully when the test ends.
package brokertest

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strom-broker/strom/net/server"
	"github.com/strom-broker/strom/tools/broker"
	"github.com/strom-broker/strom/tools/config"
)

// Broker is a running test broker.
type Broker struct {
	*broker.Broker
	// Config is the configuration it runs with.
	Config *config.Config
	// Dir is its (first) log dir.
	Dir string

	stopFn func()
}

// Start starts a broker with the given "key=value" overrides on top of
// test defaults (listener 127.0.0.1:0, log dir in t.TempDir()). It stops
// when t ends.
func Start(t testing.TB, overrides ...string) *Broker {
	t.Helper()
	dir := t.TempDir()
	return StartIn(t, dir, overrides...)
}

// StartIn is Start with a given log dir (to restart a broker on the same
// data).
func StartIn(t testing.TB, dir string, overrides ...string) *Broker {
	t.Helper()
	base := []string{
		"listeners=PLAINTEXT://127.0.0.1:0",
		"log.dirs=" + dir,
	}
	cfg, err := config.Load("", append(base, overrides...))
	require.NoError(t, err)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	b, err := broker.New(cfg, broker.WithLogger(logger))
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- b.Serve() }()
	tb := &Broker{Broker: b, Config: cfg, Dir: dir}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			tb.stop(t, served)
		}
	})
	tb.stopFn = func() { stopped = true; tb.stop(t, served) }
	return tb
}

func (b *Broker) stop(t testing.TB, served chan error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := b.Shutdown(ctx); err != nil {
		t.Errorf("broker shutdown: %v", err)
	}
	if err := <-served; err != nil && !errors.Is(err, server.ErrServerClosed) {
		t.Errorf("broker serve: %v", err)
	}
}

// Stop shuts the broker down gracefully now (Start's cleanup then does
// nothing).
func (b *Broker) Stop() { b.stopFn() }

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}
