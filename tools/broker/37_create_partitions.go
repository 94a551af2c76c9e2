package broker

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/net/kerr"
)

// CreatePartitions (key 37): grows a topic to Count partitions (never
// shrinks), with an optional explicit assignment of the new ones. As
// Kafka's DelayedCreatePartitions, it answers once the new partitions have
// leaders in this broker's metadata (up to timeout_ms, then
// REQUEST_TIMED_OUT).
func (b *Broker) handleCreatePartitions(ctx context.Context, req *kmsg.CreatePartitionsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.CreatePartitionsResponse)
	var grew []int // indexes into resp.Topics of topics grown here
	for _, t := range req.Topics {
		rt := kmsg.NewCreatePartitionsResponseTopic()
		rt.Topic = t.Topic
		var assignment [][]int32
		for _, a := range t.Assignment {
			assignment = append(assignment, a.Replicas)
		}
		if _, err := b.ctrl.CreatePartitions(ctx, t.Topic, t.Count, assignment, req.ValidateOnly); err != nil {
			rt.ErrorCode = errorCode(err)
			rt.ErrorMessage = errorMessage(err.Error())
		} else if !req.ValidateOnly {
			grew = append(grew, len(resp.Topics))
		}
		resp.Topics = append(resp.Topics, rt)
	}
	for _, i := range b.awaitTopics(ctx, req.TimeoutMillis, grew, func(i int) bool {
		t := req.Topics[i]
		return b.meta.Snapshot().NumPartitions(t.Topic) >= int(t.Count) && b.topicServed(ctx, t.Topic)
	}) {
		resp.Topics[i].ErrorCode = kerr.RequestTimedOut.Code
	}
	return resp
}
