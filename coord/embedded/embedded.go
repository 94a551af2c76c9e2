// Package embedded is the in-process Store for single-broker mode: the whole
// metadata tree in memory, its persistent part saved to one file in the data
// directory (DefaultFileName) after every change, crash-safely. It needs no
// other process and behaves like the ZooKeeper Store with one session: the
// ephemeral records (broker registrations, the controller) live only as long
// as the Store.
//
// Broker epochs count registrations within one open Store (registrations do
// not outlive it either).
//
// Invariants (under Store.mu):
//   - s.state is exactly what the metadata file holds: a write is applied to
//     a copy, the copy is saved, and only then does it replace s.state, so a
//     failed save changes nothing.
//   - every partition in s.state.topics[t].partitions is in t's assignment.
//   - events are published after the change they describe is visible.
//
// Safe for concurrent use; every method takes s.mu for its whole duration,
// and publishes under it (lock order: Store.mu, then store.Notifier).
package embedded

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"

	"github.com/strom-broker/strom/coord/store"
	"github.com/strom-broker/strom/coord/znode"
)

// DefaultFileName is the metadata file's name inside the first log dir.
const DefaultFileName = "strom-metadata.json"

// Store is the embedded store.Store, or a fenced view of one (Fenced).
type Store struct {
	*db
	// fence, if not nil, is the controller epoch every write through this
	// view requires (store.Store.Fenced); nil for the store itself.
	fence *int32
}

// db is the store's shared state; a store and its fenced views point at the
// same db.
type db struct {
	path     string
	lockFile *os.File // holds an exclusive flock on path+".lock" while open
	notifier *store.Notifier

	mu          sync.Mutex
	closed      bool
	state       *state                     // durable; see invariants
	brokers     map[int32]store.BrokerInfo // ephemeral
	controller  *store.ControllerInfo      // ephemeral; nil = none
	brokerEpoch int64                      // last broker epoch handed out
}

var _ store.Store = (*Store)(nil)

// state is the durable metadata.
type state struct {
	clusterID       string
	controllerEpoch int32
	pidBlock        *store.ProducerIDBlock
	pidBlockVersion int32
	topics          map[string]*topicState
}

type topicState struct {
	assignment        store.TopicAssignment
	config            map[string]string
	configVersion     int32
	partitions        map[int32]store.PartitionState
	markedForDeletion bool
}

func newState() *state { return &state{topics: make(map[string]*topicState)} }

func (st *state) clone() *state {
	c := *st
	if st.pidBlock != nil {
		b := *st.pidBlock
		c.pidBlock = &b
	}
	c.topics = make(map[string]*topicState, len(st.topics))
	for n, t := range st.topics {
		tc := *t
		tc.assignment = t.assignment.Clone()
		tc.config = store.CloneConfigs(t.config)
		tc.partitions = make(map[int32]store.PartitionState, len(t.partitions))
		for p, ps := range t.partitions {
			tc.partitions[p] = ps.Clone()
		}
		c.topics[n] = &tc
	}
	return &c
}

// ErrLocked: another Store (in this or another process) has the metadata
// file open.
var ErrLocked = errors.New("metadata file is in use")

// Open loads (or, if absent, starts) the metadata file at path. A file that
// does not decode fails with an error wrapping store.ErrCorrupt; a file
// another open Store holds fails with ErrLocked.
func Open(path string) (*Store, error) {
	lf, err := lockFile(path + ".lock")
	if err != nil {
		return nil, err
	}
	st, err := readSnapshot(path)
	if err != nil {
		_ = lf.Close()
		return nil, err
	}
	// Leftovers of a save interrupted by a crash.
	if tmps, _ := filepath.Glob(path + ".tmp-*"); len(tmps) > 0 {
		for _, t := range tmps {
			_ = os.Remove(t)
		}
	}
	return &Store{db: &db{
		path:     path,
		lockFile: lf,
		notifier: store.NewNotifier(),
		state:    st,
		brokers:  make(map[int32]store.BrokerInfo),
	}}, nil
}

// Path returns the metadata file's path.
func (s *Store) Path() string { return s.path }

// lock takes s.mu and checks the store is open and ctx is live. On success
// the caller must unlock.
func (s *Store) lock(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return store.ErrClosed
	}
	return nil
}

// Fenced implements store.Store.
func (s *Store) Fenced(controllerEpoch int32) store.Store {
	return &Store{db: s.db, fence: &controllerEpoch}
}

