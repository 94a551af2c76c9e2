package broker

import (
	"context"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/net/kerr"
)

// IncrementalAlterConfigs (key 44): SET, DELETE, APPEND and SUBTRACT on a
// topic's overrides (APPEND/SUBTRACT on list values such as
// cleanup.policy).
func (b *Broker) handleIncrementalAlterConfigs(ctx context.Context, req *kmsg.IncrementalAlterConfigsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
	for _, r := range req.Resources {
		rr := kmsg.NewIncrementalAlterConfigsResponseResource()
		rr.ResourceType, rr.ResourceName = r.ResourceType, r.ResourceName
		if r.ResourceType != kmsg.ConfigResourceTypeTopic {
			rr.ErrorCode, rr.ErrorMessage = kerr.InvalidRequest.Code, errorMessage(staticBrokerConfigs)
			resp.Resources = append(resp.Resources, rr)
			continue
		}
		configs, err := b.store.TopicConfig(ctx, r.ResourceName)
		if err != nil {
			rr.ErrorCode = errorCode(err)
			resp.Resources = append(resp.Resources, rr)
			continue
		}
		for _, c := range r.Configs {
			v := ""
			if c.Value != nil {
				v = *c.Value
			}
			switch c.Op {
			case kmsg.IncrementalAlterConfigOpSet:
				configs[c.Name] = v
			case kmsg.IncrementalAlterConfigOpDelete:
				delete(configs, c.Name)
			case kmsg.IncrementalAlterConfigOpAppend, kmsg.IncrementalAlterConfigOpSubtract:
				// Like Kafka, an unset list starts from its default.
				s, ok := configs[c.Name]
				if !ok {
					s = b.defaultTopicConfig(c.Name)
				}
				cur := []string{}
				if s != "" {
					cur = strings.Split(s, ",")
				}
				for _, item := range strings.Split(v, ",") {
					i := slices.Index(cur, item)
					if c.Op == kmsg.IncrementalAlterConfigOpAppend && i < 0 {
						cur = append(cur, item)
					} else if c.Op == kmsg.IncrementalAlterConfigOpSubtract && i >= 0 {
						cur = slices.Delete(cur, i, i+1)
					}
				}
				configs[c.Name] = strings.Join(cur, ",")
			default:
				rr.ErrorCode = kerr.InvalidRequest.Code
			}
		}
		if rr.ErrorCode == 0 {
			b.alterTopicConfig(ctx, r.ResourceName, configs, req.ValidateOnly, &rr.ErrorCode, &rr.ErrorMessage)
		}
		resp.Resources = append(resp.Resources, rr)
	}
	return resp
}

// defaultTopicConfig is a topic config's value without an override ("" for
// an unknown key).
func (b *Broker) defaultTopicConfig(name string) string {
	for _, e := range b.effectiveTopicConfigs(nil) {
		if e.name == name {
			return e.value
		}
	}
	return ""
}
