package broker

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/coord/store"
	"github.com/strom-broker/strom/net/kerr"
)

// handleStopReplica applies a StopReplica request from the controller.
// Versions below minStopReplicaVersion are not advertised (the server refuses them).
func (b *Broker) handleStopReplica(ctx context.Context, req *kmsg.StopReplicaRequest) *kmsg.StopReplicaResponse {
	resp := req.ResponseKind().(*kmsg.StopReplicaResponse)
	errs, err := b.applyControl(b.ctx, stopReplicaFromWire(req))
	if err != nil {
		resp.ErrorCode = kerr.Code(err)
		return resp
	}
	for _, t := range req.Topics {
		for _, ps := range t.PartitionStates {
			p := kmsg.NewStopReplicaResponsePartition()
			p.Topic, p.Partition = t.Topic, ps.Partition
			if e := errs[store.TopicPartition{Topic: t.Topic, Partition: ps.Partition}]; e != nil {
				p.ErrorCode = kerr.Code(e)
			}
			resp.Partitions = append(resp.Partitions, p)
		}
	}
	return resp
}