// checkFence fails with store.ErrControllerMoved if s is a fenced view and
// the stored controller epoch is no longer its epoch.
// REQUIRES: s.mu is held.
func (s *Store) checkFence() error {
	if s.fence != nil && *s.fence != s.state.controllerEpoch {
		return fmt.Errorf("embedded: write fenced by controller epoch %d, stored epoch %d: %w",
			*s.fence, s.state.controllerEpoch, store.ErrControllerMoved)
	}
	return nil
}

// update applies fn to a copy of the durable state, saves the copy and, if
// that worked, installs it and publishes fn's events. A fenced view's write
// is checked first.
// REQUIRES: s.mu is held.
func (s *Store) update(fn func(st *state) ([]store.Event, error)) error {
	if err := s.checkFence(); err != nil {
		return err
	}
	next := s.state.clone()
	events, err := fn(next)
	if err != nil {
		return err
	}
	data, err := encodeSnapshot(next)
	if err != nil {
		return fmt.Errorf("embedded: encode metadata: %w", err)
	}
	if err := writeFileAtomic(s.path, data); err != nil {
		return fmt.Errorf("embedded: save metadata %s: %w", s.path, err)
	}
	s.state = next
	for _, ev := range events {
		s.notifier.Publish(ev)
	}
	return nil
}

// write takes s.mu and applies fn through update.
func (s *Store) write(ctx context.Context, fn func(st *state) ([]store.Event, error)) error {
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	return s.update(fn)
}

// writeTopic is write for a change to one existing topic (ErrUnknownTopic
// otherwise).
func (s *Store) writeTopic(ctx context.Context, name string, fn func(st *state, t *topicState) ([]store.Event, error)) error {
	return s.write(ctx, func(st *state) ([]store.Event, error) {
		t, err := st.topic(name)
		if err != nil {
			return nil, err
		}
		return fn(st, t)
	})
}

// readTopic runs fn on an existing topic under s.mu (ErrUnknownTopic
// otherwise). fn must copy what it returns.
func (s *Store) readTopic(ctx context.Context, name string, fn func(t *topicState) error) error {
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	t, err := s.state.topic(name)
	if err != nil {
		return err
	}
	return fn(t)
}

// GetOrCreateClusterID implements store.Store.
func (s *Store) GetOrCreateClusterID(ctx context.Context, candidate string) (string, error) {
	if err := s.lock(ctx); err != nil {
		return "", err
	}
	defer s.mu.Unlock()
	if s.state.clusterID != "" {
		return s.state.clusterID, nil
	}
	if candidate == "" {
		return "", fmt.Errorf("embedded: empty cluster id: %w", store.ErrInvalidArgument)
	}
	err := s.update(func(st *state) ([]store.Event, error) {
		st.clusterID = candidate
		return nil, nil
	})
	if err != nil {
		return "", err
	}
	return candidate, nil
}

// RegisterBroker implements store.Store.
func (s *Store) RegisterBroker(ctx context.Context, b store.BrokerInfo) error {
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	if err := s.checkFence(); err != nil {
		return err
	}
	if _, ok := s.brokers[b.ID]; ok {
		return fmt.Errorf("embedded: register broker %d: %w", b.ID, store.ErrBrokerExists)
	}
	s.brokerEpoch++
	b = b.Clone()
	b.Epoch = s.brokerEpoch
	s.brokers[b.ID] = b
	s.notifier.Publish(store.Event{Kind: store.EventBrokers})
	return nil
}

// UnregisterBroker implements store.Store. If the broker was the
// controller, control is released too (its session ended).
func (s *Store) UnregisterBroker(ctx context.Context, id int32) error {
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	if err := s.checkFence(); err != nil {
		return err
	}
	if _, ok := s.brokers[id]; !ok {
		return fmt.Errorf("embedded: unregister broker %d: %w", id, store.ErrUnknownBroker)
	}
	delete(s.brokers, id)
	s.notifier.Publish(store.Event{Kind: store.EventBrokers})
	if s.controller != nil && s.controller.BrokerID == id {
		s.controller = nil
		s.notifier.Publish(store.Event{Kind: store.EventController})
	}
	return nil
}

// Broker implements store.Store.
func (s *Store) Broker(ctx context.Context, id int32) (store.BrokerInfo, error) {
	if err := s.lock(ctx); err != nil {
		return store.BrokerInfo{}, err
	}
	defer s.mu.Unlock()
	b, ok := s.brokers[id]
	if !ok {
		return store.BrokerInfo{}, fmt.Errorf("embedded: broker %d: %w", id, store.ErrUnknownBroker)
	}
	return b.Clone(), nil
}

