package broker

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/net/kerr"
)

// handleUpdateMetadata installs an UpdateMetadata request from the
// controller in this broker's metadata cache. Versions below
// minUpdateMetadataVersion are not advertised (the server refuses them).
func (b *Broker) handleUpdateMetadata(ctx context.Context, req *kmsg.UpdateMetadataRequest) *kmsg.UpdateMetadataResponse {
	resp := req.ResponseKind().(*kmsg.UpdateMetadataResponse)
	if _, err := b.applyControl(b.ctx, updateMetadataFromWire(req)); err != nil {
		resp.ErrorCode = kerr.Code(err)
	}
	return resp
}
