package broker_test

// Regression tests for issue #12's group coordinator items, on a real
// in-process broker with exact kmsg requests.

import (
	"context"
	"errors"
	"net"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/net/client"
	"github.com/strom-broker/strom/tools/broker/brokertest"
)

// findCoordinator sends FindCoordinator for one key at version v (v4+
// batched) and returns the one coordinator answered.
func findCoordinator(t *testing.T, c *client.Client, v int16, keyType int8, key string) kmsg.FindCoordinatorResponseCoordinator {
	t.Helper()
	req := kmsg.NewPtrFindCoordinatorRequest()
	req.CoordinatorType = keyType
	if v >= 4 {
		req.CoordinatorKeys = []string{key}
	} else {
		req.CoordinatorKey = key
	}
	resp := request[*kmsg.FindCoordinatorResponse](t, c, req, v)
	if v >= 4 {
		require.Len(t, resp.Coordinators, 1)
		return resp.Coordinators[0]
	}
	return kmsg.FindCoordinatorResponseCoordinator{Key: key, NodeID: resp.NodeID, Host: resp.Host, Port: resp.Port,
		ErrorCode: resp.ErrorCode, ErrorMessage: resp.ErrorMessage}
}

// TestFindCoordinatorPerListener (#12 item 2): with two listeners,
// FindCoordinator names the coordinator by its endpoint on the listener
// the request came in on, and a group consumes through the second one.
func TestFindCoordinatorPerListener(t *testing.T) {
	b, external := startTwoListeners(t)
	for _, addr := range []string{b.Addr(), external} {
		c, err := client.Dial(testCtx(t), addr, "listener-test")
		require.NoError(t, err)
		for _, v := range []int16{0, 3, 4, 6} {
			fc := findCoordinator(t, c, v, 0, "per-listener")
			require.Zero(t, fc.ErrorCode, code(fc.ErrorCode))
			assert.Equal(t, addr, net.JoinHostPort(fc.Host, strconv.Itoa(int(fc.Port))), "FindCoordinator v%d via %s", v, addr)
		}
		c.Close()
	}

	createTopic(t, b, "via-external", 1)
	produceAll(t, newClient(t, b), &kgo.Record{Topic: "via-external", Value: []byte("hello")})
	cl, err := kgo.NewClient(kgo.SeedBrokers(external), kgo.ConsumerGroup("external-group"),
		kgo.ConsumeTopics("via-external"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	require.NoError(t, err)
	defer cl.Close()
	ctx := testCtx(t)
	var got []*kgo.Record
	for len(got) == 0 {
		fs := cl.PollFetches(ctx)
		require.NoError(t, ctx.Err())
		got = append(got, fs.Records()...)
	}
	require.NoError(t, cl.CommitUncommittedOffsets(ctx), "the coordinator is reached through the second listener")
}

// TestTransactionalFindCoordinatorFailsFast (#12 item 5): FindCoordinator
// for a transactional id answers a non-retriable error (UNSUPPORTED_VERSION,
// with a message), so a transactional franz-go producer fails at once
// instead of retrying forever.
func TestTransactionalFindCoordinatorFailsFast(t *testing.T) {
	b := brokertest.Start(t)
	c := rawConn(t, b)
	for _, v := range []int16{1, 3, 4, 6} {
		fc := findCoordinator(t, c, v, 1, "my-txn")
		assertCode(t, kerr.UnsupportedVersion, fc.ErrorCode, "transaction key, v"+strconv.Itoa(int(v)))
		assert.False(t, kerr.IsRetriable(kerr.ErrorForCode(fc.ErrorCode)))
		assert.Equal(t, int32(-1), fc.NodeID)
		assert.Contains(t, deref(fc.ErrorMessage), "transactions are not supported")
	}

	createTopic(t, b, "txn-topic", 1)
	cl := newClient(t, b, kgo.TransactionalID("my-txn"), kgo.DefaultProduceTopic("txn-topic"))
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	err := cl.BeginTransaction()
	if err == nil {
		err = cl.ProduceSync(ctx, &kgo.Record{Value: []byte("x")}).FirstErr()
	}
	require.Error(t, err)
	assert.NoError(t, ctx.Err(), "failed before the hang guard: %v", err)
	assert.False(t, errors.Is(err, context.DeadlineExceeded), "%v", err)
	t.Logf("franz-go: %v", err)
}