// Brokers implements store.Store.
func (s *Store) Brokers(ctx context.Context) ([]store.BrokerInfo, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	out := make([]store.BrokerInfo, 0, len(s.brokers))
	for _, id := range slices.Sorted(maps.Keys(s.brokers)) {
		out = append(out, s.brokers[id].Clone())
	}
	return out, nil
}

// TryBecomeController implements store.Store.
func (s *Store) TryBecomeController(ctx context.Context, brokerID int32) (int32, error) {
	if err := s.lock(ctx); err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	if s.controller != nil {
		return 0, fmt.Errorf("embedded: broker %d cannot become controller, broker %d is: %w",
			brokerID, s.controller.BrokerID, store.ErrControllerExists)
	}
	var epoch int32
	err := s.update(func(st *state) ([]store.Event, error) {
		st.controllerEpoch++
		epoch = st.controllerEpoch
		return []store.Event{{Kind: store.EventController}}, nil
	})
	if err != nil {
		return 0, err
	}
	s.controller = &store.ControllerInfo{BrokerID: brokerID, Epoch: epoch}
	return epoch, nil
}

// Controller implements store.Store.
func (s *Store) Controller(ctx context.Context) (store.ControllerInfo, error) {
	if err := s.lock(ctx); err != nil {
		return store.ControllerInfo{}, err
	}
	defer s.mu.Unlock()
	if s.controller == nil {
		return store.ControllerInfo{}, fmt.Errorf("embedded: %w", store.ErrNoController)
	}
	return *s.controller, nil
}

// ResignController implements store.Store.
func (s *Store) ResignController(ctx context.Context, brokerID int32) error {
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	if err := s.checkFence(); err != nil {
		return err
	}
	if s.controller == nil || s.controller.BrokerID != brokerID {
		return fmt.Errorf("embedded: broker %d resign: %w", brokerID, store.ErrNotController)
	}
	s.controller = nil
	s.notifier.Publish(store.Event{Kind: store.EventController})
	return nil
}

// checkTopicName rejects names that would not map onto a znode path.
func checkTopicName(name string) error {
	if err := znode.CheckTopicName(name); err != nil {
		return fmt.Errorf("embedded: %w", err)
	}
	return nil
}

// topic returns the named topic. REQUIRES: s.mu is held.
func (st *state) topic(name string) (*topicState, error) {
	t, ok := st.topics[name]
	if !ok {
		return nil, fmt.Errorf("embedded: topic %q: %w", name, store.ErrUnknownTopic)
	}
	return t, nil
}

// CreateTopic implements store.Store.
func (s *Store) CreateTopic(ctx context.Context, a store.TopicAssignment, configs map[string]string) error {
	if err := checkTopicName(a.Name); err != nil {
		return err
	}
	return s.write(ctx, func(st *state) ([]store.Event, error) {
		if _, ok := st.topics[a.Name]; ok {
			return nil, fmt.Errorf("embedded: create topic %q: %w", a.Name, store.ErrTopicExists)
		}
		a = a.Clone()
		a.Version = 0
		st.topics[a.Name] = &topicState{
			assignment: a,
			config:     store.CloneConfigs(configs),
			partitions: make(map[int32]store.PartitionState),
		}
		return []store.Event{{Kind: store.EventTopic, Topic: a.Name}}, nil
	})
}

// Topic implements store.Store.
func (s *Store) Topic(ctx context.Context, name string) (a store.TopicAssignment, err error) {
	err = s.readTopic(ctx, name, func(t *topicState) error {
		a = t.assignment.Clone()
		return nil
	})
	return a, err
}

// Topics implements store.Store.
func (s *Store) Topics(ctx context.Context) ([]string, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.state.topics)), nil
}

// SetAssignment implements store.Store.
func (s *Store) SetAssignment(ctx context.Context, a store.TopicAssignment, expectedVersion int32) (int32, error) {
	var version int32
	err := s.writeTopic(ctx, a.Name, func(_ *state, t *topicState) ([]store.Event, error) {
		if t.assignment.Version != expectedVersion {
			return nil, fmt.Errorf("embedded: set assignment of %q at version %d, stored %d: %w",
				a.Name, expectedVersion, t.assignment.Version, store.ErrBadVersion)
		}
		version = expectedVersion + 1
		t.assignment = a.Clone()
		t.assignment.Version = version
		// Keep the invariant: no state for a partition that left the
		// assignment.
		for p := range t.partitions {
			if _, ok := a.Partitions[p]; !ok {
				delete(t.partitions, p)
			}
		}
		return []store.Event{{Kind: store.EventTopic, Topic: a.Name}}, nil
	})
	return version, err
}

