package clustertest_test

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/coord/zktest"
	netclient "github.com/strom-broker/strom/net/client"
	"github.com/strom-broker/strom/tools/clustertest"
)

var ens *zktest.Ensemble

func TestMain(m *testing.M) {
	zktest.Main(m, zktest.Options{Nodes: 3}, func(e *zktest.Ensemble) { ens = e })
}

// client returns a franz-go client seeded with addrs, closed when t ends.
func client(t *testing.T, addrs []string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addrs...)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(cl.Close)
	return cl
}

func addrs(bs ...*clustertest.Broker) []string {
	var out []string
	for _, b := range bs {
		out = append(out, b.Addr())
	}
	return out
}

// metadataFrom asks one broker (only that one) for the cluster metadata.
func metadataFrom(ctx context.Context, t *testing.T, b *clustertest.Broker, topics ...string) (kadm.Metadata, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.MetadataMinAge(10*time.Millisecond))
	require.NoError(t, err)
	defer cl.Close()
	return kadm.NewClient(cl).Metadata(ctx, topics...)
}

// waitBrokers waits until every broker in bs reports exactly ids as live.
func waitBrokers(t *testing.T, bs []*clustertest.Broker, ids ...int32) {
	t.Helper()
	slices.Sort(ids)
	for _, b := range bs {
		clustertest.Eventually(t, "metadata lists brokers "+fmt.Sprint(ids), func(ctx context.Context) error {
			md, err := metadataFrom(ctx, t, b)
			if err != nil {
				return err
			}
			got := md.Brokers.NodeIDs()
			slices.Sort(got)
			if !slices.Equal(got, ids) {
				return fmt.Errorf("broker at %s lists %v", b.Addr(), got)
			}
			return nil
		})
	}
}

// startThree starts brokers 1, 2, 3 and waits until each lists all three.
func startThree(t *testing.T) (*clustertest.Cluster, []*clustertest.Broker) {
	c := clustertest.NewCluster(t, ens)
	var bs []*clustertest.Broker
	for id := int32(1); id <= 3; id++ {
		bs = append(bs, c.StartBroker(id))
	}
	waitBrokers(t, bs, 1, 2, 3)
	return c, bs
}

// leaders returns each partition's leader of topic as b reports it.
func leaders(ctx context.Context, t *testing.T, b *clustertest.Broker, topic string) (map[int32]int32, error) {
	md, err := metadataFrom(ctx, t, b, topic)
	if err != nil {
		return nil, err
	}
	td, ok := md.Topics[topic]
	if !ok || td.Err != nil {
		return nil, fmt.Errorf("topic %s: %v", topic, td.Err)
	}
	out := map[int32]int32{}
	for p, pd := range td.Partitions {
		out[p] = pd.Leader
	}
	return out, nil
}

