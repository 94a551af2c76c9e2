package zkstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/go-zookeeper/zk"

	"github.com/strom-broker/strom/coord/store"
	"github.com/strom-broker/strom/coord/znode"
)

// checkTopicName rejects names that would not map onto a znode path.
func checkTopicName(name string) error {
	if err := znode.CheckTopicName(name); err != nil {
		return fmt.Errorf("zkstore: %w", err)
	}
	return nil
}

func unknownTopic(name string) error {
	return fmt.Errorf("zkstore: topic %q: %w", name, store.ErrUnknownTopic)
}

// CreateTopic implements store.Store: /brokers/topics/<t> and
// /config/topics/<t> in one multi (Kafka writes the config always, {} when
// there are no overrides). A config znode left without its topic (Kafka's
// tools write it first, non-transactionally) is overwritten.
func (s *Store) CreateTopic(ctx context.Context, a store.TopicAssignment, configs map[string]string) error {
	if err := checkTopicName(a.Name); err != nil {
		return err
	}
	tpath, cpath := znode.TopicPath(a.Name), znode.TopicConfigPath(a.Name)
	for range maxAttempts {
		_, cst, err := s.get(ctx, cpath)
		cfgOp := createOp(s.conn, cpath, znode.EncodeTopicConfig(configs), 0)
		switch {
		case err == nil:
			cfgOp = setOp(s.conn, cpath, znode.EncodeTopicConfig(configs), cst.Version)
		case !errors.Is(err, zk.ErrNoNode):
			return s.wrap("get", cpath, err)
		}
		_, err = s.multi(ctx, "create topic "+a.Name,
			createOp(s.conn, tpath, znode.EncodeTopicAssignment(a), 0), cfgOp)
		if err == nil {
			s.notifier.Publish(store.Event{Kind: store.EventTopic, Topic: a.Name})
			return nil
		}
		oe := failedAt(err)
		switch {
		case oe == nil:
			return err
		case oe.Index == 0 && errors.Is(oe.Err, zk.ErrNodeExists):
			return fmt.Errorf("zkstore: create topic %q: %w", a.Name, store.ErrTopicExists)
		}
		// The config znode changed meanwhile: look again.
	}
	return fmt.Errorf("zkstore: create topic %q: %s keeps changing: %w", a.Name, cpath, store.ErrBadVersion)
}

// Topic implements store.Store.
func (s *Store) Topic(ctx context.Context, name string) (store.TopicAssignment, error) {
	if err := checkTopicName(name); err != nil {
		return store.TopicAssignment{}, err
	}
	p := znode.TopicPath(name)
	data, st, err := s.get(ctx, p)
	if errors.Is(err, zk.ErrNoNode) {
		return store.TopicAssignment{}, unknownTopic(name)
	}
	if err != nil {
		return store.TopicAssignment{}, s.wrap("get", p, err)
	}
	a, err := znode.DecodeTopicAssignment(name, data, st.Version)
	if err != nil {
		return store.TopicAssignment{}, fmt.Errorf("zkstore: %s: %w", p, err)
	}
	return a, nil
}

// Topics implements store.Store.
func (s *Store) Topics(ctx context.Context) ([]string, error) {
	names, err := s.children(ctx, znode.TopicsPath)
	if err != nil {
		return nil, s.wrap("children", znode.TopicsPath, err)
	}
	slices.Sort(names)
	return names, nil
}

// topicExists fails with ErrUnknownTopic if the topic does not exist.
func (s *Store) topicExists(ctx context.Context, name string) error {
	if err := checkTopicName(name); err != nil {
		return err
	}
	ok, err := s.exists(ctx, znode.TopicPath(name))
	if err != nil {
		return err
	}
	if !ok {
		return unknownTopic(name)
	}
	return nil
}

// partitionNodes lists the partitions of a topic that have a znode under
// /brokers/topics/<t>/partitions; exists is false if that parent is
// missing.
func (s *Store) partitionNodes(ctx context.Context, topic string) (parts []int32, exists bool, err error) {
	p := znode.PartitionsPath(topic)
	names, err := s.children(ctx, p)
	if errors.Is(err, zk.ErrNoNode) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, s.wrap("children", p, err)
	}
	for _, n := range names {
		if id, err := strconv.ParseInt(n, 10, 32); err == nil {
			parts = append(parts, int32(id))
		}
	}
	slices.Sort(parts)
	return parts, true, nil
}

// partitionDeletes returns the deletes of partition p's state and node.
func (s *Store) partitionDeletes(ctx context.Context, tp store.TopicPartition) ([]op, error) {
	var ops []op
	ok, err := s.exists(ctx, znode.PartitionStatePath(tp))
	if err != nil {
		return nil, err
	}
	if ok {
		ops = append(ops, deleteOp(s.conn, znode.PartitionStatePath(tp), -1))
	}
	return append(ops, deleteOp(s.conn, znode.PartitionPath(tp), -1)), nil
}