// MarkTopicForDeletion implements store.Store.
func (s *Store) MarkTopicForDeletion(ctx context.Context, name string) error {
	return s.writeTopic(ctx, name, func(_ *state, t *topicState) ([]store.Event, error) {
		if t.markedForDeletion {
			return nil, nil // idempotent; the rewrite is harmless
		}
		t.markedForDeletion = true
		return []store.Event{{Kind: store.EventTopicDeletion, Topic: name}}, nil
	})
}

// TopicsMarkedForDeletion implements store.Store.
func (s *Store) TopicsMarkedForDeletion(ctx context.Context) ([]string, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	var out []string
	for _, name := range slices.Sorted(maps.Keys(s.state.topics)) {
		if s.state.topics[name].markedForDeletion {
			out = append(out, name)
		}
	}
	return out, nil
}

// DeleteTopic implements store.Store.
func (s *Store) DeleteTopic(ctx context.Context, name string) error {
	return s.writeTopic(ctx, name, func(st *state, t *topicState) ([]store.Event, error) {
		delete(st.topics, name)
		events := []store.Event{{Kind: store.EventTopic, Topic: name}}
		if t.markedForDeletion {
			events = append(events, store.Event{Kind: store.EventTopicDeletion, Topic: name})
		}
		return events, nil
	})
}

// PartitionState implements store.Store.
func (s *Store) PartitionState(ctx context.Context, tp store.TopicPartition) (ps store.PartitionState, err error) {
	err = s.readTopic(ctx, tp.Topic, func(t *topicState) error {
		cur, ok := t.partitions[tp.Partition]
		if !ok {
			return fmt.Errorf("embedded: partition %s: %w", tp, store.ErrNoPartitionState)
		}
		ps = cur.Clone()
		return nil
	})
	return ps, err
}

// PartitionStates implements store.Store.
func (s *Store) PartitionStates(ctx context.Context, topic string) (out map[int32]store.PartitionState, err error) {
	err = s.readTopic(ctx, topic, func(t *topicState) error {
		out = make(map[int32]store.PartitionState, len(t.partitions))
		for p, ps := range t.partitions {
			out[p] = ps.Clone()
		}
		return nil
	})
	return out, err
}

// SetPartitionState implements store.Store.
func (s *Store) SetPartitionState(ctx context.Context, tp store.TopicPartition, ps store.PartitionState, expectedVersion int32) (int32, error) {
	vs, err := s.SetPartitionStates(ctx, []store.PartitionStateUpdate{{Partition: tp, State: ps, ExpectedVersion: expectedVersion}})
	if err != nil {
		return 0, err
	}
	return vs[0], nil
}

// SetPartitionStates implements store.Store: all updates are applied to one
// copy of the state and saved with one file write.
func (s *Store) SetPartitionStates(ctx context.Context, updates []store.PartitionStateUpdate) ([]int32, error) {
	versions := make([]int32, len(updates))
	err := s.write(ctx, func(st *state) ([]store.Event, error) {
		events := make([]store.Event, 0, len(updates))
		seen := make(map[store.TopicPartition]bool, len(updates))
		for i, u := range updates {
			if seen[u.Partition] {
				return nil, fmt.Errorf("embedded: partition %s updated twice: %w", u.Partition, store.ErrInvalidArgument)
			}
			seen[u.Partition] = true
			v, err := st.setPartitionState(u)
			if err != nil {
				return nil, err
			}
			versions[i] = v
			events = append(events, store.Event{Kind: store.EventPartitionState, Topic: u.Partition.Topic, Partition: u.Partition.Partition})
		}
		return events, nil
	})
	if err != nil {
		return nil, err
	}
	return versions, nil
}

