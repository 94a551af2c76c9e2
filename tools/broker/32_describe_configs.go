package broker

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/net/kerr"
)

// DescribeConfigs (key 32): a topic's effective configs (overrides with
// source TOPIC_CONFIG, the rest from the broker), or this broker's
// settings.
func (b *Broker) handleDescribeConfigs(ctx context.Context, req *kmsg.DescribeConfigsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.DescribeConfigsResponse)
	for _, r := range req.Resources {
		rr := kmsg.NewDescribeConfigsResponseResource()
		rr.ResourceType, rr.ResourceName = r.ResourceType, r.ResourceName
		var entries []configEntry
		switch r.ResourceType {
		case kmsg.ConfigResourceTypeTopic:
			overrides, err := b.store.TopicConfig(ctx, r.ResourceName)
			if err != nil {
				rr.ErrorCode = errorCode(err)
				rr.ErrorMessage = errorMessage(err.Error())
				break
			}
			entries = b.effectiveTopicConfigs(overrides)
		case kmsg.ConfigResourceTypeBroker:
			if r.ResourceName != "" && r.ResourceName != strconv.Itoa(int(b.cfg.BrokerID)) {
				rr.ErrorCode = kerr.InvalidRequest.Code
				rr.ErrorMessage = errorMessage(fmt.Sprintf("broker %q is not this broker (%d)", r.ResourceName, b.cfg.BrokerID))
				break
			}
			vals := b.cfg.Values()
			for _, k := range slices.Sorted(maps.Keys(vals)) {
				src := kmsg.ConfigSourceDefaultConfig
				if b.cfg.IsSet(k) {
					src = kmsg.ConfigSourceStaticBrokerConfig
				}
				entries = append(entries, configEntry{name: k, value: vals[k], source: src})
			}
		default:
			rr.ErrorCode = kerr.InvalidRequest.Code
			rr.ErrorMessage = errorMessage(fmt.Sprintf("unsupported config resource type %s; only TOPIC and BROKER configs are described", r.ResourceType))
		}
		for _, e := range entries {
			if r.ConfigNames != nil && !slices.Contains(r.ConfigNames, e.name) {
				continue
			}
			c := kmsg.NewDescribeConfigsResponseResourceConfig()
			v := e.value
			c.Name, c.Value, c.Source = e.name, &v, e.source
			c.IsDefault = e.source == kmsg.ConfigSourceDefaultConfig
			c.ReadOnly = r.ResourceType == kmsg.ConfigResourceTypeBroker
			rr.Configs = append(rr.Configs, c)
		}
		resp.Resources = append(resp.Resources, rr)
	}
	return resp
}
