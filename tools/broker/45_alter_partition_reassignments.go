package broker

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/coord/controller"
	"github.com/strom-broker/strom/coord/store"
	"github.com/strom-broker/strom/net/kerr"
)

// AlterPartitionReassignments (key 45, KIP-455, v0): start (replicas
// given) or cancel (null) partition reassignments, run by the controller
// (coord/controller/reassign.go). A broker that is not the controller
// answers NOT_CONTROLLER for the whole request, as Kafka's does in
// ZooKeeper mode; admin clients send it to the controller. Per partition:
// UNKNOWN_TOPIC_OR_PARTITION, INVALID_REPLICA_ASSIGNMENT (empty,
// duplicates, a broker not live), NO_REASSIGNMENT_IN_PROGRESS (a cancel).
func (b *Broker) handleAlterPartitionReassignments(ctx context.Context, req *kmsg.AlterPartitionAssignmentsRequest) *kmsg.AlterPartitionAssignmentsResponse {
	resp := req.ResponseKind().(*kmsg.AlterPartitionAssignmentsResponse)
	reqs := map[store.TopicPartition][]int32{}
	for _, rt := range req.Topics {
		for _, rp := range rt.Partitions {
			reqs[store.TopicPartition{Topic: rt.Topic, Partition: rp.Partition}] = rp.Replicas
		}
	}
	results, err := b.ctrl.AlterPartitionReassignments(ctx, reqs)
	if err != nil {
		resp.ErrorCode = reassignmentErrorCode(err)
		resp.ErrorMessage = errorMessage(err.Error())
		return resp
	}
	for _, rt := range req.Topics {
		st := kmsg.NewAlterPartitionAssignmentsResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewAlterPartitionAssignmentsResponseTopicPartition()
			sp.Partition = rp.Partition
			if perr := results[store.TopicPartition{Topic: rt.Topic, Partition: rp.Partition}]; perr != nil {
				sp.ErrorCode = reassignmentErrorCode(perr)
				sp.ErrorMessage = errorMessage(perr.Error())
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

// reassignmentErrorCode maps the controller's reassignment errors to
// Kafka's codes.
func reassignmentErrorCode(err error) int16 {
	switch {
	case errors.Is(err, controller.ErrNoReassignmentInProgress):
		return kerr.NoReassignmentInProgress.Code
	case errors.Is(err, controller.ErrTopicBeingDeleted), errors.Is(err, controller.ErrUnknownPartition),
		errors.Is(err, controller.ErrUnknownTopic):
		return kerr.UnknownTopicOrPartition.Code
	}
	return errorCode(err)
}
