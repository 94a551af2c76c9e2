package clustertest_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strom-broker/strom/tools/clustertest"
)

// TestGeneratedBrokerID: a broker with broker.id=-1 gets an id above
// reserved.broker.max.id from ZooKeeper, keeps it across a restart
// (meta.properties), appears in Metadata and leads partitions of topics
// created afterwards.
func TestGeneratedBrokerID(t *testing.T) {
	c := clustertest.NewCluster(t, ens)
	first := c.StartBroker(1)
	auto := c.StartBroker(-1)
	var id int32
	clustertest.Eventually(t, "the new broker is listed", func(ctx context.Context) error {
		md, err := metadataFrom(ctx, t, first)
		if err != nil {
			return err
		}
		for _, n := range md.Brokers.NodeIDs() {
			if n != 1 {
				id = n
				return nil
			}
		}
		return fmt.Errorf("brokers %v", md.Brokers.NodeIDs())
	})
	assert.GreaterOrEqual(t, id, int32(1001), "generated ids start above reserved.broker.max.id (1000)")

	auto.Stop()
	require.NoError(t, auto.Start())
	auto.WaitListening()
	waitBrokers(t, []*clustertest.Broker{first}, 1, id)

	adm := kadm.NewClient(client(t, addrs(first)))
	resp, err := adm.CreateTopic(context.Background(), 8, 1, nil, "later")
	require.NoError(t, err)
	require.NoError(t, resp.Err)
	clustertest.Eventually(t, "the generated broker leads partitions", func(ctx context.Context) error {
		l, err := leaders(ctx, t, auto, "later")
		if err != nil {
			return err
		}
		for _, leader := range l {
			if leader == id {
				return nil
			}
		}
		return fmt.Errorf("leaders %v", l)
	})
}

// TestDuplicateBrokerIDExits: a second live broker with the same id exits
// non-zero with a clear error; the first keeps serving.
func TestDuplicateBrokerIDExits(t *testing.T) {
	c := clustertest.NewCluster(t, ens)
	first := c.StartBroker(7)
	dup := c.NewBroker(7)
	require.NoError(t, dup.Start())
	assert.NotEqual(t, 0, dup.WaitExit())
	assert.Contains(t, dup.Log(), "broker.id 7 is registered by another live broker")
	waitBrokers(t, []*clustertest.Broker{first}, 7)
}

// TestZooKeeperUnreachableExits: no ZooKeeper at zookeeper.connect is a
// clear error after zookeeper.connection.timeout.ms and a non-zero exit.
func TestZooKeeperUnreachableExits(t *testing.T) {
	c := clustertest.NewCluster(t, ens)
	b := c.NewBroker(1, "zookeeper.connect=127.0.0.1:1", "zookeeper.connection.timeout.ms=1500")
	require.NoError(t, b.Start())
	assert.NotEqual(t, 0, b.WaitExit())
	assert.Contains(t, b.Log(), "127.0.0.1:1")
	assert.Contains(t, b.Log(), "unavailable")
}

// TestWrongClusterExits: a log dir whose meta.properties names another
// cluster is refused, naming both cluster ids.
func TestWrongClusterExits(t *testing.T) {
	c := clustertest.NewCluster(t, ens)
	first := c.StartBroker(1)
	_ = first
	b := c.NewBroker(2)
	require.NoError(t, os.MkdirAll(b.Dir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(b.Dir, "meta.properties"),
		[]byte("version=0\nbroker.id=2\ncluster.id=AAAAAAAAAAAAAAAAAAAAAA\n"), 0o644))
	require.NoError(t, b.Start())
	assert.NotEqual(t, 0, b.WaitExit())
	assert.Contains(t, b.Log(), "AAAAAAAAAAAAAAAAAAAAAA")
	assert.Contains(t, b.Log(), "wrong cluster")
}

// TestTopicWrittenWithPlainZooKeeperClient: a topic created the 0.8 way,
// by writing its assignment znode, is served by the assigned brokers.
func TestTopicWrittenWithPlainZooKeeperClient(t *testing.T) {
	c, bs := startThree(t)
	zkc := plainZK(t, c.Connect)
	require.NoError(t, zkc.Create("/brokers/topics/handmade", []byte(`{"version":1,"partitions":{"0":[2],"1":[3]}}`)))
	clustertest.Eventually(t, "the topic is served", func(ctx context.Context) error {
		l, err := leaders(ctx, t, bs[0], "handmade")
		if err != nil {
			return err
		}
		if l[0] != 2 || l[1] != 3 {
			return fmt.Errorf("leaders %v", l)
		}
		return nil
	})
	clustertest.Eventually(t, "the controller gave the topic an id", func(ctx context.Context) error {
		data, _, err := zkc.Get("/brokers/topics/handmade")
		if err != nil {
			return err
		}
		if !strings.Contains(string(data), `"topic_id":"`) {
			return fmt.Errorf("znode %s", data)
		}
		md, err := metadataFrom(ctx, t, bs[1], "handmade")
		if err != nil {
			return err
		}
		if md.Topics["handmade"].ID == ([16]byte{}) {
			return fmt.Errorf("metadata shows no topic id")
		}
		return nil
	})
	prod := client(t, addrs(bs[0]), kgo.DefaultProduceTopic("handmade"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for p := int32(0); p < 2; p++ {
		require.NoError(t, prod.ProduceSync(context.Background(), &kgo.Record{Partition: p, Value: []byte("v")}).FirstErr())
	}
}
