package clitool

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// A ClientConfig is the Java client configuration a tool was given: the
// --command-config file (every tool), then the tool's own file
// (--producer.config, --consumer.config), then its key=value flags, later
// ones winning. Tools apply the keys Strom understands and warn once about
// each of the others.
type ClientConfig map[string]string

// CommandConfig registers --command-config on fs and returns its value.
func CommandConfig(fs *FlagSet) *string {
	return fs.String("command-config", "", "A Java client properties file (client.id, request.timeout.ms, ...); keys Strom's tools do not use get one WARN line.")
}

// LoadClientConfig merges the properties files (empty paths are skipped),
// then the key=value items of flag, into one ClientConfig.
func LoadClientConfig(files []string, items []string, flag string) (ClientConfig, error) {
	cc := ClientConfig{}
	for _, f := range files {
		if f == "" {
			continue
		}
		if err := MergePropertiesFile(cc, f); err != nil {
			return nil, err
		}
	}
	kv, err := ParseKV(items, flag)
	if err != nil {
		return nil, err
	}
	for k, v := range kv {
		cc[k] = v
	}
	return cc, nil
}

// commonIgnored are Java client keys that need no action in Strom's tools:
// what they tune franz-go does by itself, or they name Java classes.
var commonIgnored = map[string]bool{
	"bootstrap.servers": true, "request.timeout.ms": true, "retries": true, "retry.backoff.ms": true,
	"retry.backoff.max.ms": true, "metadata.max.age.ms": true, "connections.max.idle.ms": true,
	"reconnect.backoff.ms": true, "reconnect.backoff.max.ms": true, "send.buffer.bytes": true,
	"receive.buffer.bytes": true, "socket.connection.setup.timeout.ms": true,
	"socket.connection.setup.timeout.max.ms": true, "client.dns.lookup": true,
	"key.serializer": true, "value.serializer": true, "key.deserializer": true, "value.deserializer": true,
	"default.api.timeout.ms": true, "max.block.ms": true, "metrics.recording.level": true,
	"metrics.num.samples": true, "metrics.sample.window.ms": true, "auto.include.jmx.reporter": true,
}

// commonOpt applies a key every client understands: client.id and
// security.protocol (PLAINTEXT only). It reports whether k was one of
// them (or is known to need nothing).
func commonOpt(k, v string, warn io.Writer) (kgo.Opt, bool) {
	switch {
	case k == "client.id":
		return kgo.ClientID(v), true
	case k == "security.protocol":
		if !strings.EqualFold(strings.TrimSpace(v), "PLAINTEXT") {
			fmt.Fprintf(warn, "WARN: security.protocol=%s is not supported by Strom's tools; connecting with PLAINTEXT\n", v)
		}
		return nil, true
	case strings.HasPrefix(k, "sasl.") || strings.HasPrefix(k, "ssl."):
		fmt.Fprintf(warn, "WARN: ignoring %s: Strom's tools connect with PLAINTEXT only\n", k)
		return nil, true
	}
	return nil, commonIgnored[k]
}

// AdminOpts maps a ClientConfig for an admin tool (kafka-topics,
// kafka-consumer-groups, ...) to kgo options; each key it does not use
// gets one WARN line on warn.
func AdminOpts(cc ClientConfig, warn io.Writer) []kgo.Opt {
	var opts []kgo.Opt
	for _, k := range sortedKeys(cc) {
		opt, ok := commonOpt(k, cc[k], warn)
		switch {
		case opt != nil:
			opts = append(opts, opt)
		case !ok:
			fmt.Fprintf(warn, "WARN: ignoring unknown admin client property %s\n", k)
		}
	}
	return opts
}

