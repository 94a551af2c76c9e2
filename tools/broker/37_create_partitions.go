package broker

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// CreatePartitions (key 37): grows a topic to Count partitions (never
// shrinks), with an optional explicit assignment of the new ones.
func (b *Broker) handleCreatePartitions(ctx context.Context, req *kmsg.CreatePartitionsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.CreatePartitionsResponse)
	grew := false
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
			grew = true
		}
		resp.Topics = append(resp.Topics, rt)
	}
	if grew {
		if err := b.parts.sync(ctx); err != nil {
			b.log.Warn("opening new partitions", "err", err)
		}
	}
	return resp
}
