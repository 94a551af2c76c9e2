package broker

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/strom-broker/strom/coord/controller"
	"github.com/strom-broker/strom/coord/group"
	"github.com/strom-broker/strom/coord/store"
	"github.com/strom-broker/strom/engine/checkpoint"
	"github.com/strom-broker/strom/engine/logmgr"
	"github.com/strom-broker/strom/engine/partlog"
	"github.com/strom-broker/strom/net/kerr"
	"github.com/strom-broker/strom/replication"
)

// replicaManager holds this broker's replicas as the controller's requests
// made them (replicas_control.go): it opens a log and a
// replication.Partition for every replica a LeaderAndIsr assigns here,
// applies each partition state (leader, epoch, ISR), applies topic config
// changes to open logs, and deletes the logs StopReplica deletes.
//
// Invariant: parts holds exactly the partitions installed by LeaderAndIsr
// and not since stopped by StopReplica.
type replicaManager struct {
	b *Broker

	syncMu sync.Mutex // serialises the application of control requests

	mu     sync.RWMutex
	parts  map[store.TopicPartition]*replication.Partition
	ids    map[string]store.UUID // topic -> id, for topics hosted here
	epochs map[store.TopicPartition]int32
	minISR map[string]int                      // topic -> min.insync.replicas override
	hws    map[checkpoint.TopicPartition]int64 // from the checkpoint, used once per partition
	// stopped are the high watermarks of replicas StopReplica stopped
	// without deleting them (a controlled shutdown): their logs stay, and
	// so do their checkpoint entries.
	stopped map[store.TopicPartition]int64

	durable map[string]bool // topic -> durable.acks.enable override (under mu)
}

func newReplicaManager(b *Broker, hws map[checkpoint.TopicPartition]int64) *replicaManager {
	return &replicaManager{b: b, parts: map[store.TopicPartition]*replication.Partition{},
		ids: map[string]store.UUID{}, epochs: map[store.TopicPartition]int32{}, minISR: map[string]int{}, hws: hws,
		stopped: map[store.TopicPartition]int64{}, durable: map[string]bool{}}
}

// get returns the local replica of tp.
func (m *replicaManager) get(topic string, p int32) (*replication.Partition, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	r, ok := m.parts[store.TopicPartition{Topic: topic, Partition: p}]
	return r, ok
}

// leader returns the local replica of a partition this broker leads, after
// checking the client's current leader epoch (-1: not given). Errors:
// UNKNOWN_TOPIC_OR_PARTITION, NOT_LEADER_OR_FOLLOWER, FENCED_LEADER_EPOCH,
// UNKNOWN_LEADER_EPOCH.
func (m *replicaManager) leader(topic string, p, currentLeaderEpoch int32) (*replication.Partition, error) {
	r, ok := m.get(topic, p)
	if !ok {
		return nil, m.notHosted(topic, p)
	}
	if !r.IsLeader() {
		return nil, kerr.NotLeaderForPartition
	}
	if err := r.CheckEpoch(currentLeaderEpoch); err != nil {
		return nil, err
	}
	return r, nil
}

// notHosted is the error for a partition this broker has no replica of:
// NOT_LEADER_OR_FOLLOWER if the cluster has it (the client should look for
// its leader again), else UNKNOWN_TOPIC_OR_PARTITION (Kafka's
// ReplicaManager.getPartitionOrError).
func (m *replicaManager) notHosted(topic string, p int32) error {
	if _, known := m.b.meta.Snapshot().Partition(topic, p); known {
		return kerr.NotLeaderForPartition
	}
	return kerr.UnknownTopicOrPartition
}

// all returns every local replica.
func (m *replicaManager) all() []*replication.Partition {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]*replication.Partition, 0, len(m.parts))
	for _, p := range m.parts {
		out = append(out, p)
	}
	return out
}

// highWatermarks returns every local partition's high watermark.
func (m *replicaManager) highWatermarks() map[checkpoint.TopicPartition]int64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make(map[checkpoint.TopicPartition]int64, len(m.parts)+len(m.stopped))
	for tp, hw := range m.stopped {
		out[checkpoint.TopicPartition{Topic: tp.Topic, Partition: tp.Partition}] = hw
	}
	for tp, p := range m.parts {
		out[checkpoint.TopicPartition{Topic: tp.Topic, Partition: tp.Partition}] = p.HighWatermark()
	}
	return out
}