// BootstrapFrom returns flag, or when it is empty bootstrap.servers of cc.
func BootstrapFrom(flag string, cc ClientConfig) string {
	if flag != "" {
		return flag
	}
	return cc["bootstrap.servers"]
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// consumerIgnored are Java consumer keys with nothing to do in Strom's
// tools (franz-go's behaviour already matches, or the tool decides).
var consumerIgnored = map[string]bool{
	"max.poll.records": true, "max.poll.interval.ms": true, "check.crcs": true,
	"exclude.internal.topics": true, "allow.auto.create.topics": true, "partition.assignment.strategy": true,
	"interceptor.classes": true, "enable.auto.commit": true, "auto.commit.interval.ms": true,
}

// ConsumerOpts maps the consumer keys of cc franz-go has equivalents for
// (fetch.max.bytes, max.partition.fetch.bytes, fetch.min.bytes,
// fetch.max.wait.ms, isolation.level, session.timeout.ms,
// heartbeat.interval.ms, rebalance.timeout.ms, client.id); a malformed
// value is an error naming the key, any other key gets one WARN line.
// group.id and auto.offset.reset are the tool's to read (see
// ConsumerStart).
func ConsumerOpts(cc ClientConfig, warn io.Writer) ([]kgo.Opt, error) {
	var opts []kgo.Opt
	for _, k := range sortedKeys(cc) {
		v := strings.TrimSpace(cc[k])
		n, nok := intAtLeast(v, 32, 1)
		ms := time.Duration(n) * time.Millisecond
		if opt, ok := commonOpt(k, v, warn); ok {
			if opt != nil {
				opts = append(opts, opt)
			}
			continue
		}
		switch k {
		case "fetch.max.bytes", "max.partition.fetch.bytes", "fetch.min.bytes", "fetch.max.wait.ms",
			"session.timeout.ms", "heartbeat.interval.ms", "rebalance.timeout.ms":
			if !nok {
				return nil, Usagef("consumer property %s=%q: want a positive integer", k, v)
			}
		}
		switch k {
		case "group.id", "auto.offset.reset":
		case "fetch.max.bytes":
			opts = append(opts, kgo.FetchMaxBytes(int32(n)))
		case "max.partition.fetch.bytes":
			opts = append(opts, kgo.FetchMaxPartitionBytes(int32(n)))
		case "fetch.min.bytes":
			opts = append(opts, kgo.FetchMinBytes(int32(n)))
		case "fetch.max.wait.ms":
			opts = append(opts, kgo.FetchMaxWait(ms))
		case "session.timeout.ms":
			opts = append(opts, kgo.SessionTimeout(ms))
		case "heartbeat.interval.ms":
			opts = append(opts, kgo.HeartbeatInterval(ms))
		case "rebalance.timeout.ms":
			opts = append(opts, kgo.RebalanceTimeout(ms))
		case "isolation.level":
			il, err := IsolationLevel(v)
			if err != nil {
				return nil, Usagef("consumer property isolation.level=%q: %v", v, err)
			}
			opts = append(opts, kgo.FetchIsolationLevel(il))
		default:
			if !consumerIgnored[k] {
				fmt.Fprintf(warn, "WARN: ignoring unknown consumer property %s\n", k)
			}
		}
	}
	return opts, nil
}

// IsolationLevel parses read_uncommitted or read_committed.
func IsolationLevel(v string) (kgo.IsolationLevel, error) {
	switch v {
	case "read_uncommitted":
		return kgo.ReadUncommitted(), nil
	case "read_committed":
		return kgo.ReadCommitted(), nil
	}
	return kgo.IsolationLevel{}, fmt.Errorf("want read_uncommitted or read_committed")
}

// AdminClient connects an admin tool's client: the --command-config file
// (may be "") applied with AdminOpts, its bootstrap.servers used when
// bootstrap is empty.
func AdminClient(bootstrap, commandConfig string, warn io.Writer) (*kgo.Client, error) {
	cc, err := LoadClientConfig([]string{commandConfig}, nil, "")
	if err != nil {
		return nil, err
	}
	return NewClient(BootstrapFrom(bootstrap, cc), AdminOpts(cc, warn)...)
}
