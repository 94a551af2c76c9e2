package broker

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/strom-broker/strom/coord/controller"
	"github.com/strom-broker/strom/coord/group"
	"github.com/strom-broker/strom/coord/store"
	"github.com/strom-broker/strom/replication"
)

// Consumer groups: the broker runs the classic group coordinator
// (coord/group) over the internal topic __consumer_offsets, which it
// creates on the first FindCoordinator (as Kafka does) with
// offsets.topic.num.partitions partitions and cleanup.policy=compact. The
// coordinator serves the groups of the __consumer_offsets partitions this
// broker leads: it loads a partition's groups when the broker becomes its
// leader and forgets them when it stops leading.

// groupTickInterval is how often the coordinator's timers (session and
// rebalance timeouts, offset expiry) are checked.
const groupTickInterval = 100 * time.Millisecond

// groups holds the coordinator and the loading state of its partitions.
type groups struct {
	b     *Broker
	coord *group.Coordinator

	createOnce sync.Mutex // serialises creating __consumer_offsets

	mu     sync.Mutex
	loaded map[int32]int32 // partition -> leader epoch it was loaded at
}

// topicsDeleted is called when an UpdateMetadata from the controller
// deletes topics' partitions: every group's offsets of them are
// tombstoned, as Kafka's GroupCoordinator.onPartitionsDeleted does. (A
// commit to them is refused from then on: partitionExists reads the same
// metadata cache.)
func (g *groups) topicsDeleted(topics []string) {
	g.coord.DeleteTopicOffsets(topics)
}

// partitionExists reports whether topic has partition p in this broker's
// metadata cache, as Kafka's coordinator checks OffsetCommit partitions.
func (g *groups) partitionExists(topic string, p int32) bool {
	_, ok := g.b.meta.Snapshot().Partition(topic, p)
	return ok
}

func newGroups(b *Broker) (*groups, error) {
	cfg := group.DefaultConfig()
	c := b.cfg
	cfg.OffsetsTopicNumPartitions = c.OffsetsTopicNumPartitions
	cfg.GroupMinSessionTimeout = time.Duration(c.GroupMinSessionTimeoutMs) * time.Millisecond
	cfg.GroupMaxSessionTimeout = time.Duration(c.GroupMaxSessionTimeoutMs) * time.Millisecond
	cfg.GroupInitialRebalanceDelay = time.Duration(c.GroupInitialRebalanceDelayMs) * time.Millisecond
	cfg.OffsetsRetention = time.Duration(c.OffsetsRetentionMinutes) * time.Minute
	cfg.OffsetsRetentionCheckInterval = time.Duration(c.OffsetsRetentionCheckIntervalMs) * time.Millisecond
	cfg.OffsetsCommitTimeout = time.Duration(c.OffsetsCommitTimeoutMs) * time.Millisecond
	g := &groups{b: b, loaded: map[int32]int32{}}
	coord, err := group.New(cfg, offsetsLog{b}, group.WithClock(b.now), group.WithLogger(b.log),
		group.WithPartitionExists(g.partitionExists))
	if err != nil {
		return nil, err
	}
	g.coord = coord
	return g, nil
}

// run ticks the coordinator's timers until ctx ends.
func (g *groups) run(ctx context.Context) {
	t := time.NewTicker(groupTickInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			g.coord.Tick()
		}
	}
}

// ensureTopic creates __consumer_offsets if it does not exist yet.
func (g *groups) ensureTopic(ctx context.Context) error {
	g.createOnce.Lock()
	defer g.createOnce.Unlock()
	b := g.b
	if _, err := b.store.Topic(ctx, group.OffsetsTopic); err == nil {
		return nil
	} else if !errors.Is(err, store.ErrUnknownTopic) {
		return err
	}
	brokers, err := b.store.Brokers(ctx)
	if err != nil {
		return err
	}
	rf := int(b.cfg.OffsetsTopicReplicationFactor)
	switch {
	case b.cfg.Embedded():
		rf = min(rf, len(brokers)) // a single broker: 1, whatever the setting
	case len(brokers) < rf:
		// Kafka's rule: the offsets topic waits for enough brokers
		// (FindCoordinator answers COORDINATOR_NOT_AVAILABLE meanwhile).
		return fmt.Errorf("Number of alive brokers '%d' does not meet the required replication factor '%d' for the offsets topic (configured via 'offsets.topic.replication.factor'). This error can be ignored if the cluster is starting up and not all brokers are up yet.",
			len(brokers), rf)
	}
	_, err = b.ctrl.CreateTopic(ctx, controller.TopicSpec{
		Name: group.OffsetsTopic, NumPartitions: b.cfg.OffsetsTopicNumPartitions, ReplicationFactor: int16(max(rf, 1)),
		Configs: map[string]string{"cleanup.policy": "compact", "segment.bytes": strconv.Itoa(int(b.cfg.OffsetsTopicSegmentBytes))},
	}, false)
	if err != nil && !errors.Is(err, store.ErrTopicExists) {
		return fmt.Errorf("creating %s: %w", group.OffsetsTopic, err)
	}
	return nil
}

