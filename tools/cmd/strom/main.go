// Command strom is the Strom broker and its Kafka-style tools:
// `strom server`, `strom topics`, `strom console-producer`, ... (see
// `strom --help` and tools/README.md).
package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/strom-broker/strom/tools/broker"
	"github.com/strom-broker/strom/tools/cli"
	"github.com/strom-broker/strom/tools/config"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(cli.Commands(runBroker))(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// runBroker runs the assembled broker until ctx is cancelled.
func runBroker(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	return broker.Run(ctx, cfg, broker.WithLogger(log))
}
