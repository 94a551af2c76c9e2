package broker

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DescribeCluster (key 60): the cluster id, the controller and the brokers
// (the admin clients' view of the cluster).
func (b *Broker) handleDescribeCluster(req *kmsg.DescribeClusterRequest, listener string) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.DescribeClusterResponse)
	resp.ClusterID = b.clusterID
	resp.ControllerID = -1
	if c, err := b.store.Controller(b.ctx); err == nil {
		resp.ControllerID = c.BrokerID
	}
	brokers, err := b.store.Brokers(b.ctx)
	if err != nil {
		resp.ErrorCode = errorCode(err)
		return resp
	}
	for _, bi := range brokers {
		for _, e := range bi.Endpoints {
			if e.Listener != listener {
				continue
			}
			rb := kmsg.NewDescribeClusterResponseBroker()
			rb.NodeID, rb.Host, rb.Port = bi.ID, e.Host, e.Port
			if bi.Rack != "" {
				rack := bi.Rack
				rb.Rack = &rack
			}
			resp.Brokers = append(resp.Brokers, rb)
		}
	}
	resp.ClusterAuthorizedOperations = -2147483648
	return resp
}
