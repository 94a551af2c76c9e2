package clustertest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/tools/clustertest"
)

// TestReassignPartitionsTool: kafka-reassign-partitions.sh on four
// brokers.
//
//  1. Decommissioning broker 1: --generate with --broker-list 2,3
//     proposes an assignment without it; --execute (with --throttle)
//     starts it; --verify reports both partitions completed and clears the
//     throttles. Every record produced before is still there, broker 1
//     holds no replica and its logs are deleted.
//  2. Cancelling: a reassignment onto a broker that cannot catch up is
//     in progress (--list shows it), --cancel moves it back.
//  3. Kafka's ZooKeeper path: a reassignment written to
//     /admin/reassign_partitions is carried out and the znode deleted.
func TestReassignPartitionsTool(t *testing.T) {
	c := clustertest.NewCluster(t, ens)
	var bs []*clustertest.Broker
	for id := int32(1); id <= 3; id++ {
		bs = append(bs, c.StartBroker(id))
	}
	// Broker 4 is live and answers, but fetches over a listener no other
	// broker has: a replica placed on it never catches up.
	isolated, err := clustertest.FreePort()
	require.NoError(t, err)
	b4 := c.NewBroker(4)
	require.NoError(t, b4.AppendConfig(
		fmt.Sprintf("listeners=PLAINTEXT://127.0.0.1:%d,ISOLATED://127.0.0.1:%d", b4.Port, isolated),
		"listener.security.protocol.map=PLAINTEXT:PLAINTEXT,ISOLATED:PLAINTEXT",
		"inter.broker.listener.name=ISOLATED"))
	require.NoError(t, b4.Start())
	b4.WaitListening()
	bs = append(bs, b4)
	waitBrokers(t, bs, 1, 2, 3, 4)
	ctrl, _ := controllerOf(t, plainZK(t, c.Connect))
	require.NotEqual(t, int32(4), ctrl, "broker 4 cannot reach the others: it must not be the controller")
	ctx := context.Background()
	cl := client(t, addrs(bs...))
	createAssigned(t, cl, "moving", map[int32][]int32{0: {1, 2}, 1: {2, 1}})
	createAssigned(t, cl, "stuck", map[int32][]int32{0: {2}})
	prod := client(t, addrs(bs...), kgo.DefaultProduceTopic("moving"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	var sent []string
	for i := range 100 {
		v := strconv.Itoa(i)
		require.NoError(t, prod.ProduceSync(ctx, &kgo.Record{Value: []byte(v), Partition: 0}).FirstErr())
		sent = append(sent, v)
	}
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
		return p
	}
	run := func(args ...string) (string, string) {
		t.Helper()
		out, errOut, code := script(t, "", "kafka-reassign-partitions.sh", append([]string{"--bootstrap-server", bs[1].Addr()}, args...)...)
		require.Equal(t, 0, code, "%v\nstdout %s\nstderr %s", args, out, errOut)
		return out, errOut
	}

	// 1. Decommission broker 1.
	out, _ := run("--generate", "--topics-to-move-json-file", write("topics.json", `{"topics":[{"topic":"moving"}],"version":1}`),
		"--broker-list", "2,3")
	require.Contains(t, out, "Current partition replica assignment\n")
	_, proposedJSON, ok := strings.Cut(out, "Proposed partition reassignment configuration\n")
	require.True(t, ok, out)
	var proposed struct {
		Partitions []struct {
			Topic     string  `json:"topic"`
			Partition int32   `json:"partition"`
			Replicas  []int32 `json:"replicas"`
		} `json:"partitions"`
	}
	require.NoError(t, json.Unmarshal([]byte(proposedJSON), &proposed), proposedJSON)
	require.Len(t, proposed.Partitions, 2)
	for _, p := range proposed.Partitions {
		assert.Len(t, p.Replicas, 2, "the replication factor is kept")
		assert.Subset(t, []int32{2, 3}, p.Replicas, "broker 1 is left out")
	}
	plan := write("plan.json", strings.TrimSpace(proposedJSON))
	out, errOut := run("--execute", "--reassignment-json-file", plan, "--throttle", "50000000")
	assert.Contains(t, out, "Save this to use as the --reassignment-json-file option during rollback\n")
	assert.Contains(t, out, "Successfully started partition reassignments for moving-0,moving-1\n")
	assert.Contains(t, errOut, "Strom's broker configs are static")
	clustertest.Eventually(t, "both reassignments completed", func(context.Context) error {
		out, _, code := script(t, "", "kafka-reassign-partitions.sh", "--bootstrap-server", bs[1].Addr(), "--verify", "--reassignment-json-file", plan)
		if code != 0 || !strings.Contains(out, "Reassignment of partition moving-0 is completed.") ||
			!strings.Contains(out, "Reassignment of partition moving-1 is completed.") {
			return fmt.Errorf("exit %d: %s", code, out)
		}
		if !strings.Contains(out, "Clearing topic-level throttles on topic moving") {
			return fmt.Errorf("throttles not cleared: %s", out)
		}
		return nil
	})
	md, err := kadm.NewClient(cl).Metadata(ctx, "moving")
	require.NoError(t, err)
	for _, p := range proposed.Partitions {
		pd := md.Topics["moving"].Partitions[p.Partition]
		assert.Equal(t, p.Replicas, pd.Replicas)
		assert.ElementsMatch(t, p.Replicas, pd.ISR)
		assert.NotEqual(t, int32(1), pd.Leader)
	}
	// A new leader's high watermark catches up with its followers' next
	// fetch (as in Kafka): wait for it, then read everything.
	clustertest.Eventually(t, "the high watermark back at 100", func(ctx context.Context) error {
		ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, "moving")
		if err != nil {
			return err
		}
		if end, _ := ends.Lookup("moving", 0); end.Err != nil || end.Offset != int64(len(sent)) {
			return fmt.Errorf("end offset %d (%v)", end.Offset, end.Err)
		}
		return nil
	})
	assert.Equal(t, sent, consumeValues(t, bs, "moving"), "every record is on the new replicas")
	clustertest.Eventually(t, "broker 1 deleted its replicas", func(context.Context) error {
		left, _ := filepath.Glob(filepath.Join(bs[0].Dir, "moving-*"))
		if len(left) > 0 {
			return fmt.Errorf("left: %v", left)
		}
		return nil
	})
	rc, err := kadm.NewClient(cl).DescribeTopicConfigs(ctx, "moving")
	require.NoError(t, err)
	for _, cfg := range rc[0].Configs {
		if cfg.Key == "leader.replication.throttled.replicas" || cfg.Key == "follower.replication.throttled.replicas" {
			assert.Empty(t, cfg.MaybeValue(), "%s cleared by --verify", cfg.Key)
		}
	}

	// 2. Cancel a reassignment that cannot complete.
	stuck := write("stuck.json", fmt.Sprintf(`{"version":1,"partitions":[{"topic":"stuck","partition":0,"replicas":[2,4]}]}`))
	out, _ = run("--execute", "--reassignment-json-file", stuck)
	assert.Contains(t, out, "Successfully started partition reassignment for stuck-0\n")
	out, _ = run("--list")
	assert.Equal(t, "Current partition reassignments:\nstuck-0: replicas: 2,4. adding: 4.\n", out)
	_, errOut, code := script(t, "", "kafka-reassign-partitions.sh", "--bootstrap-server", bs[1].Addr(), "--execute", "--reassignment-json-file", plan)
	assert.Equal(t, 1, code, "a second --execute without --additional is refused")
	assert.Contains(t, errOut, "Cannot execute because there is an existing partition assignment.")
	out, _ = run("--cancel", "--reassignment-json-file", stuck)
	assert.Contains(t, out, "Successfully cancelled partition reassignment for: stuck-0\n")
	out, _ = run("--list")
	assert.Equal(t, "No partition reassignments found.\n", out)
	md, err = kadm.NewClient(cl).Metadata(ctx, "stuck")
	require.NoError(t, err)
	assert.Equal(t, []int32{2}, md.Topics["stuck"].Partitions[0].Replicas)

	// 3. The ZooKeeper path.
	zkc := plainZK(t, c.Connect)
	require.NoError(t, zkc.Create("/admin/reassign_partitions", []byte(`{"version":1,"partitions":[{"topic":"stuck","partition":0,"replicas":[3,2]}]}`)))
	clustertest.Eventually(t, "the ZooKeeper-requested reassignment done and its znode deleted", func(ctx context.Context) error {
		md, err := metadataFrom(ctx, t, bs[1], "stuck")
		if err != nil {
			return err
		}
		pd := md.Topics["stuck"].Partitions[0]
		if !slices.Equal(pd.Replicas, []int32{3, 2}) || len(pd.ISR) != 2 {
			return fmt.Errorf("replicas %v isr %v", pd.Replicas, pd.ISR)
		}
		if _, _, err := zkc.Get("/admin/reassign_partitions"); err == nil {
			return fmt.Errorf("the request is still there")
		}
		return nil
	})
}

// createAssigned creates topic with an explicit replica assignment.
func createAssigned(t *testing.T, cl *kgo.Client, topic string, assignment map[int32][]int32) {
	t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 30000
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, -1, -1
	for p := range int32(len(assignment)) {
		a := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
		a.Partition, a.Replicas = p, assignment[p]
		rt.ReplicaAssignment = append(rt.ReplicaAssignment, a)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(context.Background(), cl)
	require.NoError(t, err)
	require.Zero(t, resp.Topics[0].ErrorCode)
}
