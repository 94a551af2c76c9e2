package broker

import (
	"context"
	"net"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/coord/group"
	"github.com/strom-broker/strom/net/server"
)

// The consumer group APIs (keys 8-16, 42, 47) are answered by the group
// coordinator; see groups.go for how it is wired. The coordinator owns the
// protocol rules; these functions only pass requests through.

// handleFindCoordinator (key 10) creates __consumer_offsets on first use and
// names the leader of the group's partition by its endpoint on the
// listener the request came in on, as Kafka's KafkaApis.getCoordinator
// does (a leader without an endpoint there is COORDINATOR_NOT_AVAILABLE).
func (b *Broker) handleFindCoordinator(ctx context.Context, req *kmsg.FindCoordinatorRequest, listener string) kmsg.Response {
	if err := b.groups.ensureTopic(ctx); err != nil {
		b.log.Warn("creating __consumer_offsets", "err", err)
	}
	return b.groups.coord.FindCoordinator(req, func(p int32) (group.Node, bool) { return b.groups.leader(ctx, p, listener) })
}

// groupClient identifies a group member's client as Kafka does: client id
// and "/ip".
func groupClient(req *server.Request) group.Client {
	c := group.Client{}
	if req.ClientID != nil {
		c.ID = *req.ClientID
	}
	if req.Conn.Remote != nil {
		host, _, err := net.SplitHostPort(req.Conn.Remote.String())
		if err != nil {
			host = req.Conn.Remote.String()
		}
		c.Host = "/" + host
	}
	return c
}

// handleGroupRequest answers the group APIs other than FindCoordinator; ok
// is false for any other request.
func (b *Broker) handleGroupRequest(ctx context.Context, req *server.Request) (kmsg.Response, bool) {
	c := b.groups.coord
	switch r := req.Body.(type) {
	case *kmsg.OffsetCommitRequest:
		return c.OffsetCommit(ctx, r), true
	case *kmsg.OffsetFetchRequest:
		return c.OffsetFetch(r), true
	case *kmsg.JoinGroupRequest:
		return c.JoinGroup(ctx, r, groupClient(req)), true
	case *kmsg.HeartbeatRequest:
		return c.Heartbeat(r), true
	case *kmsg.LeaveGroupRequest:
		return c.LeaveGroup(r), true
	case *kmsg.SyncGroupRequest:
		return c.SyncGroup(ctx, r), true
	case *kmsg.DescribeGroupsRequest:
		return c.DescribeGroups(r), true
	case *kmsg.ListGroupsRequest:
		return c.ListGroups(r), true
	case *kmsg.DeleteGroupsRequest:
		return c.DeleteGroups(ctx, r), true
	case *kmsg.OffsetDeleteRequest:
		return c.OffsetDelete(ctx, r), true
	}
	return nil, false
}
