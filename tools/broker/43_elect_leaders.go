package broker

import (
	"context"
	"errors"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/coord/controller"
	"github.com/strom-broker/strom/coord/store"
	"github.com/strom-broker/strom/net/kerr"
)

// ElectLeaders (key 43): preferred (type 0; the only one before v1) or
// unclean (type 1) leader elections, run by the controller (a broker that
// is not the controller answers NOT_CONTROLLER per partition, and the
// admin clients send it to the controller). With null topics every
// partition in this broker's metadata is elected and those that need no
// election are left out of the answer (Kafka's KafkaApis
// .handleElectLeaders).
func (b *Broker) handleElectLeaders(ctx context.Context, req *kmsg.ElectLeadersRequest) *kmsg.ElectLeadersResponse {
	resp := req.ResponseKind().(*kmsg.ElectLeadersResponse)
	all := req.Topics == nil
	var tps []store.TopicPartition
	if all {
		snap := b.meta.Snapshot()
		for _, t := range snap.Topics() {
			for _, st := range snap.Partitions(t) {
				tps = append(tps, store.TopicPartition{Topic: t, Partition: st.Partition})
			}
		}
	} else {
		for _, t := range req.Topics {
			for _, p := range t.Partitions {
				tps = append(tps, store.TopicPartition{Topic: t.Topic, Partition: p})
			}
		}
	}
	typ := controller.ElectPreferred
	if req.Version >= 1 {
		typ = controller.ElectionType(req.ElectionType)
	}
	if typ != controller.ElectPreferred && typ != controller.ElectUnclean {
		resp.ErrorCode = kerr.InvalidRequest.Code
		return resp
	}
	results, err := b.ctrl.ElectLeaders(ctx, typ, tps)
	if err != nil {
		resp.ErrorCode = errorCode(err)
		return resp
	}
	byTopic := map[string]int{}
	for _, tp := range tps {
		perr := results[tp]
		if all && errors.Is(perr, controller.ErrElectionNotNeeded) {
			continue
		}
		i, ok := byTopic[tp.Topic]
		if !ok {
			i = len(resp.Topics)
			byTopic[tp.Topic] = i
			rt := kmsg.NewElectLeadersResponseTopic()
			rt.Topic = tp.Topic
			resp.Topics = append(resp.Topics, rt)
		}
		rp := kmsg.NewElectLeadersResponseTopicPartition()
		rp.Partition = tp.Partition
		if perr != nil {
			rp.ErrorCode = errorCode(perr)
			rp.ErrorMessage = errorMessage(perr.Error())
		}
		resp.Topics[i].Partitions = append(resp.Topics[i].Partitions, rp)
	}
	for i := range resp.Topics {
		slices.SortFunc(resp.Topics[i].Partitions, func(a, b kmsg.ElectLeadersResponseTopicPartition) int {
			return int(a.Partition) - int(b.Partition)
		})
	}
	return resp
}
