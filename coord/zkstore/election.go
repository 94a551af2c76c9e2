package zkstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-zookeeper/zk"

	"github.com/strom-broker/strom/coord/store"
	"github.com/strom-broker/strom/coord/znode"
)

// PreferredReplicaElection implements store.Store.
func (s *Store) PreferredReplicaElection(ctx context.Context) ([]store.TopicPartition, error) {
	data, _, err := s.get(ctx, znode.PreferredReplicaElectionPath)
	if errors.Is(err, zk.ErrNoNode) {
		return nil, nil
	}
	if err != nil {
		return nil, s.wrap("get", znode.PreferredReplicaElectionPath, err)
	}
	tps, err := znode.DecodePreferredReplicaElection(data)
	if err != nil {
		return nil, fmt.Errorf("zkstore: %s: %w", znode.PreferredReplicaElectionPath, err)
	}
	return tps, nil
}

// DeletePreferredReplicaElection implements store.Store (a multi, so a
// fenced view checks the controller epoch with it).
func (s *Store) DeletePreferredReplicaElection(ctx context.Context) error {
	_, err := s.multi(ctx, "delete preferred replica election", deleteOp(s.conn, znode.PreferredReplicaElectionPath, -1))
	if oe := failedAt(err); oe != nil && errors.Is(oe.Err, zk.ErrNoNode) {
		return nil
	}
	return err
}

// PartitionReassignments implements store.Store.
func (s *Store) PartitionReassignments(ctx context.Context) (map[store.TopicPartition][]int32, error) {
	data, _, err := s.get(ctx, znode.ReassignPartitionsPath)
	if errors.Is(err, zk.ErrNoNode) {
		return nil, nil
	}
	if err != nil {
		return nil, s.wrap("get", znode.ReassignPartitionsPath, err)
	}
	m, err := znode.DecodeReassignment(data)
	if err != nil {
		return nil, fmt.Errorf("zkstore: %s: %w", znode.ReassignPartitionsPath, err)
	}
	return m, nil
}

// SetPartitionReassignments implements store.Store (multis, so a fenced
// view checks the controller epoch with them).
func (s *Store) SetPartitionReassignments(ctx context.Context, m map[store.TopicPartition][]int32) error {
	p := znode.ReassignPartitionsPath
	if len(m) == 0 {
		_, err := s.multi(ctx, "delete reassignments", deleteOp(s.conn, p, -1))
		if oe := failedAt(err); oe != nil && errors.Is(oe.Err, zk.ErrNoNode) {
			return nil
		}
		return err
	}
	data := znode.EncodeReassignment(m)
	_, err := s.multi(ctx, "set reassignments", setOp(s.conn, p, data, -1))
	if oe := failedAt(err); oe != nil && errors.Is(oe.Err, zk.ErrNoNode) {
		_, err = s.multi(ctx, "create reassignments", createOp(s.conn, p, data, 0))
	}
	return err
}
