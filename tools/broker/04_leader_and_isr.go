package broker

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/coord/store"
	"github.com/strom-broker/strom/net/kerr"
)

// handleLeaderAndIsr applies a LeaderAndIsr request from the controller
// (sent by another broker over its inter-broker listener; the local
// controller applies its requests in process). Versions below
// minLeaderAndIsrVersion are not advertised (the server refuses them).
func (b *Broker) handleLeaderAndIsr(ctx context.Context, req *kmsg.LeaderAndISRRequest) *kmsg.LeaderAndISRResponse {
	resp := req.ResponseKind().(*kmsg.LeaderAndISRResponse)
	errs, err := b.applyControl(b.ctx, leaderAndIsrFromWire(req))
	if err != nil {
		resp.ErrorCode = kerr.Code(err)
		return resp
	}
	for _, ts := range req.TopicStates {
		var topic kmsg.LeaderAndISRResponseTopic
		if req.Version >= 5 {
			topic = kmsg.NewLeaderAndISRResponseTopic()
			topic.TopicID = ts.TopicID
		}
		for _, ps := range ts.PartitionStates {
			p := kmsg.NewLeaderAndISRResponseTopicPartition()
			p.Topic, p.Partition = ts.Topic, ps.Partition
			if e := errs[store.TopicPartition{Topic: ts.Topic, Partition: ps.Partition}]; e != nil {
				p.ErrorCode = kerr.Code(e)
			}
			if req.Version >= 5 {
				topic.Partitions = append(topic.Partitions, p)
			} else {
				resp.Partitions = append(resp.Partitions, p)
			}
		}
		if req.Version >= 5 {
			resp.Topics = append(resp.Topics, topic)
		}
	}
	return resp
}

// controlResponseError returns the error a control request's response
// reports at its top level (nil if none). Per-partition errors are the
// target's own business, as in Kafka's ZooKeeper mode.
func controlResponseError(resp kmsg.Response) error {
	switch r := resp.(type) {
	case *kmsg.LeaderAndISRResponse:
		return kerr.ForCode(r.ErrorCode)
	case *kmsg.UpdateMetadataResponse:
		return kerr.ForCode(r.ErrorCode)
	case *kmsg.StopReplicaResponse:
		return kerr.ForCode(r.ErrorCode)
	}
	return errors.New("broker: not a control response")
}
