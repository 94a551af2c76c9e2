package compat

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

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
		// Followers that miss a few seconds leave the ISR and come back
		// fast (the leader-kill subtests restart a killed broker).
		// __consumer_offsets at Kafka's RF 3, so that groups survive the
		// kills too.
		bs = append(bs, c.StartBroker(id, "replica.lag.time.max.ms=3000", "replica.fetch.wait.max.ms=200",
			"offsets.topic.replication.factor=3"))
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
	for i, cl := range clients {
		t.Run(cl.name+"/leader-kill", func(t *testing.T) {
			victim := bs[1+i%2] // never the bootstrap broker
			acrossLeaderKill(t, bs, victim, caseSpec{codec: multiPartitionCodec, partitions: 6, gen: cl.gen, failover: true}, cl.rt)
		})
	}
}

// acrossLeaderKill runs a client's round trip on a topic of replication
// factor 3 (min.insync.replicas=2) right after kill -9 of victim, a broker
// that leads some of its partitions: the client's first metadata still
// names the dead leader until the controller sees the broker's ZooKeeper
// session expire and elects new leaders from the ISR, so the client must
// ride out the fail-over. Then the case's checks: the client read back
// exactly what it sent, franz-go reads the same, the stored batches are
// well formed. The victim is restarted at the end.
func acrossLeaderKill(t *testing.T, bs []*clustertest.Broker, victim *clustertest.Broker, cs caseSpec, rt roundTrip) {
	bootstrap := bs[0].Addr()
	topic := topicFor(t)
	adm := kadm.NewClient(newKgo(t, bootstrap, kgo.MetadataMinAge(10*time.Millisecond)))
	two := "2"
	// The broker killed by the case before may still be registering.
	clustertest.Eventually(t, "topic "+topic+" created at RF 3", func(ctx context.Context) error {
		resp, err := adm.CreateTopic(ctx, cs.partitions, 3, map[string]*string{"min.insync.replicas": &two}, topic)
		if err == nil && !errors.Is(resp.Err, kerr.TopicAlreadyExists) {
			err = resp.Err
		}
		return err
	})
	fullISR := func(ctx context.Context) error {
		md, err := adm.Metadata(ctx, topic)
		if err != nil {
			return err
		}
		led := 0
		for _, pd := range md.Topics[topic].Partitions {
			if len(pd.ISR) != 3 {
				return fmt.Errorf("partition %d: ISR %v", pd.Partition, pd.ISR)
			}
			if pd.Leader == victim.ID {
				led++
			}
		}
		if led == 0 {
			return fmt.Errorf("broker %d leads no partition of %s", victim.ID, topic)
		}
		return nil
	}
	clustertest.Eventually(t, "a full ISR everywhere", fullISR)
	victim.Kill()
	// Restarted however the case ends, so that the next case has three
	// brokers.
	defer func() {
		require.NoError(t, victim.Start())
		victim.WaitListening()
	}()

	runCaseOn(t, bootstrap, topic, cs, rt)
}
