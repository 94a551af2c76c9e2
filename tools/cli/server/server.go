// Package server is `strom server` (kafka-server-start.sh): it loads
// server.properties, applies --override key=value flags, fills Kafka's
// defaults, validates, and hands the Config to the broker.
//
// The broker is injected (BrokerFunc) so this package does not depend on
// the broker assembly; cmd/strom passes the real one.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/strom-broker/strom/tools/cli/clitool"
	"github.com/strom-broker/strom/tools/config"
)

const synopsis = `Usage: strom server [server.properties] [--override key=value ...]

Starts a broker. Without a file every key takes Kafka's default (embedded
single-broker mode, PLAINTEXT://:9092, log.dirs=/tmp/strom-logs).
--override wins over the file. Stops on SIGINT/SIGTERM.

  strom server config/server.properties --override broker.id=1 --override listeners=PLAINTEXT://:9093`

// BrokerFunc runs a broker with cfg, logging to log, until ctx is
// cancelled, then shuts it down and returns; a non-nil error means it
// failed.
type BrokerFunc func(ctx context.Context, cfg *config.Config, log *slog.Logger) error

// LogFormatEnv names the environment variable that sets --log-format's
// default, so kafka-server-start.sh users can choose JSON without a flag.
const LogFormatEnv = "STROM_LOG_FORMAT"

// New returns the `server` subcommand running broker.
func New(broker BrokerFunc) clitool.RunFunc {
	return func(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
		path := ""
		if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
			path, args = args[0], args[1:]
		}
		fs := clitool.NewFlagSet("server", synopsis)
		var overrides clitool.StringList
		fs.Var(&overrides, "override", "A config key=value taking precedence over the file; repeatable.")
		format := fs.String("log-format", defaultLogFormat(), "The broker log's format on stderr: text or json (default from $"+LogFormatEnv+", else text).")
		if done, code := fs.Parse(args, stdout, stderr); done {
			return code
		}
		if fs.NArg() > 0 {
			return clitool.Fail(stderr, clitool.Usagef("unexpected argument %q (the properties file comes first)", fs.Arg(0)))
		}
		cfg, err := config.Load(path, overrides)
		if err != nil {
			return clitool.Fail(stderr, err)
		}
		var h slog.Handler
		switch *format {
		case "text":
			h = slog.NewTextHandler(stderr, nil)
		case "json":
			h = slog.NewJSONHandler(stderr, nil)
		default:
			return clitool.Fail(stderr, clitool.Usagef("--log-format %q: want text or json", *format))
		}
		log := slog.New(newSummaryHandler(h, int(cfg.OffsetsTopicNumPartitions)))
		if ignored := cfg.Ignored(); len(ignored) > 0 {
			log.Warn("config keys accepted for compatibility but ignored", "keys", strings.Join(ignored, ","))
		}
		// "shutting down" is logged the moment the signal arrives: the
		// shutdown that follows may take a while (flushing, checkpoints).
		// The watcher is gone before this returns, so the caller cancelling
		// ctx afterwards logs nothing.
		stopped, watcherDone := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(watcherDone)
			select {
			case <-ctx.Done():
				if cause := context.Cause(ctx); errors.Is(cause, context.Canceled) {
					log.Info("shutting down")
				} else {
					log.Info("shutting down", "cause", cause)
				}
			case <-stopped:
			}
		}()
		defer func() { close(stopped); <-watcherDone }()
		if err := broker(ctx, cfg, log); err != nil {
			return clitool.Fail(stderr, fmt.Errorf("server: %w", err))
		}
		return clitool.ExitOK
	}
}

// defaultLogFormat is $STROM_LOG_FORMAT, or text.
func defaultLogFormat() string {
	if f := os.Getenv(LogFormatEnv); f != "" {
		return f
	}
	return "text"
}
