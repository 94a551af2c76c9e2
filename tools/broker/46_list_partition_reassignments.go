package broker

import (
	"context"
	"maps"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/coord/store"
)

// ListPartitionReassignments (key 46, KIP-455, v0): the reassignments in
// flight (null topics: all), as the controller reads them from the topics'
// assignments; NOT_CONTROLLER on other brokers. Partitions named but not
// being reassigned are left out, as Kafka does.
func (b *Broker) handleListPartitionReassignments(ctx context.Context, req *kmsg.ListPartitionReassignmentsRequest) *kmsg.ListPartitionReassignmentsResponse {
	resp := req.ResponseKind().(*kmsg.ListPartitionReassignmentsResponse)
	var tps []store.TopicPartition
	if req.Topics != nil {
		tps = []store.TopicPartition{}
		for _, rt := range req.Topics {
			for _, p := range rt.Partitions {
				tps = append(tps, store.TopicPartition{Topic: rt.Topic, Partition: p})
			}
		}
	}
	list, err := b.ctrl.ListPartitionReassignments(ctx, tps)
	if err != nil {
		resp.ErrorCode = reassignmentErrorCode(err)
		resp.ErrorMessage = errorMessage(err.Error())
		return resp
	}
	byTopic := map[string]int{}
	for _, tp := range slices.SortedFunc(maps.Keys(list), func(a, b store.TopicPartition) int {
		if c := strings.Compare(a.Topic, b.Topic); c != 0 {
			return c
		}
		return int(a.Partition - b.Partition)
	}) {
		i, ok := byTopic[tp.Topic]
		if !ok {
			i = len(resp.Topics)
			byTopic[tp.Topic] = i
			rt := kmsg.NewListPartitionReassignmentsResponseTopic()
			rt.Topic = tp.Topic
			resp.Topics = append(resp.Topics, rt)
		}
		r := list[tp]
		rp := kmsg.NewListPartitionReassignmentsResponseTopicPartition()
		rp.Partition, rp.Replicas, rp.AddingReplicas, rp.RemovingReplicas = tp.Partition, r.Replicas, r.Adding, r.Removing
		if rp.AddingReplicas == nil {
			rp.AddingReplicas = []int32{}
		}
		if rp.RemovingReplicas == nil {
			rp.RemovingReplicas = []int32{}
		}
		resp.Topics[i].Partitions = append(resp.Topics[i].Partitions, rp)
	}
	return resp
}
