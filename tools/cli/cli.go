// Package cli is the `strom` command: a table of subcommands and the
// dispatcher that runs one. Each subcommand lives in its own package with
// the clitool.RunFunc signature, so tests run them in-process.
package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/strom-broker/strom/tools/cli/apiversions"
	"github.com/strom-broker/strom/tools/cli/clitool"
	"github.com/strom-broker/strom/tools/cli/configs"
	"github.com/strom-broker/strom/tools/cli/consoleconsumer"
	"github.com/strom-broker/strom/tools/cli/consoleproducer"
	"github.com/strom-broker/strom/tools/cli/consumergroups"
	"github.com/strom-broker/strom/tools/cli/consumerperf"
	"github.com/strom-broker/strom/tools/cli/deleterecords"
	"github.com/strom-broker/strom/tools/cli/dumplog"
	"github.com/strom-broker/strom/tools/cli/e2elatency"
	"github.com/strom-broker/strom/tools/cli/getoffsets"
	"github.com/strom-broker/strom/tools/cli/leaderelection"
	"github.com/strom-broker/strom/tools/cli/logdirs"
	"github.com/strom-broker/strom/tools/cli/producerperf"
	"github.com/strom-broker/strom/tools/cli/reassign"
	"github.com/strom-broker/strom/tools/cli/server"
	"github.com/strom-broker/strom/tools/cli/topics"
	"github.com/strom-broker/strom/tools/cli/zkshell"
)

// Command is one subcommand.
type Command struct {
	// Name is what follows `strom`.
	Name string
	// Summary is the one-line description in `strom --help`.
	Summary string
	// Run runs it.
	Run clitool.RunFunc
}

// Commands returns every subcommand; `server` runs broker.
func Commands(broker server.BrokerFunc) []Command {
	return []Command{
		{"server", "Start a broker from server.properties (kafka-server-start.sh).", server.New(broker)},
		{"topics", "Create, list, describe, alter and delete topics (kafka-topics.sh).", topics.Run},
		{"console-producer", "Produce stdin lines as records (kafka-console-producer.sh).", consoleproducer.Run},
		{"console-consumer", "Print a topic's records (kafka-console-consumer.sh).", consoleconsumer.Run},
		{"consumer-groups", "List, describe and delete consumer groups; reset their offsets (kafka-consumer-groups.sh).", consumergroups.Run},
		{"producer-perf-test", "Measure producer throughput and latency (kafka-producer-perf-test.sh).", producerperf.Run},
		{"consumer-perf-test", "Measure consumer throughput (kafka-consumer-perf-test.sh).", consumerperf.Run},
		{"e2e-latency", "Measure produce-to-consume latency (kafka-e2e-latency.sh).", e2elatency.Run},
		{"configs", "Describe and alter topic and broker configs (kafka-configs.sh).", configs.Run},
		{"get-offsets", "Print partitions' offsets at a time (kafka-get-offsets.sh).", getoffsets.Run},
		{"delete-records", "Delete records before offsets (kafka-delete-records.sh).", deleterecords.Run},
		{"log-dirs", "Describe brokers' log dirs and partition sizes (kafka-log-dirs.sh).", logdirs.Run},
		{"dump-log", "Print log segments, indexes and producer snapshots offline (kafka-dump-log.sh).", dumplog.Run},
		{"broker-api-versions", "Print the API versions each broker supports (kafka-broker-api-versions.sh).", apiversions.Run},
		{"leader-election", "Elect preferred or unclean partition leaders (kafka-leader-election.sh).", leaderelection.Run},
		{"reassign-partitions", "Move partitions between brokers; decommission a broker (kafka-reassign-partitions.sh).", reassign.Run},
		{"zookeeper-shell", "Look at and edit a cluster's ZooKeeper znodes (zookeeper-shell.sh).", zkshell.Run},
	}
}

// Main returns the `strom` entry point dispatching args[0] to cmds.
func Main(cmds []Command) clitool.RunFunc {
	return func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
		if len(args) == 0 {
			usage(stderr, cmds)
			return clitool.ExitError
		}
		switch args[0] {
		case "-h", "-help", "--help", "help":
			usage(stdout, cmds)
			return clitool.ExitOK
		case "--version", "-version", "version":
			fmt.Fprintln(stdout, clitool.VersionLine())
			return clitool.ExitOK
		}
		if args[0] == "run-class" {
			return runClass(cmds)(ctx, args[1:], stdin, stdout, stderr)
		}
		for _, c := range cmds {
			if c.Name == args[0] {
				return c.Run(ctx, args[1:], stdin, stdout, stderr)
			}
		}
		if s := suggestCommand(cmds, args[0]); s != "" {
			return clitool.Fail(stderr, fmt.Errorf("unknown command %q (did you mean %q? see strom --help)", args[0], s))
		}
		return clitool.Fail(stderr, fmt.Errorf("unknown command %q (see strom --help)", args[0]))
	}
}

func usage(w io.Writer, cmds []Command) {
	fmt.Fprintln(w, "Usage: strom COMMAND [options]   (strom COMMAND --help for its options)")
	fmt.Fprintln(w, "\nStrom is a Kafka-compatible broker; these are its server and client tools.")
	fmt.Fprintln(w, "\nCommands:")
	width := 0
	for _, c := range cmds {
		width = max(width, len(c.Name))
	}
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-*s  %s\n", width, c.Name, c.Summary)
	}
	fmt.Fprintf(w, "  %-*s  %s\n", width, "run-class", "Run the command doing a Kafka class's job (kafka-run-class.sh kafka.tools.DumpLogSegments ...).")
	fmt.Fprintln(w, "\nClient tools take --bootstrap-server HOST:PORT (alias --broker-list).")
}
