package compat

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/strom-broker/strom/coord/zktest"
	"github.com/strom-broker/strom/tools/clustertest"
)

// TestClientsOnCluster runs the six clients against a ZooKeeper-coordinated
// cluster of three strom processes: each produces and consumes a
// 6-partition topic whose leaders are on all three brokers (the case
// harness's checks: what the client read, what franz-go reads back, the
// stored batches), and consumes as a group, committing and resuming, with
// the group's coordinator on whichever broker leads its __consumer_offsets
// partition. The clients are given one broker and find the others.
func TestClientsOnCluster(t *testing.T) {
	ens, err := zktest.Start(zktest.Options{Nodes: 3})
	require.NoError(t, err)
	t.Cleanup(func() { _ = ens.Close() })
	c := clustertest.NewCluster(t, ens)
	var bs []*clustertest.Broker
	for id := int32(1); id <= 3; id++ {
		bs = append(bs, c.StartBroker(id))
	}
	bootstrap := bs[0].Addr()
	adm := kadm.NewClient(newKgo(t, bootstrap))
	clustertest.Eventually(t, "three brokers", func(ctx context.Context) error {
		md, err := adm.Metadata(ctx)
		if err != nil {
			return err
		}
		if len(md.Brokers) != 3 {
			return fmt.Errorf("%d brokers", len(md.Brokers))
		}
		return nil
	})

	python := requirePythonKafka(t)
	node, modules := requireKafkaJS(t)
	requireCommand(t, "kcat")
	// kcat prints tab-separated text lines and sends one set of headers
	// per run (as TestKcat generates its records).
	rng := newRNG(t)
	kcatGen := genOpts{text: true, fixedHeaders: []header{{Key: "trace-id", Value: randBytes(rng, hexAlphabet, 16)}}}
	clients := []struct {
		name  string
		gen   genOpts
		rt    roundTrip
		group groupConsume
	}{
		{"kcat", kcatGen, kcatRoundTrip, kcatGroup},
		{"kafka-python", genOpts{}, kafkaPythonRoundTrip(python, testdataPath(t, "kafka_python_roundtrip.py")),
			kafkaPythonGroup(python, testdataPath(t, "kafka_python_group.py"))},
		{"franz-go", genOpts{}, franzRoundTrip, nil},
		{"sarama", genOpts{}, saramaRoundTrip, saramaGroup},
		{"kafka-go", genOpts{}, kafkaGoRoundTrip, kafkaGoGroup},
		{"kafkajs", genOpts{}, kafkaJSRoundTrip(node, modules, testdataPath(t, "kafkajs_roundtrip.js")),
			kafkaJSGroup(node, modules, testdataPath(t, "kafkajs_group.js"))},
	}
	for _, cl := range clients {
		t.Run(cl.name, func(t *testing.T) {
			runCase(t, bootstrap, caseSpec{codec: multiPartitionCodec, partitions: 6, gen: cl.gen}, cl.rt)
			if cl.group != nil {
				runGroupClientOn(t, bootstrap, cl.group)
			}
		})
	}
}
