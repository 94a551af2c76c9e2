package zkstore_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strom-broker/strom/coord/controller"
	"github.com/strom-broker/strom/coord/store"
)

// TestControllerFailover runs the controller on two brokers' ZooKeeper
// stores (two sessions), each driven by its Run loop from the store's
// events. When the controller's session ends, the other broker takes over
// with a higher epoch and moves leadership off the dead broker.
func TestControllerFailover(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, root := openChroot(t)
	b := open(t, ens.Connect()+root, sessionTimeout)
	require.NoError(t, a.RegisterBroker(ctx, brokerInfo(1)))
	require.NoError(t, b.RegisterBroker(ctx, brokerInfo(2)))

	opts := controller.Options{Logger: quietLogger()}
	c1, err := controller.New(a, 1, opts)
	require.NoError(t, err)
	won, err := c1.Elect(ctx)
	require.NoError(t, err)
	require.True(t, won)
	_, e1 := c1.Active()
	c2, err := controller.New(b, 2, opts)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- c2.Run(ctx) }()

	_, err = c1.CreateTopic(ctx, controller.TopicSpec{Name: "t", NumPartitions: -1, ReplicationFactor: -1,
		Assignment: map[int32][]int32{0: {1, 2}, 1: {2, 1}}}, false)
	require.NoError(t, err)
	tp := store.TopicPartition{Topic: "t", Partition: 0}
	before, err := a.PartitionState(ctx, tp)
	require.NoError(t, err)
	require.Equal(t, int32(1), before.Leader)

	// Broker 1's session ends: its registration and /controller vanish.
	require.NoError(t, a.Close())
	eventually(t, "broker 2 takes over", func() error {
		if active, e2 := c2.Active(); !active || e2 <= e1 {
			return fmt.Errorf("broker 2 active=%v epoch=%d", active, e2)
		}
		return nil
	})
	eventually(t, "partition 0 led by broker 2", func() error {
		st, err := b.PartitionState(ctx, tp)
		if err != nil {
			return err
		}
		if st.Leader != 2 || st.LeaderEpoch != before.LeaderEpoch+1 || len(st.ISR) != 1 {
			return fmt.Errorf("state %+v", st)
		}
		return nil
	})
	info, err := b.Controller(ctx)
	require.NoError(t, err)
	_, e2 := c2.Active()
	assert.Equal(t, store.ControllerInfo{BrokerID: 2, Epoch: e2}, info)
	st, err := b.PartitionState(ctx, tp)
	require.NoError(t, err)
	assert.Equal(t, e2, st.ControllerEpoch, "written by the new controller")

	cancel()
	assert.ErrorIs(t, <-done, context.Canceled)
}
