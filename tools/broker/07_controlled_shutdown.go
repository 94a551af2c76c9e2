package broker

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/coord/controller"
	"github.com/strom-broker/strom/net/kerr"
)

// ControlledShutdown (key 7): a broker about to stop asks this broker, as
// the controller, to move its leaderships and ISR memberships away
// (coord/controller/shutdown.go has the rules) and is told the partitions
// it still leads. Versions 1-3 (v0's header has no client id, and no
// broker has sent it since Kafka 0.9); the broker epoch is checked from v2
// on. Errors for the whole request: NOT_CONTROLLER, STALE_BROKER_EPOCH,
// BROKER_NOT_AVAILABLE (the sender is not registered).
func (b *Broker) handleControlledShutdown(ctx context.Context, req *kmsg.ControlledShutdownRequest) *kmsg.ControlledShutdownResponse {
	resp := req.ResponseKind().(*kmsg.ControlledShutdownResponse)
	epoch := controller.UnknownBrokerEpoch
	if req.Version >= 2 {
		epoch = req.BrokerEpoch
	}
	remaining, err := b.ctrl.ControlledShutdown(ctx, req.BrokerID, epoch)
	switch {
	case err == nil:
	case errors.Is(err, controller.ErrNotController):
		resp.ErrorCode = kerr.NotController.Code
	case errors.Is(err, controller.ErrStaleBrokerEpoch):
		resp.ErrorCode = kerr.StaleBrokerEpoch.Code
	case errors.Is(err, controller.ErrBrokerNotAvailable):
		resp.ErrorCode = kerr.BrokerNotAvailable.Code
	default:
		resp.ErrorCode = errorCode(err)
	}
	for _, tp := range remaining {
		r := kmsg.NewControlledShutdownResponsePartitionsRemaining()
		r.Topic, r.Partition = tp.Topic, tp.Partition
		resp.PartitionsRemaining = append(resp.PartitionsRemaining, r)
	}
	return resp
}
