package store

import (
	"slices"
	"sync"
)

// EventKind says which part of the metadata changed.
type EventKind uint8

// Event kinds, one per watched znode family.
const (
	// EventBrokers: the set of registered brokers changed
	// (children of /brokers/ids).
	EventBrokers EventKind = iota + 1
	// EventController: the controller changed (/controller).
	EventController
	// EventTopic: a topic was created, deleted or reassigned
	// (/brokers/topics and /brokers/topics/<t>). Event.Topic is set.
	EventTopic
	// EventPartitionState: a partition's state changed. Event.Topic and
	// Event.Partition are set.
	EventPartitionState
	// EventTopicConfig: a topic's config changed. Event.Topic is set.
	EventTopicConfig
	// EventTopicDeletion: a topic was marked for deletion
	// (/admin/delete_topics). Event.Topic is set.
	EventTopicDeletion
	// EventSessionExpired: the store's ZooKeeper session expired and a new
	// one began. Every ephemeral record the store had made is gone (broker
	// registrations, the controller): resign control, register again,
	// re-elect, and re-read everything (events for every watched record
	// follow). The embedded store never publishes it.
	EventSessionExpired
	// EventPreferredElection: preferred leader elections were requested
	// (/admin/preferred_replica_election appeared).
	EventPreferredElection
	// EventReassignment: partition reassignments were requested or
	// changed (/admin/reassign_partitions).
	EventReassignment
)

// String names the kind.
func (k EventKind) String() string {
	switch k {
	case EventBrokers:
		return "brokers"
	case EventController:
		return "controller"
	case EventTopic:
		return "topic"
	case EventPartitionState:
		return "partition-state"
	case EventTopicConfig:
		return "topic-config"
	case EventTopicDeletion:
		return "topic-deletion"
	case EventSessionExpired:
		return "session-expired"
	case EventPreferredElection:
		return "preferred-election"
	case EventReassignment:
		return "reassignment"
	}
	return "unknown"
}

// Event tells a subscriber what to re-read; it carries no values, like a
// ZooKeeper watch.
type Event struct {
	Kind      EventKind
	Topic     string // EventTopic, EventPartitionState, EventTopicConfig, EventTopicDeletion
	Partition int32  // EventPartitionState
}

// Notifier fans events out to subscriptions. Both Store implementations embed
// one: the embedded store publishes after each write, the ZooKeeper store
// from its watches. Publish never blocks. The zero value is not usable; use
// NewNotifier.
//
// Lock order: a Store may call Publish while holding its own lock; Notifier
// takes n.mu and then each Subscription's mu, and never calls out.
type Notifier struct {
	mu     sync.Mutex
	subs   map[*Subscription]struct{}
	closed bool // set by CloseAll; later subscriptions start closed
}

// NewNotifier returns a Notifier with no subscriptions.
func NewNotifier() *Notifier {
	return &Notifier{subs: make(map[*Subscription]struct{})}
}

// Subscribe registers a subscription for the given kinds (all if none).
// After CloseAll it returns an already closed subscription.
func (n *Notifier) Subscribe(kinds ...EventKind) *Subscription {
	s := &Subscription{n: n, kinds: slices.Clone(kinds), ready: make(chan struct{}, 1)}
	n.mu.Lock()
	closed := n.closed
	if !closed {
		n.subs[s] = struct{}{}
	}
	n.mu.Unlock()
	if closed {
		s.markClosed()
	}
	return s
}

// Publish queues ev on every subscription interested in its kind.
func (n *Notifier) Publish(ev Event) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for s := range n.subs {
		s.offer(ev)
	}
}

// CloseAll closes every subscription, present and future (used when the
// Store closes).
func (n *Notifier) CloseAll() {
	n.mu.Lock()
	subs := n.subs
	n.subs = make(map[*Subscription]struct{})
	n.closed = true
	n.mu.Unlock()
	for s := range subs {
		s.markClosed()
	}
}

// Subscription is a coalescing queue of events. Events are never dropped and
// Publish never blocks: an event equal to one already pending is merged into
// it, so the queue is bounded by the number of distinct things that can
// change. Typical use:
//
//	for {
//		select {
//		case <-sub.Ready():
//			for _, ev := range sub.Drain() { ... re-read ... }
//		case <-ctx.Done():
//			return
//		}
//	}
type Subscription struct {
	n     *Notifier
	kinds []EventKind // empty = all kinds; immutable

	ready chan struct{} // capacity 1; non-empty whenever pending may be non-empty

	mu      sync.Mutex
	pending []Event // distinct events, oldest first
	closed  bool
}

func (s *Subscription) offer(ev Event) {
	if len(s.kinds) > 0 && !slices.Contains(s.kinds, ev.Kind) {
		return
	}
	s.mu.Lock()
	if s.closed || slices.Contains(s.pending, ev) {
		s.mu.Unlock()
		return
	}
	s.pending = append(s.pending, ev)
	// Signal under s.mu so it cannot race with markClosed closing ready.
	select {
	case s.ready <- struct{}{}:
	default:
	}
	s.mu.Unlock()
}

// Ready returns a channel that receives a value when events may be pending.
// It is closed when the subscription or its store is closed.
func (s *Subscription) Ready() <-chan struct{} { return s.ready }

// Drain returns and clears the pending events, oldest first.
func (s *Subscription) Drain() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.pending
	s.pending = nil
	return out
}

// Close unsubscribes. Idempotent.
func (s *Subscription) Close() {
	s.n.mu.Lock()
	delete(s.n.subs, s)
	s.n.mu.Unlock()
	s.markClosed()
}

func (s *Subscription) markClosed() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		close(s.ready)
	}
}
