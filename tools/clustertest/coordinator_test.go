package clustertest_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	netclient "github.com/strom-broker/strom/net/client"
	"github.com/strom-broker/strom/tools/clustertest"
)

// TestCoordinatorMovesWithOffsetsLeader: with __consumer_offsets at
// replication factor 3 (Kafka's default), a group's committed offsets
// survive kill -9 of its coordinator's broker: the group's offsets
// partition gets a new leader from its ISR, that broker loads the group
// and becomes the coordinator, and a consumer of the group resumes exactly
// at the committed offsets.
func TestCoordinatorMovesWithOffsetsLeader(t *testing.T) {
	c := clustertest.NewCluster(t, ens)
	var bs []*clustertest.Broker
	conf := append([]string{"offsets.topic.replication.factor=3", "offsets.topic.num.partitions=3"}, replicatedConfig...)
	for id := int32(1); id <= 3; id++ {
		bs = append(bs, c.StartBroker(id, conf...))
	}
	waitBrokers(t, bs, 1, 2, 3)
	ctx := context.Background()
	adm := kadm.NewClient(client(t, addrs(bs...)))
	resp, err := adm.CreateTopic(ctx, 3, 3, nil, "orders")
	require.NoError(t, err)
	require.NoError(t, resp.Err)

	const first = 300
	produce := func(from, n int) {
		prod := client(t, addrs(bs...), kgo.DefaultProduceTopic("orders"))
		for i := from; i < from+n; i++ {
			prod.Produce(ctx, &kgo.Record{Value: []byte(fmt.Sprint(i))}, nil)
		}
		require.NoError(t, prod.Flush(ctx))
	}
	// consume reads records of the group until it has n, commits, and
	// returns their values.
	consume := func(n int) []string {
		cons, err := kgo.NewClient(kgo.SeedBrokers(addrs(bs...)...), kgo.ConsumerGroup("g"), kgo.ConsumeTopics("orders"),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit(),
			// The group record of the first consumer's leaving may not have
			// reached the followers before the kill (it is written after
			// LeaveGroup is answered, as in Kafka): the new coordinator then
			// waits for that member's session to time out.
			kgo.SessionTimeout(6*time.Second))
		require.NoError(t, err)
		defer cons.Close()
		var got []string
		pctx, cancel := context.WithTimeout(ctx, clustertest.Deadline)
		defer cancel()
		for len(got) < n {
			fs := cons.PollFetches(pctx)
			require.NoError(t, pctx.Err(), "consumed %d of %d", len(got), n)
			fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
		}
		require.NoError(t, cons.CommitUncommittedOffsets(ctx))
		return got
	}
	produce(0, first)
	require.Len(t, consume(first), first)

	// The group's offsets partition is replicated on all three brokers
	// before its leader dies.
	var coordinator int32
	clustertest.Eventually(t, "the group's offsets partition has a full ISR", func(ctx context.Context) error {
		found, ok := adm.FindGroupCoordinators(ctx, "g")["g"]
		if !ok || found.Err != nil {
			return fmt.Errorf("coordinator: %+v", found)
		}
		coordinator = found.NodeID
		md, err := metadataFrom(ctx, t, bs[0], "__consumer_offsets")
		if err != nil {
			return err
		}
		for _, pd := range md.Topics["__consumer_offsets"].Partitions {
			if pd.Leader == coordinator && len(pd.ISR) == 3 && len(pd.Replicas) == 3 {
				return nil
			}
		}
		return fmt.Errorf("no partition led by %d with ISR of 3: %+v", coordinator, md.Topics["__consumer_offsets"].Partitions)
	})
	bs[coordinator-1].Kill()
	survivors := slices.DeleteFunc(slices.Clone(bs), func(b *clustertest.Broker) bool { return b.ID == coordinator })
	sadm := kadm.NewClient(client(t, addrs(survivors...)))
	clustertest.Eventually(t, "another coordinator serves the committed offsets", func(ctx context.Context) error {
		for _, b := range survivors {
			id, err := findCoordinator(ctx, b, "g")
			if err != nil {
				return err
			}
			if id == coordinator {
				return fmt.Errorf("broker %d still names %d", b.ID, id)
			}
		}
		offsets, err := sadm.FetchOffsets(ctx, "g")
		if err != nil {
			return err
		}
		var total int64
		offsets.Each(func(o kadm.OffsetResponse) { total += o.At })
		if total != first {
			return fmt.Errorf("committed offsets sum to %d", total)
		}
		return nil
	})

	// A consumer of the group resumes at the committed offsets: it reads
	// the new records and none of the first ones.
	const more = 100
	produce(first, more)
	got := consume(more)
	assert.Len(t, got, more)
	for _, v := range got {
		var i int
		_, err := fmt.Sscan(v, &i)
		require.NoError(t, err)
		assert.GreaterOrEqual(t, i, first, "record %d was committed before the coordinator moved", i)
	}
}

// findCoordinator asks broker b alone (FindCoordinator v3) for group's
// coordinator.
func findCoordinator(ctx context.Context, b *clustertest.Broker, group string) (int32, error) {
	raw, err := netclient.Dial(ctx, b.Addr(), "clustertest")
	if err != nil {
		return 0, err
	}
	defer raw.Close()
	req := kmsg.NewPtrFindCoordinatorRequest()
	req.CoordinatorKey = group
	req.SetVersion(3)
	resp, err := raw.RequestVersion(ctx, req)
	if err != nil {
		return 0, err
	}
	r := resp.(*kmsg.FindCoordinatorResponse)
	if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
		return 0, fmt.Errorf("broker %d: FindCoordinator: %w", b.ID, err)
	}
	return r.NodeID, nil
}
