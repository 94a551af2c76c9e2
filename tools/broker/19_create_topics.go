package broker

import (
	"context"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/coord/controller"
	"github.com/strom-broker/strom/net/kerr"
)

// CreateTopics (key 19): each topic is validated (name, counts, configs)
// and created by the controller; validate-only requests change nothing.
// v5+ answers carry the topic's id, partition count, replication factor
// and effective configs.
//
// The answer comes once every created topic's partitions have leaders in
// this broker's metadata (what Metadata answers) and the partitions it
// leads are open here, waiting up to timeout_ms (REQUEST_TIMED_OUT past
// it; timeout_ms <= 0 answers at once), as Kafka's ZkAdminManager.createTopics
// does with its DelayedCreatePartitions: a client that creates a topic and
// produces at once finds it.
func (b *Broker) handleCreateTopics(ctx context.Context, req *kmsg.CreateTopicsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.CreateTopicsResponse)
	seen := map[string]int{}
	for _, t := range req.Topics {
		seen[t.Topic]++
	}
	var created []int // indexes into resp.Topics of topics created here
	for _, t := range req.Topics {
		rt := kmsg.NewCreateTopicsResponseTopic()
		rt.Topic = t.Topic
		rt.NumPartitions, rt.ReplicationFactor = -1, -1
		if seen[t.Topic] > 1 {
			rt.ErrorCode = kerr.InvalidRequest.Code
			rt.ErrorMessage = errorMessage("Duplicate topic name.") // Kafka's words (KafkaApis.handleCreateTopicsRequest)
			resp.Topics = append(resp.Topics, rt)
			continue
		}
		spec := controller.TopicSpec{Name: t.Topic, NumPartitions: t.NumPartitions, ReplicationFactor: t.ReplicationFactor, Configs: map[string]string{}}
		if len(t.ReplicaAssignment) > 0 {
			spec.Assignment = map[int32][]int32{}
			for _, ra := range t.ReplicaAssignment {
				spec.Assignment[ra.Partition] = ra.Replicas
			}
		}
		for _, c := range t.Configs {
			if c.Value != nil {
				spec.Configs[c.Name] = *c.Value
			}
		}
		a, err := b.ctrl.CreateTopic(ctx, spec, req.ValidateOnly)
		if err != nil {
			rt.ErrorCode = errorCode(err)
			rt.ErrorMessage = errorMessage(err.Error())
			resp.Topics = append(resp.Topics, rt)
			continue
		}
		if !req.ValidateOnly {
			created = append(created, len(resp.Topics))
		}
		rt.TopicID = a.ID
		rt.NumPartitions = a.NumPartitions()
		if len(a.Partitions) > 0 {
			rt.ReplicationFactor = int16(len(a.Partitions[0]))
		}
		for _, e := range b.effectiveTopicConfigs(spec.Configs) {
			c := kmsg.NewCreateTopicsResponseTopicConfig()
			c.Name, c.Value, c.Source, c.IsSensitive = e.name, &e.value, int8(e.source), false
			c.ReadOnly = false
			rt.Configs = append(rt.Configs, c)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	for _, i := range b.awaitTopics(ctx, req.TimeoutMillis, created,
		func(i int) bool { return b.topicServed(ctx, resp.Topics[i].Topic) }) {
		resp.Topics[i].ErrorCode = kerr.RequestTimedOut.Code
		resp.Topics[i].ErrorMessage = errorMessage("the topic was created, but its partitions have no leader yet")
	}
	return resp
}

// configEntry is one effective topic config.
type configEntry struct {
	name, value string
	source      kmsg.ConfigSource
}

// effectiveTopicConfigs lists every topic config key with its value under
// overrides, sorted by name.
func (b *Broker) effectiveTopicConfigs(overrides map[string]string) []configEntry {
	base := brokerLogConfig(b.cfg)
	var out []configEntry
	for _, k := range topicKeys {
		e := configEntry{name: k.name, source: kmsg.ConfigSourceDefaultConfig}
		if v, ok := overrides[k.name]; ok {
			e.value, e.source = v, kmsg.ConfigSourceDynamicTopicConfig
		} else if k.engine {
			e.value = k.get(base)
			if k.brokerKey != "" && b.cfg.IsSet(k.brokerKey) {
				e.source = kmsg.ConfigSourceStaticBrokerConfig
			}
		} else if v, ok := b.cfg.Values()[k.brokerKey]; ok && k.brokerKey != "" {
			e.value = v
		} else {
			e.value = k.get(base)
		}
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b configEntry) int {
		if a.name < b.name {
			return -1
		}
		if a.name > b.name {
			return 1
		}
		return 0
	})
	return out
}