// remove stops hosting tp (if hosted) and, if deleteLog, deletes its log.
func (m *replicaManager) remove(tp store.TopicPartition, deleteLog bool) {
	m.mu.Lock()
	p, ok := m.parts[tp]
	if ok {
		m.b.fetchers.Remove(p)
		delete(m.parts, tp)
		// Wake long polls and acks=all waiters: they re-check and find
		// the partition gone.
		p.MakeFollower(m.epochs[tp], store.NoLeader, nil)
		delete(m.epochs, tp)
		if !deleteLog {
			m.stopped[tp] = p.HighWatermark()
		}
	}
	if deleteLog {
		delete(m.stopped, tp)
		// Forget the topic's id: a fetch by it is UNKNOWN_TOPIC_ID, even
		// once a topic of the same name is created again.
		delete(m.ids, tp.Topic)
	}
	m.mu.Unlock()
	if deleteLog {
		if err := m.b.logs.Delete(tp.Topic, tp.Partition); err != nil && !errors.Is(err, logmgr.ErrUnknownPartition) {
			m.b.log.Warn("deleting partition log", "partition", tp.String(), "err", err)
		}
	}
}

// install makes this broker's replica of r.Partition take r's role and
// state: a partition not hosted yet is created on log (nil: its log failed
// to open, nothing is installed), and a partition whose leader epoch or
// role changed becomes leader (its fetcher stopped first) or follower
// (fetching from its leader, found in liveLeaders or the metadata cache).
func (m *replicaManager) install(r controller.Replica, log *partlog.Log, liveLeaders []store.BrokerInfo) {
	b := m.b
	tp := r.Partition
	m.mu.RLock()
	p, have := m.parts[tp]
	epoch, seen := m.epochs[tp]
	m.mu.RUnlock()
	if !have {
		if log == nil {
			return
		}
		hw := m.hws[checkpoint.TopicPartition{Topic: tp.Topic, Partition: tp.Partition}]
		m.mu.RLock()
		if s, ok := m.stopped[tp]; ok {
			hw = s
		}
		m.mu.RUnlock()
		p = replication.New(tp.Topic, tp.Partition, b.cfg.BrokerID, log, hw, b.now)
		p.SetISRListener(b.alterISR.notify)
		p.SetDurableAcks(m.durableAcks(tp.Topic))
	}
	if !have || !seen || epoch != r.State.LeaderEpoch || r.Role == controller.RoleLeader && !p.IsLeader() {
		if r.Role == controller.RoleLeader {
			b.fetchers.Remove(p)
			if err := p.MakeLeader(r.State.LeaderEpoch, r.Replicas, r.State.ISR, r.State.Version); err != nil {
				b.log.Error("recording the leader epoch", "partition", tp.String(), "err", err)
			}
		} else {
			p.MakeFollower(r.State.LeaderEpoch, r.State.Leader, r.Replicas)
			b.follow(p, r.State.Leader, r.State.LeaderEpoch, liveLeaders)
		}
	}
	m.mu.Lock()
	m.parts[tp] = p
	delete(m.stopped, tp)
	m.epochs[tp] = r.State.LeaderEpoch
	m.ids[tp.Topic] = r.TopicID
	m.mu.Unlock()
	if tp.Topic == group.OffsetsTopic {
		b.groups.onRole(tp.Partition, r.Role == controller.RoleLeader, r.State.LeaderEpoch)
	}
}

// openNew reads the topic configs of reps (recording min.insync.replicas),
// applies each to the topic's open logs once, and opens or creates the
// logs of the replicas not yet in m.parts in one batch (the log manager
// creates them concurrently with one directory fsync per log dir). It
// returns the logs it opened, keyed by partition, and the joined errors of
// the others (a topic whose config cannot be read opens nothing).
func (m *replicaManager) openNew(ctx context.Context, reps []controller.Replica) (map[store.TopicPartition]*partlog.Log, error) {
	b := m.b
	configs := map[string]partlog.Config{}
	failed := map[string]bool{} // topics whose config could not be read
	var errs []error
	var reqs []logmgr.CreateRequest
	for _, r := range reps {
		tp := r.Partition
		if failed[tp.Topic] {
			continue
		}
		lc, ok := configs[tp.Topic]
		if !ok {
			overrides, err := b.store.TopicConfig(ctx, tp.Topic)
			if err != nil {
				// Only this topic waits for its config (a corrupt
				// znode, an unreachable store); the others open.
				failed[tp.Topic] = true
				errs = append(errs, fmt.Errorf("config of topic %s: %w", tp.Topic, err))
				continue
			}
			m.setMinISR(tp.Topic, overrides)
			m.setDurableAcks(tp.Topic, overrides)
			if lc, err = applyTopicConfig(brokerLogConfig(b.cfg), overrides); err != nil {
				b.log.Warn("ignoring invalid topic config", "topic", tp.Topic, "err", err)
				lc = brokerLogConfig(b.cfg)
			}
			configs[tp.Topic] = lc
		}
		if _, have := m.get(tp.Topic, tp.Partition); !have {
			reqs = append(reqs, logmgr.CreateRequest{Topic: tp.Topic, Partition: tp.Partition, Config: lc})
		}
	}
	applied := map[string]bool{}
	for _, rq := range reqs {
		if !applied[rq.Topic] {
			applied[rq.Topic] = true
			if err := b.logs.SetTopicConfig(rq.Topic, rq.Config); err != nil {
				b.log.Debug("topic config not applied to open logs", "topic", rq.Topic, "err", err)
			}
		}
	}
	opened, err := b.logs.GetOrCreateAll(reqs)
	if err != nil {
		errs = append(errs, fmt.Errorf("opening partition logs: %w", err))
	}
	logs := make(map[store.TopicPartition]*partlog.Log, len(reqs))
	for i, rq := range reqs {
		if opened[i] != nil {
			logs[store.TopicPartition{Topic: rq.Topic, Partition: rq.Partition}] = opened[i]
		}
	}
	return logs, errors.Join(errs...)
}

