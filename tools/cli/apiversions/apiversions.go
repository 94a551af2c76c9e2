// Package apiversions is `strom broker-api-versions`
// (kafka-broker-api-versions.sh): the API versions each broker supports,
// in Kafka's layout, with the version this client would use.
package apiversions

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/tools/cli/clitool"
)

const synopsis = `Usage: strom broker-api-versions --bootstrap-server HOST:PORT

Prints, for every broker, each Kafka API with the versions it supports:

  localhost:9092 (id: 0 rack: null) -> (
  	Produce(0): 0 to 11 [usable: 11],
  	...
  	LeaderAndIsr(4): UNSUPPORTED,
  	...
  )`

// Run is the `broker-api-versions` subcommand.
func Run(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := clitool.NewFlagSet("broker-api-versions", synopsis)
	bootstrap := clitool.Bootstrap(fs)
	commandConfig := clitool.CommandConfig(fs)
	if done, code := fs.Parse(args, stdout, stderr); done {
		return code
	}
	if err := run(ctx, *bootstrap, *commandConfig, stdout, stderr); err != nil {
		return clitool.Fail(stderr, err)
	}
	return clitool.ExitOK
}

func run(ctx context.Context, bootstrap, commandConfig string, stdout, stderr io.Writer) error {
	if err := clitool.Required("bootstrap-server", bootstrap); err != nil {
		return err
	}
	cl, err := clitool.AdminClient(bootstrap, commandConfig, stderr)
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	meta, err := adm.BrokerMetadata(ctx)
	if err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	versions, err := adm.ApiVersions(ctx)
	if err != nil {
		return fmt.Errorf("api versions: %w", err)
	}
	brokers := meta.Brokers
	sort.Slice(brokers, func(i, j int) bool { return brokers[i].NodeID < brokers[j].NodeID })
	for _, b := range brokers {
		v, ok := versions[b.NodeID]
		if !ok || v.Err != nil {
			return fmt.Errorf("broker %d (%s:%d): no api versions: %v", b.NodeID, b.Host, b.Port, v.Err)
		}
		rack := "null"
		if b.Rack != nil {
			rack = *b.Rack
		}
		fmt.Fprintf(stdout, "%s:%d (id: %d rack: %s) -> (\n", b.Host, b.Port, b.NodeID, rack)
		keys := knownKeys(&v)
		for i, key := range keys {
			sep := ","
			if i == len(keys)-1 {
				sep = ""
			}
			fmt.Fprintf(stdout, "\t%s%s\n", apiLine(&v, key), sep)
		}
		fmt.Fprintln(stdout, ")")
	}
	return nil
}

// knownKeys are every API key the client knows or the broker advertises.
func knownKeys(v *kadm.BrokerApiVersions) []int16 {
	set := map[int16]bool{}
	for k := int16(0); k <= kmsg.MaxKey; k++ {
		if kmsg.NameForKey(k) != "" {
			set[k] = true
		}
	}
	v.EachKeySorted(func(key, _, _ int16) { set[key] = true })
	keys := make([]int16, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	return keys
}

// javaName turns franz-go's API names into Kafka's (LeaderAndISR ->
// LeaderAndIsr, InitProducerID -> InitProducerId, DescribeACLs ->
// DescribeAcls, ...).
var javaName = strings.NewReplacer("ISR", "Isr", "SASL", "Sasl", "ACLs", "Acls", "SCRAM", "Scram", "IDs", "Ids", "ID", "Id")

// apiLine is Kafka's "Name(key): min to max [usable: u]" (or
// "Name(key): UNSUPPORTED"); usable is the highest version both sides
// speak.
func apiLine(v *kadm.BrokerApiVersions, key int16) string {
	name := javaName.Replace(kmsg.NameForKey(key))
	if name == "" {
		name = fmt.Sprintf("UNKNOWN_%d", key)
	}
	lo, hi, ok := v.KeyVersions(key)
	if !ok {
		return fmt.Sprintf("%s(%d): UNSUPPORTED", name, key)
	}
	r := fmt.Sprintf("%s(%d): %d to %d", name, key, lo, hi)
	if req := kmsg.RequestForKey(key); req != nil {
		if usable := min(hi, req.MaxVersion()); usable >= lo {
			return fmt.Sprintf("%s [usable: %d]", r, usable)
		}
		return r + " [usable: NONE]"
	}
	return r
}
