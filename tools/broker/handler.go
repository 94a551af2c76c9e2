package broker

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/net/apis"
	"github.com/strom-broker/strom/net/server"
)

var _ server.Handler = (*Broker)(nil)

// servedAPIs is what this broker advertises in ApiVersions: every API with
// a handler below, from the oldest version a current client may send (low
// minimums, for librdkafka's feature detection) to Kafka 3.9's newest.
var servedAPIs = []apis.Range{
	{Key: 0, Min: 0, Max: 11},                       // Produce
	{Key: 1, Min: 0, Max: 16},                       // Fetch (v17 adds only KRaft replica state)
	{Key: 2, Min: 0, Max: 9},                        // ListOffsets
	{Key: 3, Min: 0, Max: 12},                       // Metadata
	{Key: 4, Min: minLeaderAndIsrVersion, Max: 7},   // LeaderAndIsr (from the controller)
	{Key: 5, Min: minStopReplicaVersion, Max: 4},    // StopReplica (from the controller)
	{Key: 6, Min: minUpdateMetadataVersion, Max: 8}, // UpdateMetadata (from the controller)
	{Key: 7, Min: 1, Max: 3},                        // ControlledShutdown (to the controller)
	{Key: 8, Min: 0, Max: 9},                        // OffsetCommit
	{Key: 9, Min: 0, Max: 9},                        // OffsetFetch
	{Key: 10, Min: 0, Max: 6},                       // FindCoordinator
	{Key: 11, Min: 0, Max: 9},                       // JoinGroup
	{Key: 12, Min: 0, Max: 4},                       // Heartbeat
	{Key: 13, Min: 0, Max: 5},                       // LeaveGroup
	{Key: 14, Min: 0, Max: 5},                       // SyncGroup
	{Key: 15, Min: 0, Max: 5},                       // DescribeGroups
	{Key: 16, Min: 0, Max: 5},                       // ListGroups
	{Key: 18, Min: 0, Max: 4},                       // ApiVersions (answered by the server)
	{Key: 19, Min: 0, Max: 7},                       // CreateTopics
	{Key: 20, Min: 0, Max: 6},                       // DeleteTopics
	{Key: 21, Min: 0, Max: 2},                       // DeleteRecords
	{Key: 22, Min: 0, Max: 5},                       // InitProducerId
	{Key: 23, Min: 0, Max: 4},                       // OffsetForLeaderEpoch
	{Key: 32, Min: 0, Max: 4},                       // DescribeConfigs
	{Key: 33, Min: 0, Max: 2},                       // AlterConfigs
	{Key: 35, Min: 0, Max: 4},                       // DescribeLogDirs
	{Key: 37, Min: 0, Max: 3},                       // CreatePartitions
	{Key: 44, Min: 0, Max: 1},                       // IncrementalAlterConfigs
	{Key: 42, Min: 0, Max: 2},                       // DeleteGroups
	{Key: 43, Min: 0, Max: 2},                       // ElectLeaders
	{Key: 45, Min: 0, Max: 0},                       // AlterPartitionReassignments
	{Key: 46, Min: 0, Max: 0},                       // ListPartitionReassignments
	{Key: 47, Min: 0, Max: 0},                       // OffsetDelete
	{Key: 56, Min: 0, Max: 1},                       // AlterPartition (to the controller)
	{Key: 60, Min: 0, Max: 1},                       // DescribeCluster
}

// APIVersions lists the APIs this broker serves.
func (b *Broker) APIVersions() []apis.Range { return servedAPIs }

// Handle answers one request; see the per-API files.
func (b *Broker) Handle(ctx context.Context, req *server.Request) (server.Response, error) {
	switch r := req.Body.(type) {
	case *kmsg.ProduceRequest:
		return b.handleProduce(ctx, r, b.listenerOf(req))
	case *kmsg.FetchRequest:
		resp, err := b.handleFetch(ctx, r, b.listenerOf(req))
		if err != nil {
			return nil, err // not a typed nil in the interface
		}
		return resp, nil
	case *kmsg.ListOffsetsRequest:
		return b.handleListOffsets(r), nil
	case *kmsg.MetadataRequest:
		return b.handleMetadata(ctx, r, b.listenerOf(req)), nil
	case *kmsg.LeaderAndISRRequest:
		return b.handleLeaderAndIsr(ctx, r), nil
	case *kmsg.StopReplicaRequest:
		return b.handleStopReplica(ctx, r), nil
	case *kmsg.UpdateMetadataRequest:
		return b.handleUpdateMetadata(ctx, r), nil
	case *kmsg.ControlledShutdownRequest:
		return b.handleControlledShutdown(ctx, r), nil
	case *kmsg.CreateTopicsRequest:
		return b.handleCreateTopics(ctx, r), nil
	case *kmsg.DeleteTopicsRequest:
		return b.handleDeleteTopics(ctx, r), nil
	case *kmsg.DeleteRecordsRequest:
		return b.handleDeleteRecords(r), nil
	case *kmsg.InitProducerIDRequest:
		return b.handleInitProducerID(ctx, r), nil
	case *kmsg.AlterPartitionRequest:
		return b.handleAlterPartition(ctx, r), nil
	case *kmsg.OffsetForLeaderEpochRequest:
		return b.handleOffsetForLeaderEpoch(r), nil
	case *kmsg.DescribeConfigsRequest:
		return b.handleDescribeConfigs(ctx, r), nil
	case *kmsg.AlterConfigsRequest:
		return b.handleAlterConfigs(ctx, r), nil
	case *kmsg.DescribeLogDirsRequest:
		return b.handleDescribeLogDirs(r), nil
	case *kmsg.ElectLeadersRequest:
		return b.handleElectLeaders(ctx, r), nil
	case *kmsg.AlterPartitionAssignmentsRequest:
		return b.handleAlterPartitionReassignments(ctx, r), nil
	case *kmsg.ListPartitionReassignmentsRequest:
		return b.handleListPartitionReassignments(ctx, r), nil
	case *kmsg.CreatePartitionsRequest:
		return b.handleCreatePartitions(ctx, r), nil
	case *kmsg.IncrementalAlterConfigsRequest:
		return b.handleIncrementalAlterConfigs(ctx, r), nil
	case *kmsg.DescribeClusterRequest:
		return b.handleDescribeCluster(r, b.listenerOf(req)), nil
	case *kmsg.FindCoordinatorRequest:
		return b.handleFindCoordinator(ctx, r, b.listenerOf(req)), nil
	}
	if resp, ok := b.handleGroupRequest(ctx, req); ok {
		return resp, nil
	}
	return nil, fmt.Errorf("broker: no handler for %s", kmsg.NameForKey(req.Key))
}

// listenerOf is the name of the listener a request came in on: Metadata,
// DescribeCluster and FindCoordinator answer with the brokers' endpoints on that listener,
// as Kafka does (clients reach the brokers the way they reached this one).
func (b *Broker) listenerOf(req *server.Request) string {
	if req.Conn.Listener != "" {
		return req.Conn.Listener
	}
	return b.cfg.Listeners[0].Name
}
