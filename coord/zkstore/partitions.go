package zkstore

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/go-zookeeper/zk"

	"github.com/strom-broker/strom/coord/store"
	"github.com/strom-broker/strom/coord/znode"
)

// PartitionState implements store.Store.
func (s *Store) PartitionState(ctx context.Context, tp store.TopicPartition) (store.PartitionState, error) {
	if err := checkTopicName(tp.Topic); err != nil {
		return store.PartitionState{}, err
	}
	p := znode.PartitionStatePath(tp)
	data, st, err := s.get(ctx, p)
	if errors.Is(err, zk.ErrNoNode) {
		if err := s.topicExists(ctx, tp.Topic); err != nil {
			return store.PartitionState{}, err
		}
		return store.PartitionState{}, fmt.Errorf("zkstore: partition %s: %w", tp, store.ErrNoPartitionState)
	}
	if err != nil {
		return store.PartitionState{}, s.wrap("get", p, err)
	}
	ps, err := znode.DecodePartitionState(data, st.Version)
	if err != nil {
		return store.PartitionState{}, fmt.Errorf("zkstore: %s: %w", p, err)
	}
	return ps, nil
}

// PartitionStates implements store.Store. The state znodes are read
// concurrently (readers at a time, pipelined on the one session): a
// controller taking over reads every partition, and one round trip after
// another made 10,000 partitions take seconds.
func (s *Store) PartitionStates(ctx context.Context, topic string) (map[int32]store.PartitionState, error) {
	if err := s.topicExists(ctx, topic); err != nil {
		return nil, err
	}
	parts, _, err := s.partitionNodes(ctx, topic)
	if err != nil {
		return nil, err
	}
	type result struct {
		p   int32
		ps  store.PartitionState
		err error
	}
	work := make(chan int32)
	results := make(chan result)
	var wg sync.WaitGroup
	for range min(readers, len(parts)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range work {
				tp := store.TopicPartition{Topic: topic, Partition: p}
				path := znode.PartitionStatePath(tp)
				data, st, err := s.get(ctx, path)
				r := result{p: p}
				switch {
				case errors.Is(err, zk.ErrNoNode):
					r.err = store.ErrNoPartitionState
				case err != nil:
					r.err = s.wrap("get", path, err)
				default:
					if r.ps, r.err = znode.DecodePartitionState(data, st.Version); r.err != nil {
						r.err = fmt.Errorf("zkstore: %s: %w", path, r.err)
					}
				}
				results <- r
			}
		}()
	}
	go func() {
		for _, p := range parts {
			work <- p
		}
		close(work)
		wg.Wait()
		close(results)
	}()
	out := make(map[int32]store.PartitionState, len(parts))
	var firstErr error
	for r := range results {
		switch {
		case errors.Is(r.err, store.ErrNoPartitionState):
		case r.err != nil:
			if firstErr == nil {
				firstErr = r.err
			}
		default:
			out[r.p] = r.ps
		}
	}
	if firstErr != nil {
		return nil, firstErr
	}
	return out, nil
}

// readers is how many reads PartitionStates has in flight.
const readers = 32

// SetPartitionState implements store.Store.
func (s *Store) SetPartitionState(ctx context.Context, tp store.TopicPartition, st store.PartitionState, expectedVersion int32) (int32, error) {
	vs, err := s.SetPartitionStates(ctx, []store.PartitionStateUpdate{{Partition: tp, State: st, ExpectedVersion: expectedVersion}})
	if err != nil {
		return 0, err
	}
	return vs[0], nil
}

