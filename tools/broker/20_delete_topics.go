package broker

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/net/kerr"
)

// DeleteTopics (key 20): topics by name (or by id, v6+) are deleted by the
// controller; this broker then deletes their logs asynchronously.
func (b *Broker) handleDeleteTopics(ctx context.Context, req *kmsg.DeleteTopicsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.DeleteTopicsResponse)
	var names []string
	names = append(names, req.TopicNames...)
	for _, t := range req.Topics {
		if t.Topic != nil {
			names = append(names, *t.Topic)
		} else {
			names = append(names, b.topicNameByID(ctx, t.TopicID))
		}
	}
	deleted := false
	for _, name := range names {
		rt := kmsg.NewDeleteTopicsResponseTopic()
		n := name
		rt.Topic = &n
		switch {
		case !b.cfg.DeleteTopicEnable:
			rt.ErrorCode = kerr.TopicDeletionDisabled.Code
		case name == "":
			rt.ErrorCode = kerr.UnknownTopicID.Code
		default:
			if a, err := b.store.Topic(ctx, name); err == nil {
				rt.TopicID = a.ID
			}
			if err := b.ctrl.DeleteTopic(ctx, name); err != nil {
				rt.ErrorCode = errorCode(err)
				rt.ErrorMessage = errorMessage(err.Error())
			} else {
				deleted = true
			}
		}
		resp.Topics = append(resp.Topics, rt)
	}
	if deleted {
		if err := b.parts.sync(ctx); err != nil {
			b.log.Warn("removing deleted topics", "err", err)
		}
	}
	return resp
}
