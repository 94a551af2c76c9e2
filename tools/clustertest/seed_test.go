package clustertest_test

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strom-broker/strom/tools/clustertest"
)

// script runs one of Kafka's script names with stdin and returns stdout,
// stderr and the exit code.
func script(t *testing.T, stdin string, name string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clustertest.Deadline)
	defer cancel()
	cmd := exec.CommandContext(ctx, clustertest.Script(t, name), args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return out.String(), errOut.String(), code
}

// TestSeedCommandSequence runs the seed's setup steps as written, with
// Kafka's script names: topics created, listed and described through
// ZooKeeper (--zookeeper), a console producer on a broker list, a console
// consumer finding the brokers through ZooKeeper, and a group whose
// offsets are kept in /consumers/<group>/offsets/<topic>/<partition>.
func TestSeedCommandSequence(t *testing.T) {
	c, bs := startThree(t)
	zkc := c.Connect

	out, errOut, code := script(t, "", "kafka-topics.sh", "--create", "--zookeeper", zkc,
		"--replication-factor", "1", "--partitions", "1", "--topic", "test")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "Created topic test.\n", out)
	clustertest.Eventually(t, "test has a leader", func(ctx context.Context) error {
		l, err := leaders(ctx, t, bs[0], "test")
		if err != nil || l[0] < 0 {
			return fmt.Errorf("leaders %v: %v", l, err)
		}
		return nil
	})
	out, errOut, code = script(t, "", "kafka-topics.sh", "--list", "--zookeeper", zkc)
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "test\n", out)

	out, errOut, code = script(t, "This is a message\nThis is another message\n", "kafka-console-producer.sh",
		"--broker-list", bs[0].Addr(), "--topic", "test")
	require.Equal(t, 0, code, "stdout %s stderr %s", out, errOut)

	out, errOut, code = script(t, "", "kafka-console-consumer.sh", "--zookeeper", zkc, "--topic", "test",
		"--from-beginning", "--max-messages", "2")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "This is a message\nThis is another message\n", out)

	// The replicated topic of the seed's multi-broker step.
	out, errOut, code = script(t, "", "kafka-topics.sh", "--create", "--zookeeper", zkc,
		"--replication-factor", "3", "--partitions", "1", "--topic", "my-replicated-topic")
	require.Equal(t, 0, code, errOut)
	clustertest.Eventually(t, "described with its leader", func(context.Context) error {
		out, errOut, code = script(t, "", "kafka-topics.sh", "--describe", "--zookeeper", zkc, "--topic", "my-replicated-topic")
		if code != 0 || !strings.Contains(out, "\tLeader: ") || strings.Contains(out, "Leader: none") {
			return fmt.Errorf("%s %s", out, errOut)
		}
		return nil
	})
	assert.Contains(t, out, "Topic: my-replicated-topic\t")
	assert.Contains(t, out, "PartitionCount: 1\tReplicationFactor: 3")
	assert.Regexp(t, `\tTopic: my-replicated-topic\tPartition: 0\tLeader: [123]\tReplicas: [123],[123],[123]\tIsr: [123],[123],[123]\n`, out)

	// A group kept in ZooKeeper: a second run continues after the first.
	args := []string{"--zookeeper", zkc, "--topic", "test", "--from-beginning", "--group", "zkgroup", "--timeout-ms", "3000"}
	out, errOut, code = script(t, "", "kafka-console-consumer.sh", append(args, "--max-messages", "1")...)
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "This is a message\n", out)
	data, _, err := plainZK(t, zkc).Get("/consumers/zkgroup/offsets/test/0")
	require.NoError(t, err)
	assert.Equal(t, "1", string(data), "the next offset to consume, as Kafka 0.8 stored it")
	out, errOut, code = script(t, "", "kafka-console-consumer.sh", args...)
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "This is another message\n", out, "the group continues where it stopped")

	// Deleting through ZooKeeper marks the topic; the controller deletes it.
	out, errOut, code = script(t, "", "kafka-topics.sh", "--delete", "--zookeeper", zkc, "--topic", "test")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "Topic test is marked for deletion.")
	clustertest.Eventually(t, "test is gone", func(context.Context) error {
		out, _, _ := script(t, "", "kafka-topics.sh", "--list", "--zookeeper", zkc)
		if out != "my-replicated-topic\n" {
			return fmt.Errorf("listed: %q", out)
		}
		return nil
	})
}

// TestZooKeeperFlagWithoutCluster: --zookeeper naming an ensemble (or
// chroot) that holds no cluster is a clear error, and nothing is created.
func TestZooKeeperFlagWithoutCluster(t *testing.T) {
	connect := ens.Connect() + "/no-cluster-here"
	_, errOut, code := script(t, "", "kafka-topics.sh", "--list", "--zookeeper", connect)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "no Kafka cluster at --zookeeper")
	zkc := plainZK(t, connect)
	ok, _, err := zkc.Conn.Exists("/no-cluster-here")
	require.NoError(t, err)
	assert.False(t, ok, "the tool created nothing")
}
