package broker

import (
	"context"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/net/client"
)

// TestTopicChangesTimeOutUnseen (#12 item 6, the timeout path):
// CreateTopics, CreatePartitions and DeleteTopics answer once the change
// shows in this broker's metadata cache, waiting up to timeout_ms; a
// change that never shows is REQUEST_TIMED_OUT, as Kafka's
// DelayedCreatePartitions and DelayedDeleteTopics answer on expiry, and is
// made all the same in the metadata store.
//
// The change is kept from this broker's view deterministically: once the
// broker has accepted a control request from a newer controller epoch (as
// after a controller fail-over), it refuses the requests of this broker's
// own, older controller (STALE_CONTROLLER_EPOCH), so neither its metadata
// cache nor its replicas learn of anything that controller does.
func TestTopicChangesTimeOutUnseen(t *testing.T) {
	b := startInternal(t)
	ctx := context.Background()
	c, err := client.Dial(ctx, b.Addr(), "timeout-test")
	require.NoError(t, err)
	defer c.Close()

	create := func(topic string, timeoutMs int32) kmsg.CreateTopicsResponseTopic {
		t.Helper()
		req := kmsg.NewPtrCreateTopicsRequest()
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, 2, 1
		req.Topics = append(req.Topics, rt)
		req.TimeoutMillis = timeoutMs
		resp := send[*kmsg.CreateTopicsResponse](t, c, req, 7)
		require.Len(t, resp.Topics, 1)
		return resp.Topics[0]
	}
	code := func(c int16) string {
		if e, ok := kerr.ErrorForCode(c).(*kerr.Error); ok {
			return e.Message
		}
		return "NONE"
	}

	// Before: the change is visible when answered.
	require.Equal(t, "NONE", code(create("seen", 30000).ErrorCode))
	require.True(t, b.meta.Snapshot().HasTopic("seen"))

	// A newer controller epoch is accepted; this broker's controller is
	// now stale to it.
	epoch := b.fence.ControllerEpoch()
	require.GreaterOrEqual(t, epoch, int32(0), "the broker accepted its controller's requests")
	require.NoError(t, b.fence.Check(epoch+1, -1))

	ct := create("unseen", 200)
	assert.Equal(t, "REQUEST_TIMED_OUT", code(ct.ErrorCode))
	assert.NotZero(t, ct.TopicID, "the topic was created")
	assert.Equal(t, int32(2), ct.NumPartitions)
	_, err = b.store.Topic(ctx, "unseen")
	assert.NoError(t, err, "the topic is in the metadata store")
	assert.False(t, b.meta.Snapshot().HasTopic("unseen"))

	cp := kmsg.NewPtrCreatePartitionsRequest()
	cpt := kmsg.NewCreatePartitionsRequestTopic()
	cpt.Topic, cpt.Count = "seen", 3
	cp.Topics = append(cp.Topics, cpt)
	cp.TimeoutMillis = 200
	cpr := send[*kmsg.CreatePartitionsResponse](t, c, cp, 3)
	require.Len(t, cpr.Topics, 1)
	assert.Equal(t, "REQUEST_TIMED_OUT", code(cpr.Topics[0].ErrorCode))
	a, err := b.store.Topic(ctx, "seen")
	require.NoError(t, err)
	assert.Equal(t, int32(3), a.NumPartitions(), "the partition was added in the metadata store")
	assert.Equal(t, 2, b.meta.Snapshot().NumPartitions("seen"))

	dt := kmsg.NewPtrDeleteTopicsRequest()
	dt.TopicNames = []string{"seen"}
	dt.TimeoutMillis = 200
	dtr := send[*kmsg.DeleteTopicsResponse](t, c, dt, 5)
	require.Len(t, dtr.Topics, 1)
	assert.Equal(t, "REQUEST_TIMED_OUT", code(dtr.Topics[0].ErrorCode))
	assert.True(t, b.meta.Snapshot().HasTopic("seen"), "this broker still sees the topic")
	marked, err := b.store.TopicsMarkedForDeletion(ctx)
	require.NoError(t, err)
	_, gone := b.store.Topic(ctx, "seen")
	assert.True(t, slices.Contains(marked, "seen") || gone != nil, "the deletion went ahead in the metadata store")

	// timeout_ms 0 answers at once, without waiting: NONE (Kafka's rule).
	assert.Equal(t, "NONE", code(create("unseen-no-wait", 0).ErrorCode))
	assert.False(t, b.meta.Snapshot().HasTopic("unseen-no-wait"))
}
