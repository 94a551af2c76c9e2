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