// leader returns the node leading partition p of __consumer_offsets, with
// its endpoint on listener, from the metadata cache.
func (g *groups) leader(_ context.Context, p int32, listener string) (group.Node, bool) {
	snap := g.b.meta.Snapshot()
	st, ok := snap.Partition(group.OffsetsTopic, p)
	if !ok || st.Leader < 0 {
		return group.Node{}, false
	}
	n, ok := snap.Node(st.Leader, listener)
	if !ok {
		return group.Node{}, false
	}
	return group.Node{ID: n.ID, Host: n.Host, Port: n.Port}, true
}

// onRole is called by the replica manager after it applied a role to a
// partition of __consumer_offsets: leaders load the partition's groups (in
// the background; requests meanwhile get COORDINATOR_LOAD_IN_PROGRESS),
// followers unload them.
func (g *groups) onRole(p int32, leader bool, epoch int32) {
	g.mu.Lock()
	defer g.mu.Unlock()
	cur, loaded := g.loaded[p]
	switch {
	case leader && (!loaded || cur != epoch):
		g.loaded[p] = epoch
		// Loading shows at once (COORDINATOR_LOAD_IN_PROGRESS); the
		// partition is read in the background.
		load, err := g.coord.StartLoad(p)
		if err != nil {
			g.b.log.Error("loading consumer groups", "partition", p, "err", err)
			return
		}
		g.b.bg.Add(1)
		go func() {
			defer g.b.bg.Done()
			if err := load(g.b.ctx); err != nil && g.b.ctx.Err() == nil {
				g.b.log.Error("loading consumer groups", "partition", p, "err", err)
			}
		}()
	case !leader && loaded:
		delete(g.loaded, p)
		g.coord.UnloadPartition(p)
	}
}

// offsetsLog is the coordinator's OffsetsLog over this broker's replicas of
// __consumer_offsets: appends are acks=all (the coordinator waits for the
// commit, without its partition lock), loads read up to the high watermark.
type offsetsLog struct{ b *Broker }

func (o offsetsLog) replica(p int32) (*replication.Partition, error) {
	r, ok := o.b.parts.get(group.OffsetsTopic, p)
	if !ok || !r.IsLeader() {
		return nil, fmt.Errorf("%s-%d: %w", group.OffsetsTopic, p, group.ErrNotLeader)
	}
	return r, nil
}

// Append appends batch to this broker's replica of partition p (acks=all)
// and returns its offset and the wait until it is committed.
func (o offsetsLog) Append(ctx context.Context, p int32, batch []byte) (int64, func(context.Context) error, error) {
	r, err := o.replica(p)
	if err != nil {
		return 0, nil, err
	}
	minISR := o.b.parts.minInsyncReplicas(group.OffsetsTopic)
	info, err := r.Append(batch, replication.AcksAll, minISR)
	if errors.Is(err, replication.ErrNotLeader) {
		return 0, nil, fmt.Errorf("%s-%d: %w", group.OffsetsTopic, p, group.ErrNotLeader)
	}
	if err != nil {
		return 0, nil, err
	}
	return info.FirstOffset, func(ctx context.Context) error {
		err := r.WaitCommitted(ctx, info.LastOffset, minISR)
		if errors.Is(err, replication.ErrNotLeader) {
			return fmt.Errorf("%s-%d: %w", group.OffsetsTopic, p, group.ErrNotLeader)
		}
		return err
	}, nil
}

// ReadAll reads partition p from its log start to its high watermark.
func (o offsetsLog) ReadAll(ctx context.Context, p int32, fn func(batch []byte) error) error {
	r, err := o.replica(p)
	if err != nil {
		return err
	}
	return group.ReadBatches(ctx, r.Log(), r.HighWatermark(), fn)
}
