package broker

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DescribeCluster (key 60): the cluster id, the controller and the brokers
// (the admin clients' view of the cluster), from the metadata cache.
func (b *Broker) handleDescribeCluster(req *kmsg.DescribeClusterRequest, listener string) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.DescribeClusterResponse)
	resp.ClusterID = b.clusterID
	snap := b.meta.Snapshot()
	resp.ControllerID = -1
	if id, ok := snap.Controller(); ok {
		resp.ControllerID = id
	}
	for _, n := range snap.Nodes(listener) {
		rb := kmsg.NewDescribeClusterResponseBroker()
		rb.NodeID, rb.Host, rb.Port = n.ID, n.Host, n.Port
		if n.Rack != "" {
			rb.Rack = kmsg.StringPtr(n.Rack)
		}
		resp.Brokers = append(resp.Brokers, rb)
	}
	resp.ClusterAuthorizedOperations = -2147483648
	return resp
}
