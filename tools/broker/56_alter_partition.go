package broker

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/coord/controller"
	"github.com/strom-broker/strom/coord/store"
	"github.com/strom-broker/strom/net/kerr"
)

// AlterPartition (key 56, KIP-497): a partition leader on another broker
// asks this broker, as the controller, to store a new ISR
// (coord/controller/alterpartition.go has the rules). Versions 0-1 (topic
// names); the whole request answers NOT_CONTROLLER on a broker that is not
// the controller and STALE_BROKER_EPOCH for a sender's stale
// registration.
func (b *Broker) handleAlterPartition(ctx context.Context, req *kmsg.AlterPartitionRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.AlterPartitionResponse)
	var changes []controller.ISRChange
	for _, rt := range req.Topics {
		for _, rp := range rt.Partitions {
			changes = append(changes, controller.ISRChange{
				Partition:   store.TopicPartition{Topic: rt.Topic, Partition: rp.Partition},
				LeaderEpoch: rp.LeaderEpoch, PartitionEpoch: rp.PartitionEpoch, ISR: rp.NewISR,
			})
		}
	}
	results, err := b.ctrl.AlterPartition(ctx, req.BrokerID, req.BrokerEpoch, changes)
	if err != nil {
		resp.ErrorCode = alterPartitionErrorCode(err, req.Version)
		return resp
	}
	i := 0
	for _, rt := range req.Topics {
		st := kmsg.NewAlterPartitionResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			r := results[i]
			i++
			sp := kmsg.NewAlterPartitionResponseTopicPartition()
			sp.Partition = rp.Partition
			if r.Err != nil {
				sp.ErrorCode = alterPartitionErrorCode(r.Err, req.Version)
			} else {
				sp.LeaderID, sp.LeaderEpoch, sp.ISR, sp.PartitionEpoch = r.State.Leader, r.State.LeaderEpoch, r.State.ISR, r.State.Version
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

// alterPartitionErrorCode maps the controller's AlterPartition errors to
// Kafka's codes (INELIGIBLE_REPLICA from v2, OPERATION_NOT_ATTEMPTED
// before).
func alterPartitionErrorCode(err error, version int16) int16 {
	switch {
	case errors.Is(err, controller.ErrNotController):
		return kerr.NotController.Code
	case errors.Is(err, controller.ErrStaleBrokerEpoch):
		return kerr.StaleBrokerEpoch.Code
	case errors.Is(err, controller.ErrNotLeader):
		return kerr.NotLeaderForPartition.Code
	case errors.Is(err, controller.ErrFencedLeaderEpoch):
		return kerr.FencedLeaderEpoch.Code
	case errors.Is(err, controller.ErrInvalidUpdateVersion):
		return kerr.InvalidUpdateVersion.Code
	case errors.Is(err, controller.ErrIneligibleReplica) && version >= 2:
		return kerr.IneligibleReplica.Code
	case errors.Is(err, controller.ErrIneligibleReplica):
		return kerr.OperationNotAttempted.Code
	}
	return errorCode(err)
}
