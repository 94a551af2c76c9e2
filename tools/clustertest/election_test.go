package clustertest_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/tools/clustertest"
)

// TestLeaderElectionTool: kafka-leader-election.sh against the cluster. A
// partition whose in-sync replicas all died stays offline when a replica
// outside its ISR comes back (unclean election is off by default); an
// UNCLEAN election makes that replica its leader. A PREFERRED election of
// a partition its preferred replica leads needs none.
func TestLeaderElectionTool(t *testing.T) {
	_, bs := startThree(t)
	ctx := context.Background()
	cl := client(t, addrs(bs...))
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 30000
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = "elect", -1, -1
	for p, replicas := range [][]int32{{1, 2}, {3, 1}} {
		a := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
		a.Partition, a.Replicas = int32(p), replicas
		rt.ReplicaAssignment = append(rt.ReplicaAssignment, a)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	require.NoError(t, err)
	require.Zero(t, resp.Topics[0].ErrorCode)

	leaderOf := func(p int32) func(context.Context) (int32, error) {
		return func(ctx context.Context) (int32, error) {
			l, err := leaders(ctx, t, bs[2], "elect")
			return l[p], err
		}
	}
	waitLeader := func(what string, p, want int32) {
		clustertest.Eventually(t, what, func(ctx context.Context) error {
			got, err := leaderOf(p)(ctx)
			if err != nil || got != want {
				return fmt.Errorf("leader %d (%v), want %d", got, err, want)
			}
			return nil
		})
	}
	waitLeader("partition 0 led by 1", 0, 1)
	bs[0].Kill() // broker 1: leadership moves to 2, the ISR shrinks to {2}
	waitLeader("partition 0 led by 2", 0, 2)
	bs[1].Kill() // broker 2: no in-sync replica is left
	waitLeader("partition 0 offline", 0, -1)
	require.NoError(t, bs[0].Start()) // broker 1 is back, but not in the ISR
	bs[0].WaitListening()
	waitBrokers(t, bs[2:], 1, 3)
	got, err := leaderOf(0)(ctx)
	require.NoError(t, err)
	assert.Equal(t, int32(-1), got, "no clean leader: the partition stays offline")

	out, errOut, code := script(t, "", "kafka-leader-election.sh", "--bootstrap-server", bs[2].Addr(),
		"--election-type", "UNCLEAN", "--topic", "elect", "--partition", "0")
	require.Equal(t, 0, code, "stdout %s stderr %s", out, errOut)
	assert.Equal(t, "Successfully completed leader election (UNCLEAN) for partitions elect-0\n", out)
	waitLeader("partition 0 led by 1 after the unclean election", 0, 1)

	out, errOut, code = script(t, "", "kafka-leader-election.sh", "--bootstrap-server", bs[2].Addr(),
		"--election-type", "PREFERRED", "--topic", "elect", "--partition", "1")
	require.Equal(t, 0, code, "stdout %s stderr %s", out, errOut)
	assert.Equal(t, "Valid replica already elected for partitions elect-1\n", out)
}

// TestPreferredElectionZnode: a preferred-leader election requested the
// way Kafka's kafka-preferred-replica-election.sh --zookeeper does it, by
// writing /admin/preferred_replica_election: the controller moves the
// leadership back to the preferred replica (it is back in the ISR) and
// deletes the request.
func TestPreferredElectionZnode(t *testing.T) {
	c, bs := startThree(t)
	ctx := context.Background()
	cl := client(t, addrs(bs...))
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 30000
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = "pref", -1, -1
	a := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
	a.Partition, a.Replicas = 0, []int32{1, 2}
	rt.ReplicaAssignment = append(rt.ReplicaAssignment, a)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	require.NoError(t, err)
	require.Zero(t, resp.Topics[0].ErrorCode)
	waitPartitionLeader(t, bs[2], "pref", 0, 1)

	bs[0].Kill()
	waitPartitionLeader(t, bs[2], "pref", 0, 2)
	require.NoError(t, bs[0].Start())
	bs[0].WaitListening()
	waitBrokers(t, bs[1:], 1, 2, 3)

	// Broker 1 caught up and is back in the ISR (what the leader's ISR
	// expansion writes; done by hand here).
	zkc := plainZK(t, c.Connect)
	st := partitionState(t, zkc, "pref", 0)
	data := fmt.Sprintf(`{"version":1,"leader":2,"leader_epoch":%d,"isr":[2,1],"controller_epoch":%d}`, st.LeaderEpoch, st.ControllerEpoch)
	_, err = zkc.Conn.Set(c.Chroot+"/brokers/topics/pref/partitions/0/state", []byte(data), -1)
	require.NoError(t, err)

	require.NoError(t, zkc.Create("/admin/preferred_replica_election", []byte(`{"version":1,"partitions":[{"topic":"pref","partition":0}]}`)))
	waitPartitionLeader(t, bs[2], "pref", 0, 1)
	clustertest.Eventually(t, "the request is deleted", func(context.Context) error {
		if _, _, err := zkc.Get("/admin/preferred_replica_election"); err == nil {
			return fmt.Errorf("still there")
		}
		return nil
	})
}

// waitPartitionLeader waits until b reports leader for topic's partition p.
func waitPartitionLeader(t *testing.T, b *clustertest.Broker, topic string, p, leader int32) {
	t.Helper()
	clustertest.Eventually(t, fmt.Sprintf("%s-%d led by %d", topic, p, leader), func(ctx context.Context) error {
		l, err := leaders(ctx, t, b, topic)
		if err != nil || l[p] != leader {
			return fmt.Errorf("leader %d (%v)", l[p], err)
		}
		return nil
	})
}

// TestAutoLeaderRebalance: with auto.leader.rebalance.enable (Kafka's
// default) the controller moves leadership back to the preferred replicas
// by itself once they are in the ISR again.
func TestAutoLeaderRebalance(t *testing.T) {
	c := clustertest.NewCluster(t, ens)
	var bs []*clustertest.Broker
	for id := int32(1); id <= 3; id++ {
		bs = append(bs, c.StartBroker(id, "leader.imbalance.check.interval.seconds=1"))
	}
	waitBrokers(t, bs, 1, 2, 3)
	ctx := context.Background()
	cl := client(t, addrs(bs...))
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 30000
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = "balanced", -1, -1
	for p := int32(0); p < 4; p++ {
		a := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
		a.Partition, a.Replicas = p, []int32{1, 2}
		rt.ReplicaAssignment = append(rt.ReplicaAssignment, a)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	require.NoError(t, err)
	require.Zero(t, resp.Topics[0].ErrorCode)

	bs[0].Kill()
	for p := int32(0); p < 4; p++ {
		waitPartitionLeader(t, bs[2], "balanced", p, 2)
	}
	require.NoError(t, bs[0].Start())
	bs[0].WaitListening()
	zkc := plainZK(t, c.Connect)
	for p := 0; p < 4; p++ { // broker 1 caught up (by hand: no followers yet)
		st := partitionState(t, zkc, "balanced", p)
		data := fmt.Sprintf(`{"version":1,"leader":2,"leader_epoch":%d,"isr":[2,1],"controller_epoch":%d}`, st.LeaderEpoch, st.ControllerEpoch)
		_, err := zkc.Conn.Set(fmt.Sprintf("%s/brokers/topics/balanced/partitions/%d/state", c.Chroot, p), []byte(data), -1)
		require.NoError(t, err)
	}
	for p := int32(0); p < 4; p++ {
		waitPartitionLeader(t, bs[2], "balanced", p, 1)
	}
}
