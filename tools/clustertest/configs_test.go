package clustertest_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"testing"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strom-broker/strom/tools/clustertest"
)

// TestTopicConfigChangesReachEveryBroker: a topic config change reaches
// the leaders on all three brokers through Kafka's notification protocol,
// whether a plain ZooKeeper client makes it the way Kafka's tools did
// (write /config/topics/<t>, then a sequential /config/changes entry) or
// AlterConfigs on one broker does. max.message.bytes is the witness: each
// partition's leader refuses or takes a 2,000-byte record.
func TestTopicConfigChangesReachEveryBroker(t *testing.T) {
	c, bs := startThree(t)
	zkc := plainZK(t, c.Connect)
	require.NoError(t, zkc.Create("/brokers/topics/sized", []byte(`{"version":1,"partitions":{"0":[1],"1":[2],"2":[3]}}`)))
	prod := client(t, addrs(bs...), kgo.DefaultProduceTopic("sized"), kgo.DisableIdempotentWrite(),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.RecordRetries(3))
	big := make([]byte, 2000) // random: it must not compress below 1,000 bytes
	_, err := rand.Read(big)
	require.NoError(t, err)
	// produceAll sends the big record to every partition and returns the
	// errors by partition.
	produceAll := func(ctx context.Context) []error {
		var errs []error
		for p := int32(0); p < 3; p++ {
			errs = append(errs, prod.ProduceSync(ctx, &kgo.Record{Partition: p, Value: big}).FirstErr())
		}
		return errs
	}
	clustertest.Eventually(t, "every partition takes a big record", func(ctx context.Context) error {
		return errors.Join(produceAll(ctx)...)
	})

	// Kafka's ZooKeeper path, by hand.
	_, err = zkc.Conn.Create(zkc.root+"/config/topics/sized", []byte(`{"version":1,"config":{"max.message.bytes":"1000"}}`), 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)
	_, err = zkc.Conn.Create(zkc.root+"/config/changes/config_change_", []byte(`{"version":2,"entity_path":"topics/sized"}`), zk.FlagSequence, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)
	clustertest.Eventually(t, "every leader refuses the big record", func(ctx context.Context) error {
		for p, err := range produceAll(ctx) {
			if !errors.Is(err, kerr.MessageTooLarge) {
				return fmt.Errorf("partition %d: %v", p, err)
			}
		}
		return nil
	})

	// AlterConfigs on broker 2 raises it again for all three.
	adm := kadm.NewClient(client(t, addrs(bs[1])))
	resp, err := adm.AlterTopicConfigsState(context.Background(), []kadm.AlterConfig{{Name: "max.message.bytes", Value: kadm.StringPtr("100000")}}, "sized")
	require.NoError(t, err)
	require.NoError(t, resp[0].Err)
	clustertest.Eventually(t, "every leader takes the big record again", func(ctx context.Context) error {
		return errors.Join(produceAll(ctx)...)
	})
}