// setPartitionState applies one conditional write to st.
func (st *state) setPartitionState(u store.PartitionStateUpdate) (int32, error) {
	tp, expected := u.Partition, u.ExpectedVersion
	t, err := st.topic(tp.Topic)
	if err != nil {
		return 0, err
	}
	if _, ok := t.assignment.Partitions[tp.Partition]; !ok {
		return 0, fmt.Errorf("embedded: partition %s: %w", tp, store.ErrUnknownPartition)
	}
	cur, exists := t.partitions[tp.Partition]
	switch {
	case expected == store.NewVersion && exists:
		return 0, fmt.Errorf("embedded: create state of %s: exists at version %d: %w", tp, cur.Version, store.ErrBadVersion)
	case expected != store.NewVersion && !exists:
		return 0, fmt.Errorf("embedded: set state of %s at version %d: %w", tp, expected, store.ErrNoPartitionState)
	case exists && cur.Version != expected:
		return 0, fmt.Errorf("embedded: set state of %s at version %d, stored %d: %w", tp, expected, cur.Version, store.ErrBadVersion)
	}
	ps := u.State.Clone()
	ps.Version = expected + 1 // NewVersion (-1) + 1 = 0
	t.partitions[tp.Partition] = ps
	return ps.Version, nil
}

// TopicConfig implements store.Store.
func (s *Store) TopicConfig(ctx context.Context, topic string) (cfg map[string]string, err error) {
	err = s.readTopic(ctx, topic, func(t *topicState) error {
		cfg = store.CloneConfigs(t.config)
		return nil
	})
	return cfg, err
}

// SetTopicConfig implements store.Store.
func (s *Store) SetTopicConfig(ctx context.Context, topic string, configs map[string]string) error {
	return s.writeTopic(ctx, topic, func(_ *state, t *topicState) ([]store.Event, error) {
		t.config = store.CloneConfigs(configs)
		t.configVersion++
		return []store.Event{{Kind: store.EventTopicConfig, Topic: topic}}, nil
	})
}

// AllocateProducerIDBlock implements store.Store. The first block starts at
// 0, like Kafka's.
func (s *Store) AllocateProducerIDBlock(ctx context.Context, brokerID int32, size int64) (store.ProducerIDBlock, error) {
	var b store.ProducerIDBlock
	err := s.write(ctx, func(st *state) ([]store.Event, error) {
		next, err := store.NextProducerIDBlock(st.pidBlock, brokerID, size)
		if err != nil {
			return nil, fmt.Errorf("embedded: %w", err)
		}
		if st.pidBlock != nil {
			st.pidBlockVersion++
		}
		b = next
		st.pidBlock = &b
		return nil, nil
	})
	return b, err
}

// Subscribe implements store.Store.
func (s *Store) Subscribe(kinds ...store.EventKind) *store.Subscription {
	return s.notifier.Subscribe(kinds...)
}

// Close implements store.Store: it drops the ephemeral records and closes
// every subscription. The file is already up to date. Closing a fenced view
// does nothing.
func (s *Store) Close() error {
	if s.fence != nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.brokers = nil
	s.controller = nil
	s.notifier.CloseAll()
	if err := s.lockFile.Close(); err != nil { // releases the flock
		return fmt.Errorf("embedded: close lock: %w", err)
	}
	return nil
}

// lockFile opens path and takes an exclusive, non-blocking flock on it.
func lockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("embedded: open lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("embedded: %s: %w", path, ErrLocked)
		}
		return nil, fmt.Errorf("embedded: lock %s: %w", path, err)
	}
	return f, nil
}

// PreferredReplicaElection implements store.Store: in embedded mode no
// other process can write a request, so there is none.
func (s *Store) PreferredReplicaElection(ctx context.Context) ([]store.TopicPartition, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	s.mu.Unlock()
	return nil, nil
}

// DeletePreferredReplicaElection implements store.Store (nothing to
// delete).
func (s *Store) DeletePreferredReplicaElection(ctx context.Context) error {
	if err := s.lock(ctx); err != nil {
		return err
	}
	s.mu.Unlock()
	return nil
}

// PartitionReassignments implements store.Store: in embedded mode no
// other process can write a request, so there is none.
func (s *Store) PartitionReassignments(ctx context.Context) (map[store.TopicPartition][]int32, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	s.mu.Unlock()
	return nil, nil
}

// SetPartitionReassignments implements store.Store: reassignments act at
// once through the controller in embedded mode; a request is refused.
func (s *Store) SetPartitionReassignments(ctx context.Context, m map[store.TopicPartition][]int32) error {
	if err := s.lock(ctx); err != nil {
		return err
	}
	s.mu.Unlock()
	if len(m) > 0 {
		return fmt.Errorf("embedded: reassignment requests need ZooKeeper: %w", store.ErrInvalidArgument)
	}
	return nil
}
