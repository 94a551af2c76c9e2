package cli

import (
	"context"
	"fmt"
	"io"
	"sort"

	"github.com/strom-broker/strom/tools/cli/clitool"
)

// javaClasses maps the Java classes older runbooks start with
// `kafka-run-class.sh CLASS ...` to the strom subcommand doing the same
// job (both the kafka.* names of Kafka 2.x-3.x and the org.apache.kafka.*
// names of 3.5+).
var javaClasses = map[string]string{
	"kafka.Kafka":                                                "server",
	"kafka.admin.TopicCommand":                                   "topics",
	"org.apache.kafka.tools.TopicCommand":                        "topics",
	"kafka.admin.ConsumerGroupCommand":                           "consumer-groups",
	"org.apache.kafka.tools.consumer.group.ConsumerGroupCommand": "consumer-groups",
	"kafka.admin.ConfigCommand":                                  "configs",
	"kafka.tools.GetOffsetShell":                                 "get-offsets",
	"org.apache.kafka.tools.GetOffsetShell":                      "get-offsets",
	"kafka.admin.DeleteRecordsCommand":                           "delete-records",
	"org.apache.kafka.tools.DeleteRecordsCommand":                "delete-records",
	"kafka.admin.BrokerApiVersionsCommand":                       "broker-api-versions",
	"kafka.admin.LogDirsCommand":                                 "log-dirs",
	"org.apache.kafka.tools.LogDirsCommand":                      "log-dirs",
	"kafka.tools.DumpLogSegments":                                "dump-log",
	"org.apache.kafka.tools.DumpLogSegments":                     "dump-log",
	"kafka.tools.ConsoleProducer":                                "console-producer",
	"org.apache.kafka.tools.ConsoleProducer":                     "console-producer",
	"kafka.tools.ConsoleConsumer":                                "console-consumer",
	"org.apache.kafka.tools.consumer.ConsoleConsumer":            "console-consumer",
	"org.apache.kafka.tools.ProducerPerformance":                 "producer-perf-test",
	"kafka.tools.ConsumerPerformance":                            "consumer-perf-test",
	"org.apache.kafka.tools.ConsumerPerformance":                 "consumer-perf-test",
	"kafka.tools.EndToEndLatency":                                "e2e-latency",
	"org.apache.kafka.tools.EndToEndLatency":                     "e2e-latency",
	"kafka.admin.ReassignPartitionsCommand":                      "reassign-partitions",
	"org.apache.kafka.tools.reassign.ReassignPartitionsCommand":  "reassign-partitions",
}

// runClass is `strom run-class CLASS [args]` (kafka-run-class.sh): it runs
// the subcommand that does CLASS's job.
func runClass(cmds []Command) clitool.RunFunc {
	return func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
		if len(args) == 0 || args[0] == "--help" || args[0] == "-h" {
			w, code := stdout, clitool.ExitOK
			if len(args) == 0 {
				w, code = stderr, clitool.ExitError
			}
			fmt.Fprintln(w, "Usage: strom run-class CLASS [options]   (kafka-run-class.sh)")
			fmt.Fprintln(w, "\nRuns the strom command that does the job of Kafka's CLASS:")
			for _, c := range sortedClasses() {
				fmt.Fprintf(w, "  %s -> strom %s\n", c, javaClasses[c])
			}
			return code
		}
		sub, ok := javaClasses[args[0]]
		if !ok {
			return clitool.Fail(stderr, fmt.Errorf("kafka-run-class.sh: %s is not a class Strom has a tool for (see strom run-class --help)", args[0]))
		}
		for _, c := range cmds {
			if c.Name == sub {
				return c.Run(ctx, args[1:], stdin, stdout, stderr)
			}
		}
		return clitool.Fail(stderr, fmt.Errorf("kafka-run-class.sh: %s: no %q command", args[0], sub))
	}
}

func sortedClasses() []string {
	cs := make([]string, 0, len(javaClasses))
	for c := range javaClasses {
		cs = append(cs, c)
	}
	sort.Strings(cs)
	return cs
}

// suggestCommand returns the command name an unknown one was probably
// meant to be, or "" (see clitool.Suggest).
func suggestCommand(cmds []Command, name string) string {
	names := make([]string, len(cmds))
	for i, c := range cmds {
		names[i] = c.Name
	}
	return clitool.Suggest(name, names)
}
