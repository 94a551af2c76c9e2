package clustertest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strom-broker/strom/tools/clustertest"
)

// TestPausedControllerStepsDown: the controller is paused (SIGSTOP) past
// its session timeout, another broker takes over, and when it resumes it
// has lost control: /controller stays the successor's, no partition state
// carries the old epoch after the takeover, and the resumed broker
// registers again (a new session) and serves.
func TestPausedControllerStepsDown(t *testing.T) {
	c, bs := startThree(t)
	ctx := context.Background()
	adm := kadm.NewClient(client(t, addrs(bs...)))
	resp, err := adm.CreateTopic(ctx, 6, 1, nil, "zombie")
	require.NoError(t, err)
	require.NoError(t, resp.Err)
	zkc := plainZK(t, c.Connect)
	old, oldEpoch := controllerOf(t, zkc)
	require.Positive(t, old)
	paused := bs[old-1]

	paused.Pause()
	var successor, newEpoch int32
	clustertest.Eventually(t, "another broker is controller", func(context.Context) error {
		successor, newEpoch = controllerOf(t, zkc)
		if successor < 0 || successor == old {
			return fmt.Errorf("controller %d", successor)
		}
		return nil
	})
	assert.Greater(t, newEpoch, oldEpoch)
	// The successor moved the paused broker's partitions to no leader.
	clustertest.Eventually(t, "the successor handled the lost broker", func(ctx context.Context) error {
		for p := 0; p < 6; p++ {
			st := partitionState(t, zkc, "zombie", p)
			if st.Leader == old {
				return fmt.Errorf("partition %d still led by %d", p, old)
			}
		}
		return nil
	})

	paused.Resume()
	waitBrokers(t, bs, 1, 2, 3) // re-registered with a new session
	clustertest.Eventually(t, "the resumed broker names the successor", func(ctx context.Context) error {
		md, err := metadataFrom(ctx, t, paused)
		if err != nil {
			return err
		}
		if md.Controller != successor {
			return fmt.Errorf("controller %d", md.Controller)
		}
		return nil
	})
	id, epoch := controllerOf(t, zkc)
	assert.Equal(t, successor, id, "the old controller did not take control back")
	assert.Equal(t, newEpoch, epoch)
	for p := 0; p < 6; p++ {
		st := partitionState(t, zkc, "zombie", p)
		if st.LeaderEpoch > 0 {
			assert.GreaterOrEqual(t, st.ControllerEpoch, newEpoch,
				"partition %d was last changed by the successor, never by the old controller", p)
		}
	}
	// Its partitions come back to it (it is live again), and it serves them.
	prod := client(t, addrs(paused), kgo.DefaultProduceTopic("zombie"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	clustertest.Eventually(t, "every partition accepts records", func(ctx context.Context) error {
		for p := int32(0); p < 6; p++ {
			if err := prod.ProduceSync(ctx, &kgo.Record{Partition: p, Value: []byte("after")}).FirstErr(); err != nil {
				return fmt.Errorf("partition %d: %w", p, err)
			}
		}
		return nil
	})
}

// stateJSON is a partition state znode (Kafka's JSON).
type stateJSON struct {
	ControllerEpoch int32   `json:"controller_epoch"`
	Leader          int32   `json:"leader"`
	LeaderEpoch     int32   `json:"leader_epoch"`
	ISR             []int32 `json:"isr"`
}

func partitionState(t *testing.T, zkc zkClient, topic string, p int) stateJSON {
	t.Helper()
	data, _, err := zkc.Get(fmt.Sprintf("/brokers/topics/%s/partitions/%d/state", topic, p))
	require.NoError(t, err)
	var st stateJSON
	require.NoError(t, json.Unmarshal(data, &st))
	return st
}

// TestZooKeeperQuorumLost: with two of three ZooKeeper nodes down for 20 s,
// produce and fetch to the existing leaders go on; creating a topic fails
// with an error; once the quorum is back, it works again.
func TestZooKeeperQuorumLost(t *testing.T) {
	_, bs := startThree(t)
	ctx := context.Background()
	adm := kadm.NewClient(client(t, addrs(bs...)))
	resp, err := adm.CreateTopic(ctx, 3, 1, nil, "steady")
	require.NoError(t, err)
	require.NoError(t, resp.Err)
	prod := client(t, addrs(bs...), kgo.DefaultProduceTopic("steady"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	produce := func(ctx context.Context, v string) error {
		for p := int32(0); p < 3; p++ {
			if err := prod.ProduceSync(ctx, &kgo.Record{Partition: p, Value: []byte(v)}).FirstErr(); err != nil {
				return err
			}
		}
		return nil
	}
	clustertest.Eventually(t, "produce before", func(ctx context.Context) error { return produce(ctx, "before") })

	n1, n2 := ens.Node(1), ens.Node(2)
	require.NoError(t, n1.Kill())
	require.NoError(t, n2.Kill())
	restored := false
	restore := func() {
		if !restored {
			restored = true
			require.NoError(t, n1.Start())
			require.NoError(t, n2.Start())
			wctx, cancel := context.WithTimeout(ctx, clustertest.Deadline)
			defer cancel()
			require.NoError(t, ens.WaitServing(wctx))
		}
	}
	t.Cleanup(restore)
	outage := time.Now()
	for i := 0; time.Since(outage) < 20*time.Second; i++ {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		require.NoError(t, produce(pctx, fmt.Sprintf("during-%d", i)), "produce to existing leaders during the outage")
		cancel()
		time.Sleep(500 * time.Millisecond)
	}
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	resp, err = kadm.NewClient(client(t, addrs(bs[0]), kgo.RetryTimeout(5*time.Second))).CreateTopic(cctx, 1, 1, nil, "during")
	cancel()
	assert.True(t, err != nil || resp.Err != nil, "creating a topic without a ZooKeeper quorum fails")

	restore()
	clustertest.Eventually(t, "topic creation works again", func(ctx context.Context) error {
		resp, err := adm.CreateTopic(ctx, 1, 1, nil, "after")
		if err != nil {
			return err
		}
		if resp.Err != nil && resp.Err.Error() != "" {
			if kerrIsExists(resp.Err) {
				return nil
			}
			return resp.Err
		}
		return nil
	})
	clustertest.Eventually(t, "produce after", func(ctx context.Context) error { return produce(ctx, "after") })
	cons := client(t, addrs(bs...), kgo.ConsumeTopics("steady"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	seen := map[string]bool{}
	pctx, cancel2 := context.WithTimeout(ctx, clustertest.Deadline)
	defer cancel2()
	for !seen["after"] {
		fs := cons.PollFetches(pctx)
		require.NoError(t, pctx.Err())
		fs.EachRecord(func(r *kgo.Record) { seen[string(r.Value)] = true })
	}
	assert.True(t, seen["during-0"], "records produced during the outage are there")
}

// kerrIsExists reports a TOPIC_ALREADY_EXISTS answer (a retried create
// that had landed).
func kerrIsExists(err error) bool { return errors.Is(err, kerr.TopicAlreadyExists) }