// SetAssignment implements store.Store. Partitions that leave the
// assignment lose their state znodes in the same multi.
func (s *Store) SetAssignment(ctx context.Context, a store.TopicAssignment, expectedVersion int32) (int32, error) {
	if err := checkTopicName(a.Name); err != nil {
		return 0, err
	}
	p := znode.TopicPath(a.Name)
	for range maxAttempts {
		ops := []op{setOp(s.conn, p, znode.EncodeTopicAssignment(a), expectedVersion)}
		parts, _, err := s.partitionNodes(ctx, a.Name)
		if err != nil {
			return 0, err
		}
		for _, part := range parts {
			if _, ok := a.Partitions[part]; ok {
				continue
			}
			dels, err := s.partitionDeletes(ctx, store.TopicPartition{Topic: a.Name, Partition: part})
			if err != nil {
				return 0, err
			}
			ops = append(ops, dels...)
		}
		resp, err := s.multi(ctx, "set assignment of "+a.Name, ops...)
		if err == nil {
			s.notifier.Publish(store.Event{Kind: store.EventTopic, Topic: a.Name})
			return resp[0].Stat.Version, nil
		}
		oe := failedAt(err)
		switch {
		case oe == nil:
			return 0, err
		case oe.Index == 0 && errors.Is(oe.Err, zk.ErrNoNode):
			return 0, unknownTopic(a.Name)
		case oe.Index == 0 && errors.Is(oe.Err, zk.ErrBadVersion):
			return 0, fmt.Errorf("zkstore: set assignment of %q at version %d: %w", a.Name, expectedVersion, store.ErrBadVersion)
		}
		// A partition znode changed meanwhile: look again.
	}
	return 0, fmt.Errorf("zkstore: set assignment of %q: partitions keep changing: %w", a.Name, store.ErrBadVersion)
}

// MarkTopicForDeletion implements store.Store: /admin/delete_topics/<t>,
// created only while the topic exists (a check in the same multi).
func (s *Store) MarkTopicForDeletion(ctx context.Context, name string) error {
	if err := checkTopicName(name); err != nil {
		return err
	}
	_, err := s.multi(ctx, "mark topic "+name+" for deletion",
		checkOp(s.conn, znode.TopicPath(name), -1),
		createOp(s.conn, znode.DeleteTopicPath(name), nil, 0))
	oe := failedAt(err)
	switch {
	case err == nil:
		s.notifier.Publish(store.Event{Kind: store.EventTopicDeletion, Topic: name})
		return nil
	case oe == nil:
		return err
	case oe.Index == 0:
		return unknownTopic(name)
	case errors.Is(oe.Err, zk.ErrNodeExists):
		return nil // idempotent
	}
	return err
}

// TopicsMarkedForDeletion implements store.Store.
func (s *Store) TopicsMarkedForDeletion(ctx context.Context) ([]string, error) {
	names, err := s.children(ctx, znode.DeleteTopicsPath)
	if err != nil {
		return nil, s.wrap("children", znode.DeleteTopicsPath, err)
	}
	slices.Sort(names)
	return names, nil
}

// DeleteTopic implements store.Store: the topic's subtree (partition states
// and nodes), its config and its deletion mark go in one multi. A topic too
// large for one request loses its partition subtrees in batches first (its
// assignment, config and mark still go last, together).
func (s *Store) DeleteTopic(ctx context.Context, name string) error {
	if err := checkTopicName(name); err != nil {
		return err
	}
	for range maxAttempts {
		if err := s.topicExists(ctx, name); err != nil {
			return err
		}
		var subtree []op
		parts, hasParent, err := s.partitionNodes(ctx, name)
		if err != nil {
			return err
		}
		for _, p := range parts {
			dels, err := s.partitionDeletes(ctx, store.TopicPartition{Topic: name, Partition: p})
			if err != nil {
				return err
			}
			subtree = append(subtree, dels...)
		}
		if hasParent {
			subtree = append(subtree, deleteOp(s.conn, znode.PartitionsPath(name), -1))
		}
		last := []op{deleteOp(s.conn, znode.TopicPath(name), -1)}
		for _, p := range []string{znode.TopicConfigPath(name), znode.DeleteTopicPath(name)} {
			ok, err := s.exists(ctx, p)
			if err != nil {
				return err
			}
			if ok {
				last = append(last, deleteOp(s.conn, p, -1))
			}
		}
		ops := append(subtree, last...)
		if opsSize(ops) > maxMultiBytes {
			if err := s.deleteInBatches(ctx, name, subtree); err != nil {
				return err
			}
			ops = last
		}
		_, err = s.multi(ctx, "delete topic "+name, ops...)
		if err == nil {
			s.notifier.Publish(store.Event{Kind: store.EventTopic, Topic: name})
			s.notifier.Publish(store.Event{Kind: store.EventTopicDeletion, Topic: name})
			return nil
		}
		if failedAt(err) == nil {
			return err
		}
		// The subtree changed meanwhile: look again.
	}
	return fmt.Errorf("zkstore: delete topic %q: its znodes keep changing: %w", name, store.ErrBadVersion)
}