// TestThreeBrokersServeOneTopic: a topic created on one broker has leaders
// on all three, every broker reports the same metadata, and records
// produced through any broker are consumed back in order.
func TestThreeBrokersServeOneTopic(t *testing.T) {
	_, bs := startThree(t)
	ctx := context.Background()
	adm := kadm.NewClient(client(t, addrs(bs[1])))
	resp, err := adm.CreateTopic(ctx, 6, 1, nil, "six")
	require.NoError(t, err)
	require.NoError(t, resp.Err)

	var lead map[int32]int32
	for _, b := range bs {
		clustertest.Eventually(t, "every partition has a leader", func(ctx context.Context) error {
			l, err := leaders(ctx, t, b, "six")
			if err != nil {
				return err
			}
			if len(l) != 6 {
				return fmt.Errorf("%d partitions", len(l))
			}
			for p, id := range l {
				if id < 0 {
					return fmt.Errorf("partition %d has no leader", p)
				}
			}
			if lead == nil {
				lead = l
			} else if !assert.ObjectsAreEqual(lead, l) {
				return fmt.Errorf("broker %s says %v, another said %v", b.Addr(), l, lead)
			}
			return nil
		})
	}
	hosts := map[int32]bool{}
	for _, id := range lead {
		hosts[id] = true
	}
	assert.Len(t, hosts, 3, "leaders spread over all three brokers: %v", lead)

	prod := client(t, addrs(bs[0]), kgo.DefaultProduceTopic("six"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	const perPartition = 50
	for p := int32(0); p < 6; p++ {
		for i := 0; i < perPartition; i++ {
			rec := &kgo.Record{Partition: p, Value: []byte(fmt.Sprintf("%d-%d", p, i))}
			require.NoError(t, prod.ProduceSync(ctx, rec).FirstErr())
		}
	}
	cons := client(t, addrs(bs[2]), kgo.ConsumeTopics("six"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	got := map[int32][]string{}
	n := 0
	pollCtx, cancel := context.WithTimeout(ctx, clustertest.Deadline)
	defer cancel()
	for n < 6*perPartition {
		fs := cons.PollFetches(pollCtx)
		require.NoError(t, pollCtx.Err(), "consumed %d", n)
		fs.EachError(func(_ string, p int32, err error) { t.Fatalf("partition %d: %v", p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			got[r.Partition] = append(got[r.Partition], string(r.Value))
			n++
		})
	}
	for p := int32(0); p < 6; p++ {
		require.Len(t, got[p], perPartition)
		for i, v := range got[p] {
			assert.Equal(t, fmt.Sprintf("%d-%d", p, i), v)
		}
	}

	// A broker asked for a partition it does not lead sends the client to
	// the leader (NOT_LEADER_OR_FOLLOWER, with the leader in the answer).
	var p0Leader int32 = lead[0]
	other := bs[p0Leader%3] // broker id p0Leader%3+1, not the leader
	raw, err := netclient.Dial(ctx, other.Addr(), "clustertest")
	require.NoError(t, err)
	defer raw.Close()
	preq := kmsg.NewPtrProduceRequest()
	preq.Acks, preq.TimeoutMillis = 1, 30000
	pt := kmsg.NewProduceRequestTopic()
	pt.Topic = "six"
	pp := kmsg.NewProduceRequestTopicPartition()
	pp.Partition = 0
	pt.Partitions = append(pt.Partitions, pp)
	preq.Topics = append(preq.Topics, pt)
	preq.SetVersion(10)
	presp, err := raw.RequestVersion(ctx, preq)
	require.NoError(t, err)
	sp := presp.(*kmsg.ProduceResponse).Topics[0].Partitions[0]
	assert.Equal(t, kerr.NotLeaderForPartition.Code, sp.ErrorCode)
	assert.Equal(t, p0Leader, sp.CurrentLeader.LeaderID, "KIP-951: the leader is named")

	// kcat (librdkafka) sees the three brokers and the controller.
	out, err := exec.Command("kcat", "-b", bs[0].Addr(), "-L", "-t", "six").CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "3 brokers:")
	assert.Contains(t, string(out), "(controller)")
	assert.Contains(t, string(out), `topic "six" with 6 partitions`)

	// kafka-python (Debian's python3-kafka, for /usr/bin/python3) too.
	out, err = exec.Command("/usr/bin/python3", "-c", `
import sys
from kafka import KafkaConsumer
c = KafkaConsumer(bootstrap_servers=sys.argv[1])
c.topics()
print(sorted(b.nodeId for b in c._client.cluster.brokers()))
c.close()
`, bs[0].Addr()).CombinedOutput()
	require.NoError(t, err, "kafka-python: %s", out)
	assert.Equal(t, "[1, 2, 3]", strings.TrimSpace(string(out)), "kafka-python's metadata lists the three brokers")
}

// TestControllerKilled: kill -9 of the controller makes another broker
// controller with a higher epoch; RF 1 partitions the dead broker led show
// no leader and come back when it restarts.
func TestControllerKilled(t *testing.T) {
	c, bs := startThree(t)
	ctx := context.Background()
	adm := kadm.NewClient(client(t, addrs(bs...)))
	resp, err := adm.CreateTopic(ctx, 6, 1, nil, "rf1")
	require.NoError(t, err)
	require.NoError(t, resp.Err)

	zkc := plainZK(t, c.Connect)
	controller, epoch := controllerOf(t, zkc)
	dead := bs[controller-1]
	var led []int32
	clustertest.Eventually(t, "leaders known", func(ctx context.Context) error {
		l, err := leaders(ctx, t, bs[controller%3], "rf1")
		if err != nil {
			return err
		}
		led = led[:0]
		for p, id := range l {
			if id < 0 {
				return fmt.Errorf("partition %d has no leader", p)
			}
			if id == controller {
				led = append(led, p)
			}
		}
		return nil
	})
	require.NotEmpty(t, led, "the controller leads some partition")

	dead.Kill()
	survivor := bs[controller%3]
	clustertest.Eventually(t, "a new controller", func(ctx context.Context) error {
		id, e := controllerOf(t, zkc)
		if id == controller || id < 0 {
			return fmt.Errorf("controller is %d", id)
		}
		if e <= epoch {
			return fmt.Errorf("epoch %d not above %d", e, epoch)
		}
		md, err := metadataFrom(ctx, t, survivor)
		if err != nil {
			return err
		}
		if md.Controller != id {
			return fmt.Errorf("metadata names controller %d, ZooKeeper %d", md.Controller, id)
		}
		return nil
	})
	clustertest.Eventually(t, "partitions of the dead broker show no leader", func(ctx context.Context) error {
		l, err := leaders(ctx, t, survivor, "rf1")
		if err != nil {
			return err
		}
		for _, p := range led {
			if l[p] != -1 {
				return fmt.Errorf("partition %d: leader %d", p, l[p])
			}
		}
		return nil
	})

	require.NoError(t, dead.Start())
	dead.WaitListening()
	clustertest.Eventually(t, "the restarted broker leads its partitions again", func(ctx context.Context) error {
		l, err := leaders(ctx, t, survivor, "rf1")
		if err != nil {
			return err
		}
		for _, p := range led {
			if l[p] != controller {
				return fmt.Errorf("partition %d: leader %d", p, l[p])
			}
		}
		return nil
	})
}

// zkClient is a plain ZooKeeper client (as an operator's tools would use)
// whose paths are relative to a cluster's chroot.
type zkClient struct {
	*zk.Conn
	root string
}

// Get reads a znode under the chroot.
func (z zkClient) Get(p string) ([]byte, *zk.Stat, error) { return z.Conn.Get(z.root + p) }

// Create creates a persistent znode under the chroot.
func (z zkClient) Create(p string, data []byte) error {
	_, err := z.Conn.Create(z.root+p, data, 0, zk.WorldACL(zk.PermAll))
	return err
}

// plainZK connects a plain client to connect (servers and chroot).
func plainZK(t *testing.T, connect string) zkClient {
	t.Helper()
	i := strings.IndexByte(connect, '/')
	conn, _, err := zk.Connect(strings.Split(connect[:i], ","), 10*time.Second, zk.WithLogInfo(false))
	require.NoError(t, err)
	t.Cleanup(conn.Close)
	return zkClient{Conn: conn, root: connect[i:]}
}

// controllerOf reads /controller and /controller_epoch (-1 if there is no
// controller).
func controllerOf(t *testing.T, c zkClient) (int32, int32) {
	t.Helper()
	var id, epoch int32 = -1, -1
	if data, _, err := c.Get("/controller"); err == nil {
		s := string(data)
		i := strings.Index(s, `"brokerid":`)
		if i >= 0 {
			rest := s[i+len(`"brokerid":`):]
			j := strings.IndexAny(rest, ",}")
			v, _ := strconv.Atoi(rest[:j])
			id = int32(v)
		}
	}
	if data, _, err := c.Get("/controller_epoch"); err == nil {
		v, _ := strconv.Atoi(string(data))
		epoch = int32(v)
	}
	return id, epoch
}

// TestGroupsSpreadOverBrokers: group coordinators are the leaders of the
// groups' __consumer_offsets partitions, so different groups find
// different brokers; a franz-go group consumes a topic whose leaders are
// on all three brokers, and its committed offsets are read back through
// another broker.
func TestGroupsSpreadOverBrokers(t *testing.T) {
	_, bs := startThree(t)
	ctx := context.Background()
	adm := kadm.NewClient(client(t, addrs(bs[0])))
	resp, err := adm.CreateTopic(ctx, 6, 1, nil, "grouped")
	require.NoError(t, err)
	require.NoError(t, resp.Err)

	coordinators := map[int32]bool{}
	clustertest.Eventually(t, "coordinators on several brokers", func(ctx context.Context) error {
		var groups []string
		for i := 0; i < 12; i++ {
			groups = append(groups, fmt.Sprintf("g-%d", i))
		}
		found := adm.FindGroupCoordinators(ctx, groups...)
		for _, f := range found {
			if f.Err != nil {
				return f.Err
			}
			coordinators[f.NodeID] = true
		}
		if len(coordinators) < 2 {
			return fmt.Errorf("coordinators %v", coordinators)
		}
		return nil
	})

	prod := client(t, addrs(bs[1]), kgo.DefaultProduceTopic("grouped"))
	const n = 300
	for i := 0; i < n; i++ {
		prod.Produce(ctx, &kgo.Record{Key: []byte(fmt.Sprint(i)), Value: []byte(fmt.Sprint(i))}, nil)
	}
	require.NoError(t, prod.Flush(ctx))

	cons := client(t, addrs(bs[2]), kgo.ConsumerGroup("g-0"), kgo.ConsumeTopics("grouped"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	seen := map[string]bool{}
	pctx, cancel := context.WithTimeout(ctx, clustertest.Deadline)
	defer cancel()
	for len(seen) < n {
		fs := cons.PollFetches(pctx)
		require.NoError(t, pctx.Err(), "consumed %d", len(seen))
		fs.EachRecord(func(r *kgo.Record) { seen[string(r.Value)] = true })
	}
	require.NoError(t, cons.CommitUncommittedOffsets(ctx))
	offsets, err := kadm.NewClient(client(t, addrs(bs[0]))).FetchOffsets(ctx, "g-0")
	require.NoError(t, err)
	var total int64
	offsets.Each(func(o kadm.OffsetResponse) { total += o.At })
	assert.Equal(t, int64(n), total, "the committed offsets cover every record")
}