// SetPartitionStates implements store.Store as one multi: a check that
// each topic exists, the missing /partitions and /partitions/<p> parents of
// created states, and each state's create or conditional set.
func (s *Store) SetPartitionStates(ctx context.Context, updates []store.PartitionStateUpdate) ([]int32, error) {
	if len(updates) == 0 {
		return []int32{}, nil
	}
	seen := make(map[store.TopicPartition]bool, len(updates))
	for _, u := range updates {
		if err := checkTopicName(u.Partition.Topic); err != nil {
			return nil, err
		}
		if seen[u.Partition] {
			return nil, fmt.Errorf("zkstore: partition %s updated twice: %w", u.Partition, store.ErrInvalidArgument)
		}
		seen[u.Partition] = true
	}
	for range maxAttempts {
		ops, stateOp, err := s.partitionStateOps(ctx, updates)
		if err != nil {
			return nil, err
		}
		resp, err := s.multi(ctx, "set partition states", ops...)
		if err == nil {
			versions := make([]int32, len(updates))
			for i, u := range updates {
				if u.ExpectedVersion != store.NewVersion {
					versions[i] = resp[stateOp[i]].Stat.Version
				} // a create leaves version 0
			}
			for _, u := range updates {
				s.notifier.Publish(store.Event{Kind: store.EventPartitionState, Topic: u.Partition.Topic, Partition: u.Partition.Partition})
			}
			return versions, nil
		}
		oe := failedAt(err)
		if oe == nil {
			return nil, err
		}
		for i, u := range updates {
			if stateOp[i] != oe.Index {
				continue
			}
			tp := u.Partition
			switch {
			case u.ExpectedVersion == store.NewVersion && errors.Is(oe.Err, zk.ErrNodeExists):
				return nil, fmt.Errorf("zkstore: create state of %s: exists: %w", tp, store.ErrBadVersion)
			case u.ExpectedVersion != store.NewVersion && errors.Is(oe.Err, zk.ErrNoNode):
				return nil, fmt.Errorf("zkstore: set state of %s at version %d: %w", tp, u.ExpectedVersion, store.ErrNoPartitionState)
			case errors.Is(oe.Err, zk.ErrBadVersion):
				return nil, fmt.Errorf("zkstore: set state of %s at version %d: %w", tp, u.ExpectedVersion, store.ErrBadVersion)
			}
		}
		// A topic or a partition parent changed meanwhile: look again.
	}
	return nil, fmt.Errorf("zkstore: set partition states: topics keep changing: %w", store.ErrBadVersion)
}

// partitionStateOps builds SetPartitionStates's multi; stateOp[i] is the
// index of updates[i]'s own op. Topics and partitions are checked against
// the assignments read now (the multi re-checks that each topic exists).
func (s *Store) partitionStateOps(ctx context.Context, updates []store.PartitionStateUpdate) ([]op, []int, error) {
	var ops []op
	stateOp := make([]int, len(updates))
	type topicInfo struct {
		a      store.TopicAssignment
		nodes  map[int32]bool // partitions with a znode
		parent bool           // /partitions exists or is created by ops
	}
	topics := make(map[string]*topicInfo)
	for i, u := range updates {
		tp := u.Partition
		ti := topics[tp.Topic]
		if ti == nil {
			a, err := s.Topic(ctx, tp.Topic)
			if err != nil {
				return nil, nil, err
			}
			parts, parent, err := s.partitionNodes(ctx, tp.Topic)
			if err != nil {
				return nil, nil, err
			}
			ti = &topicInfo{a: a, nodes: make(map[int32]bool, len(parts)), parent: parent}
			for _, p := range parts {
				ti.nodes[p] = true
			}
			topics[tp.Topic] = ti
			ops = append(ops, checkOp(s.conn, znode.TopicPath(tp.Topic), -1))
		}
		if _, ok := ti.a.Partitions[tp.Partition]; !ok {
			return nil, nil, fmt.Errorf("zkstore: partition %s: %w", tp, store.ErrUnknownPartition)
		}
		data := znode.EncodePartitionState(u.State)
		if u.ExpectedVersion != store.NewVersion {
			stateOp[i] = len(ops)
			ops = append(ops, setOp(s.conn, znode.PartitionStatePath(tp), data, u.ExpectedVersion))
			continue
		}
		if !ti.parent {
			ops = append(ops, createOp(s.conn, znode.PartitionsPath(tp.Topic), nil, 0))
			ti.parent = true
		}
		if !ti.nodes[tp.Partition] {
			ops = append(ops, createOp(s.conn, znode.PartitionPath(tp), nil, 0))
			ti.nodes[tp.Partition] = true
		}
		stateOp[i] = len(ops)
		ops = append(ops, createOp(s.conn, znode.PartitionStatePath(tp), data, 0))
	}
	return ops, stateOp, nil
}