// deleteInBatches runs deletes (children before parents) in multis that
// each fit one request.
func (s *Store) deleteInBatches(ctx context.Context, topic string, dels []op) error {
	for len(dels) > 0 {
		n, size := 0, 0
		for n < len(dels) && size+dels[n].size <= maxMultiBytes/2 {
			size += dels[n].size
			n++
		}
		if _, err := s.multi(ctx, "delete partitions of "+topic, dels[:n]...); err != nil {
			return err
		}
		dels = dels[n:]
	}
	return nil
}

// TopicConfig implements store.Store. A topic without a config znode has
// no overrides.
func (s *Store) TopicConfig(ctx context.Context, topic string) (map[string]string, error) {
	if err := s.topicExists(ctx, topic); err != nil {
		return nil, err
	}
	p := znode.TopicConfigPath(topic)
	data, _, err := s.get(ctx, p)
	if errors.Is(err, zk.ErrNoNode) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, s.wrap("get", p, err)
	}
	cfg, err := znode.DecodeTopicConfig(data)
	if err != nil {
		return nil, fmt.Errorf("zkstore: %s: %w", p, err)
	}
	return cfg, nil
}

// SetTopicConfig implements store.Store, with a check in the same multi
// that the topic exists, and Kafka's change notification
// (/config/changes/config_change_<seq>, v2) written in that multi too, so
// every broker (Strom's or Kafka's) sees the change.
func (s *Store) SetTopicConfig(ctx context.Context, topic string, configs map[string]string) error {
	if err := checkTopicName(topic); err != nil {
		return err
	}
	p := znode.TopicConfigPath(topic)
	data := znode.EncodeTopicConfig(configs)
	for range maxAttempts {
		ok, err := s.exists(ctx, p)
		if err != nil {
			return err
		}
		write := createOp(s.conn, p, data, 0)
		if ok {
			write = setOp(s.conn, p, data, -1)
		}
		notice := createOp(s.conn, znode.ConfigChangesPath+"/"+znode.ConfigChangePrefix,
			znode.EncodeTopicConfigChange(topic), zk.FlagSequence)
		_, err = s.multi(ctx, "set config of "+topic, checkOp(s.conn, znode.TopicPath(topic), -1), write, notice)
		oe := failedAt(err)
		switch {
		case err == nil:
			s.notifier.Publish(store.Event{Kind: store.EventTopicConfig, Topic: topic})
			return nil
		case oe == nil:
			return err
		case oe.Index == 0:
			return unknownTopic(topic)
		}
		// Created or deleted meanwhile: look again.
	}
	return fmt.Errorf("zkstore: set config of %q: %s keeps changing: %w", topic, p, store.ErrBadVersion)
}

// AllocateProducerIDBlock implements store.Store as Kafka's
// ZkProducerIdManager: read /latest_producer_id_block and its version (no
// data: the first block starts at 0), write the next block conditionally,
// retry on conflict.
func (s *Store) AllocateProducerIDBlock(ctx context.Context, brokerID int32, size int64) (store.ProducerIDBlock, error) {
	if _, err := store.NextProducerIDBlock(nil, brokerID, size); err != nil {
		return store.ProducerIDBlock{}, fmt.Errorf("zkstore: %w", err)
	}
	p := znode.ProducerIDBlockPath
	for range 10 * maxAttempts {
		data, st, err := s.get(ctx, p)
		exists := err == nil
		if err != nil && !errors.Is(err, zk.ErrNoNode) {
			return store.ProducerIDBlock{}, s.wrap("get", p, err)
		}
		var prev *store.ProducerIDBlock
		if exists && len(data) > 0 {
			b, err := znode.DecodeProducerIDBlock(data)
			if err != nil {
				return store.ProducerIDBlock{}, fmt.Errorf("zkstore: %s: %w", p, err)
			}
			prev = &b
		}
		b, err := store.NextProducerIDBlock(prev, brokerID, size)
		if err != nil {
			return store.ProducerIDBlock{}, fmt.Errorf("zkstore: %w", err)
		}
		write := createOp(s.conn, p, znode.EncodeProducerIDBlock(b), 0)
		if exists {
			write = setOp(s.conn, p, znode.EncodeProducerIDBlock(b), st.Version)
		}
		_, err = s.multi(ctx, "allocate producer ids", write)
		if err == nil {
			return b, nil
		}
		if failedAt(err) == nil {
			return store.ProducerIDBlock{}, err
		}
		// Another broker allocated meanwhile: next block.
	}
	return store.ProducerIDBlock{}, fmt.Errorf("zkstore: %s keeps changing: %w", p, store.ErrBadVersion)
}
