// Package tools is Strom's assembled broker and its command-line tools:
//
//   - broker: the broker (engine + replication + coord + net), one file per
//     Kafka API; broker/brokertest starts one in-process for tests.
//   - config, properties: server.properties parsing and validation.
//   - cli: the strom subcommands (server, topics, console-producer,
//     console-consumer, perf tests, e2e-latency); cmd/strom is the binary.
//   - compat: the compatibility suite driving real Kafka clients.
package tools