// applyTopicConfig re-reads a topic's overrides and applies them to the
// topic's open logs.
func (m *replicaManager) applyTopicConfig(ctx context.Context, topic string) {
	b := m.b
	overrides, err := b.store.TopicConfig(ctx, topic)
	if err != nil {
		return
	}
	m.setMinISR(topic, overrides)
	m.setDurableAcks(topic, overrides)
	lc, err := applyTopicConfig(brokerLogConfig(b.cfg), overrides)
	if err != nil {
		b.log.Warn("ignoring invalid topic config", "topic", topic, "err", err)
		return
	}
	if err := b.logs.SetTopicConfig(topic, lc); err != nil {
		b.log.Warn("topic config not applied to open logs", "topic", topic, "err", err)
	}
}

// setMinISR records a topic's min.insync.replicas override (or its absence).
func (m *replicaManager) setMinISR(topic string, overrides map[string]string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if n, err := strconv.Atoi(overrides["min.insync.replicas"]); err == nil {
		m.minISR[topic] = n
	} else {
		delete(m.minISR, topic)
	}
}

// minInsyncReplicas is the topic's min.insync.replicas, else the broker's
// (kept from the metadata store by sync and config events, so the produce
// path reads no store).
func (m *replicaManager) minInsyncReplicas(topic string) int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if n, ok := m.minISR[topic]; ok {
		return n
	}
	return int(m.b.cfg.MinInsyncReplicas)
}

// watch applies every topic config change to the open logs until ctx
// ends. (Leadership arrives from the controller: LeaderAndIsr.)
func (m *replicaManager) watch(ctx context.Context) {
	sub := m.b.store.Subscribe(store.EventTopicConfig)
	defer sub.Close()
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-sub.Ready():
			if !ok {
				return
			}
			for _, ev := range sub.Drain() {
				m.applyTopicConfig(ctx, ev.Topic)
			}
		}
	}
}

// topicName returns the name of a topic by id: a hosted one, else one in
// the cluster's metadata ("" if unknown).
func (m *replicaManager) topicName(id [16]byte) string {
	m.mu.RLock()
	for name, tid := range m.ids {
		if tid == store.UUID(id) {
			m.mu.RUnlock()
			return name
		}
	}
	m.mu.RUnlock()
	name, _ := m.b.meta.Snapshot().TopicName(store.UUID(id))
	return name
}

// durableAcksKey is the broker and topic config that turns durable acks
// on (replication/durable.go; Strom's, not Kafka's).
const durableAcksKey = "durable.acks.enable"

// setDurableAcks records a topic's durable.acks.enable override (or its
// absence) and applies the resulting setting to the topic's replicas here.
func (m *replicaManager) setDurableAcks(topic string, overrides map[string]string) {
	m.mu.Lock()
	if on, err := strconv.ParseBool(overrides[durableAcksKey]); err == nil {
		m.durable[topic] = on
	} else {
		delete(m.durable, topic)
	}
	on := m.durableAcksLocked(topic)
	var rs []*replication.Partition
	for tp, p := range m.parts {
		if tp.Topic == topic {
			rs = append(rs, p)
		}
	}
	m.mu.Unlock()
	for _, p := range rs {
		p.SetDurableAcks(on)
	}
}

// durableAcks is the topic's durable.acks.enable, else the broker's.
func (m *replicaManager) durableAcks(topic string) bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.durableAcksLocked(topic)
}

// durableAcksLocked is durableAcks with m.mu held.
func (m *replicaManager) durableAcksLocked(topic string) bool {
	if on, ok := m.durable[topic]; ok {
		return on
	}
	return m.b.cfg.DurableAcksEnable
}
