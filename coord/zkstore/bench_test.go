package zkstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/require"

	"github.com/strom-broker/strom/coord/store"
	"github.com/strom-broker/strom/coord/store/storetest"
	"github.com/strom-broker/strom/coord/zkstore"
	"github.com/strom-broker/strom/coord/znode"
)

// BenchmarkSetPartitionStates measures a batch of conditional state writes
// through the store against the same writes sent as one raw go-zookeeper
// multi (the baseline: what ZooKeeper itself costs). The store adds the
// reads it validates the batch with (assignment, partition nodes).
func BenchmarkSetPartitionStates(b *testing.B) {
	for _, n := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("partitions=%d/store", n), func(b *testing.B) { benchStates(b, n, false) })
		b.Run(fmt.Sprintf("partitions=%d/raw-multi", n), func(b *testing.B) { benchStates(b, n, true) })
	}
}

func benchStates(b *testing.B, n int, raw bool) {
	ctx := context.Background()
	chroot := fmt.Sprintf("/bench/%s-%d", sanitize(b.Name()), chroots.Add(1))
	s, err := zkstore.Open(ctx, zkstore.Config{Connect: ens.Connect() + chroot, SessionTimeout: sessionTimeout, Logger: quietLogger()})
	require.NoError(b, err)
	defer s.Close()
	require.NoError(b, s.CreateTopic(ctx, storetest.Assignment("t", n, 1), nil))
	updates := make([]store.PartitionStateUpdate, n)
	for p := range n {
		updates[p] = store.PartitionStateUpdate{Partition: store.TopicPartition{Topic: "t", Partition: int32(p)},
			State: store.PartitionState{Leader: 1, ISR: []int32{1}}, ExpectedVersion: store.NewVersion}
	}
	_, err = s.SetPartitionStates(ctx, updates)
	require.NoError(b, err)
	c, _, err := zk.Connect(ens.Servers(), sessionTimeout, zk.WithLogInfo(false), zk.WithLogger(nopLogger{}))
	require.NoError(b, err)
	defer c.Close()

	b.ResetTimer()
	for i := range b.N {
		for p := range updates {
			updates[p].ExpectedVersion = int32(i)
			updates[p].State.LeaderEpoch = int32(i + 1)
		}
		if raw {
			ops := make([]any, n)
			for p, u := range updates {
				ops[p] = &zk.SetDataRequest{Path: chroot + znode.PartitionStatePath(u.Partition),
					Data: znode.EncodePartitionState(u.State), Version: u.ExpectedVersion}
			}
			_, err = c.Multi(ops...)
		} else {
			_, err = s.SetPartitionStates(ctx, updates)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpenWatching measures Open of a store over a cluster of 10,000
// partitions with states in 10 topics: it arms its watches (one per topic,
// none per partition state) before it returns.
func BenchmarkOpenWatching(b *testing.B) {
	ctx := context.Background()
	const topics, perTopic = 10, 1000
	chroot := fmt.Sprintf("/bench/open-%d", chroots.Add(1))
	s, err := zkstore.Open(ctx, zkstore.Config{Connect: ens.Connect() + chroot, SessionTimeout: sessionTimeout, Logger: quietLogger()})
	require.NoError(b, err)
	for i := range topics {
		name := fmt.Sprintf("t%d", i)
		require.NoError(b, s.CreateTopic(ctx, storetest.Assignment(name, perTopic, 1), nil))
		updates := make([]store.PartitionStateUpdate, perTopic)
		for p := range perTopic {
			updates[p] = store.PartitionStateUpdate{Partition: store.TopicPartition{Topic: name, Partition: int32(p)},
				State: store.PartitionState{Leader: 1, ISR: []int32{1}}, ExpectedVersion: store.NewVersion}
		}
		_, err = s.SetPartitionStates(ctx, updates)
		require.NoError(b, err)
	}
	require.NoError(b, s.Close())

	b.ResetTimer()
	var opening time.Duration
	for range b.N {
		start := time.Now()
		o, err := zkstore.Open(ctx, zkstore.Config{Connect: ens.Connect() + chroot, SessionTimeout: sessionTimeout, Logger: quietLogger()})
		require.NoError(b, err)
		opening += time.Since(start)
		require.NoError(b, o.Close())
	}
	b.ReportMetric(float64(opening.Milliseconds())/float64(b.N), "ms/open")
	b.ReportMetric(topics*perTopic, "partitions")
}

// BenchmarkPartitionStates measures reading every partition state of a
// 10,000-partition topic, as a new controller does on fail-over.
func BenchmarkPartitionStates(b *testing.B) {
	ctx := context.Background()
	const n = 10000
	chroot := fmt.Sprintf("/bench/states-%d", chroots.Add(1))
	s, err := zkstore.Open(ctx, zkstore.Config{Connect: ens.Connect() + chroot, SessionTimeout: sessionTimeout, Logger: quietLogger()})
	require.NoError(b, err)
	defer s.Close()
	require.NoError(b, s.CreateTopic(ctx, storetest.Assignment("t", n, 1), nil))
	for start := 0; start < n; start += 1000 {
		updates := make([]store.PartitionStateUpdate, 1000)
		for i := range updates {
			updates[i] = store.PartitionStateUpdate{Partition: store.TopicPartition{Topic: "t", Partition: int32(start + i)},
				State: store.PartitionState{Leader: 1, ISR: []int32{1}}, ExpectedVersion: store.NewVersion}
		}
		_, err = s.SetPartitionStates(ctx, updates)
		require.NoError(b, err)
	}
	b.ResetTimer()
	for range b.N {
		states, err := s.PartitionStates(ctx, "t")
		require.NoError(b, err)
		require.Len(b, states, n)
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/read-all")
}
