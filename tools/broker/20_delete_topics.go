package broker

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/net/kerr"
)

// DeleteTopics (key 20): topics by name (or by id, v6+) are deleted by the
// controller; the answer comes once each topic is gone from this broker's
// metadata (what Metadata answers), waiting up to timeout_ms
// (REQUEST_TIMED_OUT past it; timeout_ms <= 0 answers at once), as
// Kafka's ZkAdminManager.deleteTopics does. The local logs are deleted
// asynchronously.
//
// Per entry, in Kafka's order (ControllerApis.deleteTopics):
// delete.topic.enable=false answers INVALID_REQUEST below v3 and
// TOPIC_DELETION_DISABLED from v3; an entry with both a name and an id, or
// neither, is INVALID_REQUEST; a name or id listed twice is INVALID_REQUEST
// "Duplicate topic name." / "Duplicate topic id." for each occurrence; an
// unknown id answers a null name, the id echoed and UNKNOWN_TOPIC_ID; an
// unknown name UNKNOWN_TOPIC_OR_PARTITION.
//
// Internal topics (__consumer_offsets, __transaction_state) are refused
// with INVALID_REQUEST. This deliberately differs from Kafka, whose broker
// deletes them (only kafka-topics.sh refuses, with the message used here):
// deleting __consumer_offsets wipes every group's offsets.
func (b *Broker) handleDeleteTopics(ctx context.Context, req *kmsg.DeleteTopicsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.DeleteTopicsResponse)
	entries := req.Topics
	for _, n := range req.TopicNames { // v0-v5
		entries = append(entries, kmsg.DeleteTopicsRequestTopic{Topic: &n})
	}
	names, ids := map[string]int{}, map[[16]byte]int{}
	for _, e := range entries {
		switch {
		case e.Topic != nil && e.TopicID == [16]byte{}:
			names[*e.Topic]++
		case e.Topic == nil:
			ids[e.TopicID]++
		}
	}
	var deleting []int // indexes into resp.Topics of topics deleted here
	for _, e := range entries {
		rt := kmsg.NewDeleteTopicsResponseTopic()
		rt.Topic, rt.TopicID = e.Topic, e.TopicID
		fail := func(code *kerr.Error, msg string) {
			rt.ErrorCode = code.Code
			if msg != "" {
				rt.ErrorMessage = errorMessage(msg)
			}
		}
		switch {
		case !b.cfg.DeleteTopicEnable && req.Version < 3:
			fail(kerr.InvalidRequest, "Topic deletion is disabled.")
		case !b.cfg.DeleteTopicEnable:
			fail(kerr.TopicDeletionDisabled, "")
		case e.Topic != nil && e.TopicID != [16]byte{}:
			fail(kerr.InvalidRequest, "You may not specify both topic name and topic id.")
		case e.Topic == nil && e.TopicID == [16]byte{}:
			fail(kerr.InvalidRequest, "Neither topic name nor id were specified.")
		case e.Topic != nil && names[*e.Topic] > 1:
			fail(kerr.InvalidRequest, "Duplicate topic name.")
		case e.Topic == nil && ids[e.TopicID] > 1:
			fail(kerr.InvalidRequest, "Duplicate topic id.")
		default:
			name := ""
			if e.Topic != nil {
				name = *e.Topic
			} else if name = b.topicNameByID(ctx, e.TopicID); name == "" {
				fail(kerr.UnknownTopicID, "")
				break
			} else {
				rt.Topic = &name
			}
			if isInternalTopic(name) {
				fail(kerr.InvalidRequest, fmt.Sprintf("Topic %s is a kafka internal topic and is not allowed to be marked for deletion.", name))
				break
			}
			rt.TopicID = b.meta.Snapshot().TopicID(name)
			if err := b.ctrl.DeleteTopic(ctx, name); err != nil {
				rt.ErrorCode = errorCode(err)
				rt.ErrorMessage = errorMessage(err.Error())
				break
			}
			deleting = append(deleting, len(resp.Topics))
		}
		resp.Topics = append(resp.Topics, rt)
	}
	for _, i := range b.awaitTopics(ctx, req.TimeoutMillis, deleting, func(i int) bool {
		return !b.meta.Snapshot().HasTopic(*resp.Topics[i].Topic)
	}) {
		resp.Topics[i].ErrorCode = kerr.RequestTimedOut.Code
	}
	return resp
}
