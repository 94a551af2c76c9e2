package broker

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/net/kerr"
)

// staticBrokerConfigs answers an attempt to alter broker configs, which
// Strom reads only from server.properties.
const staticBrokerConfigs = "only topic configs can be altered; broker configs are static (server.properties)"

// AlterConfigs (key 33): replaces a topic's whole set of overrides.
// Dynamic broker configs are not supported (INVALID_REQUEST).
func (b *Broker) handleAlterConfigs(ctx context.Context, req *kmsg.AlterConfigsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.AlterConfigsResponse)
	for _, r := range req.Resources {
		rr := kmsg.NewAlterConfigsResponseResource()
		rr.ResourceType, rr.ResourceName = r.ResourceType, r.ResourceName
		if r.ResourceType != kmsg.ConfigResourceTypeTopic {
			rr.ErrorCode, rr.ErrorMessage = kerr.InvalidRequest.Code, errorMessage(staticBrokerConfigs)
			resp.Resources = append(resp.Resources, rr)
			continue
		}
		configs := map[string]string{}
		for _, c := range r.Configs {
			if c.Value != nil {
				configs[c.Name] = *c.Value
			}
		}
		b.alterTopicConfig(ctx, r.ResourceName, configs, req.ValidateOnly, &rr.ErrorCode, &rr.ErrorMessage)
		resp.Resources = append(resp.Resources, rr)
	}
	return resp
}

// alterTopicConfig validates and stores a topic's new overrides, setting
// the answer's error code and message.
func (b *Broker) alterTopicConfig(ctx context.Context, topic string, configs map[string]string, validateOnly bool, code *int16, msg **string) {
	if err := b.ctrl.AlterTopicConfig(ctx, topic, configs, validateOnly); err != nil {
		*code = errorCode(err)
		*msg = errorMessage(err.Error())
	}
}
