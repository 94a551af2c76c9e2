package group

import "github.com/twmb/franz-go/pkg/kmsg"

// Node is a broker as FindCoordinator reports it.
type Node struct {
	ID   int32
	Host string
	Port int32
}

// Coordinator key types of FindCoordinator.
const (
	KeyTypeGroup       int8 = 0
	KeyTypeTransaction int8 = 1
)

// FindCoordinator answers FindCoordinator (key 10, v0-v6; v4+ batched
// keys). A group key maps to its __consumer_offsets partition
// (PartitionFor); leader returns the broker leading that partition, or
// false when there is none (the topic does not exist yet, or the partition
// has no leader): the key is then COORDINATOR_NOT_AVAILABLE, which clients
// retry. Transaction keys are UNSUPPORTED_VERSION, a non-retriable error:
// there is no transaction coordinator here, and a retriable answer would
// make transactional producers retry forever, whereas franz-go and the
// Java client (TransactionManager.FindCoordinatorHandler: any
// non-retriable error but the authorization ones is fatal) fail at once
// with the message. Other key types are INVALID_REQUEST.
func (c *Coordinator) FindCoordinator(req *kmsg.FindCoordinatorRequest, leader func(partition int32) (Node, bool)) *kmsg.FindCoordinatorResponse {
	r := kmsg.NewPtrFindCoordinatorResponse()
	r.Version = req.Version
	keyType := req.CoordinatorType
	if req.Version == 0 {
		keyType = KeyTypeGroup
	}
	find := func(key string) kmsg.FindCoordinatorResponseCoordinator {
		out := kmsg.FindCoordinatorResponseCoordinator{Key: key, NodeID: -1, Port: -1}
		var msg string
		switch keyType {
		case KeyTypeGroup:
			if n, ok := leader(c.PartitionFor(key)); ok {
				out.NodeID, out.Host, out.Port = n.ID, n.Host, n.Port
				return out
			}
			out.ErrorCode, msg = errCoordinatorNotAvailable, "the coordinator is not available"
		case KeyTypeTransaction:
			out.ErrorCode, msg = errUnsupportedVersion, "transactions are not supported by this broker (Strom): no transaction coordinator"
		default:
			out.ErrorCode, msg = errInvalidRequest, "unknown coordinator key type"
		}
		out.ErrorMessage = &msg
		return out
	}
	if req.Version >= 4 {
		for _, k := range req.CoordinatorKeys {
			r.Coordinators = append(r.Coordinators, find(k))
		}
		return r
	}
	one := find(req.CoordinatorKey)
	r.ErrorCode, r.NodeID, r.Host, r.Port = one.ErrorCode, one.NodeID, one.Host, one.Port
	if req.Version >= 1 {
		r.ErrorMessage = one.ErrorMessage
	}
	return r
}
