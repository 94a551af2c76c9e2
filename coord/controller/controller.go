// Package controller is Kafka's controller logic over any store.Store: topic
// creation (name rules, replica assignment, initial partition state), adding
// partitions, topic deletion, config changes, and leader election when
// brokers come and go. The same code runs in single-broker mode (embedded
// store, the broker is always the controller) and in a cluster (ZooKeeper
// store, one broker wins /controller).
//
// It is a deterministic state machine: every method runs to completion on
// the calling goroutine, reads the store, computes the next partition states
// with the pure functions of election.go and writes them by compare-and-set.
// There are no background goroutines; the broker drives it (call Elect at
// start-up and whenever the controller changes, OnBrokerGone / Reconcile
// when the broker set changes; see Run for a ready-made loop).
//
// Operations are serialised by one mutex, like Kafka's single controller
// event thread. Admin operations (CreateTopic, CreatePartitions, DeleteTopic,
// AlterTopicConfig) work on any broker, as in Kafka's ZooKeeper mode: they
// validate and write the request to the store (the assignment, the
// deletion marker), and the active controller acts on it — at once when it
// is this broker, else when its store watch fires (OnTopicChange; Run does
// this). Elections and reconciliation need this broker to be the active
// controller and fail with ErrNotController otherwise, as Kafka answers
// NOT_CONTROLLER.
package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/strom-broker/strom/coord/store"
)

// UncleanLeaderElectionConfig is the topic config (and broker default) that
// allows electing a leader from outside the ISR.
const UncleanLeaderElectionConfig = "unclean.leader.election.enable"

// maxCASAttempts bounds re-read-and-retry loops on version conflicts.
const maxCASAttempts = 16

// Options configure a Controller. Zero values select Kafka's defaults.
type Options struct {
	// DefaultPartitions is num.partitions, used when a request says -1.
	// Default 1.
	DefaultPartitions int32
	// DefaultReplicationFactor is default.replication.factor, used when a
	// request says -1. Default 1.
	DefaultReplicationFactor int16
	// UncleanLeaderElection is the broker's
	// unclean.leader.election.enable; a topic's config overrides it.
	UncleanLeaderElection bool
	// ValidateTopicConfig, if set, checks a topic's config overrides
	// (the engine knows the keys). Its error is wrapped with
	// ErrInvalidConfig.
	ValidateTopicConfig func(topic string, configs map[string]string) error
	// Rand returns a uniform int in [0, n); it picks Kafka's random
	// assignment start. Default math/rand/v2.IntN. Inject a fixed function
	// for deterministic assignments.
	Rand func(n int) int
	// Logger receives one line per operator-worthy event (unclean or
	// failed elections, controller changes). Default slog.Default().
	Logger *slog.Logger
	// Sender, if set, receives the control requests (LeaderAndIsr,
	// UpdateMetadata, StopReplica) that carry this controller's decisions
	// to the brokers; see propagate.go. Without one, brokers must read
	// the store themselves.
	Sender Sender
}

// Validate reports every invalid option at once.
func (o Options) Validate() error {
	var errs []error
	if o.DefaultPartitions < 0 {
		errs = append(errs, fmt.Errorf("controller: num.partitions %d < 1", o.DefaultPartitions))
	}
	if o.DefaultReplicationFactor < 0 {
		errs = append(errs, fmt.Errorf("controller: default.replication.factor %d < 1", o.DefaultReplicationFactor))
	}
	return errors.Join(errs...)
}

func (o Options) withDefaults() Options {
	if o.DefaultPartitions == 0 {
		o.DefaultPartitions = 1
	}
	if o.DefaultReplicationFactor == 0 {
		o.DefaultReplicationFactor = 1
	}
	if o.Rand == nil {
		o.Rand = rand.IntN
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Controller runs Kafka's controller logic for one broker.
type Controller struct {
	store    store.Store
	brokerID int32
	opts     Options

	mu     sync.Mutex // serialises every operation
	active bool       // this broker won /controller with epoch
	epoch  int32
	// fenced is the store as seen by the controller of epoch: its writes
	// fail with store.ErrControllerMoved once another controller has been
	// elected, so a deposed controller that has not noticed yet (paused,
	// partitioned) cannot overwrite its successor's decisions. Every
	// controller decision (partition states, finishing deletions) is
	// written through it; admin requests any broker may write are not.
	fenced store.Store
	// known are the live brokers (id -> epoch) the last operation saw, to
	// tell joining brokers; nil before the first operation as controller.
	known map[int32]int64
	// pending collects the current operation's control requests (nil
	// without a Sender or outside an operation).
	pending *batch
	// shuttingDown are the brokers in a controlled shutdown (id -> the
	// broker epoch that asked): they lead nothing new and may not join
	// an ISR. An entry goes when that registration does (shutdown.go).
	shuttingDown map[int32]int64
	// retired: this broker resigned for good (it is stopping) and never
	// stands for controller again.
	retired bool
}

// New returns the controller logic for broker brokerID. It is not active
// until Elect succeeds.
func New(s store.Store, brokerID int32, opts Options) (*Controller, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	return &Controller{store: s, brokerID: brokerID, opts: opts.withDefaults()}, nil
}

// Elect tries to make this broker the controller. On success (or if it
// already is) it reconciles every partition (Kafka's controller fail-over)
// and returns true; if another broker is controller it returns false.
func (c *Controller) Elect(ctx context.Context) (won bool, err error) {
	defer func() {
		if errors.Is(err, ErrNotController) {
			won = false
		}
	}()
	defer c.operation(ctx)(&err)
	failover := false
	if c.active {
		if err := c.checkActive(ctx); err != nil && !errors.Is(err, ErrNotController) {
			return false, err
		}
	}
	if !c.active && c.retired {
		return false, nil
	}
	if !c.active {
		epoch, err := c.store.TryBecomeController(ctx, c.brokerID)
		if errors.Is(err, store.ErrControllerExists) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("controller: elect broker %d: %w", c.brokerID, err)
		}
		c.active, c.epoch, c.fenced = true, epoch, c.store.Fenced(epoch)
		c.known, c.shuttingDown, failover = nil, nil, true
		c.opts.Logger.Info("became controller", "broker", c.brokerID, "epoch", epoch)
	}
	live, err := c.liveBrokers(ctx, -1)
	if err != nil {
		return true, err
	}
	joined := c.joinedBrokers(ctx, live)
	start := time.Now()
	if err := c.reconcile(ctx, live); err != nil {
		return true, err
	}
	switch {
	case failover:
		err = c.queueFullState(ctx, live, func(int32) bool { return true })
		c.opts.Logger.Info("controller fail-over: every partition read and reconciled; sending the full state to the brokers",
			"broker", c.brokerID, "epoch", c.epoch, "took", time.Since(start).Round(time.Millisecond))
	case len(joined) > 0:
		err = c.queueFullState(ctx, live, func(id int32) bool { return joined[id] })
	}
	if err != nil {
		return true, err
	}
	// Reassignments a predecessor left, or that a returning broker
	// lets complete.
	return true, c.resumeReassignments(ctx)
}

// joinedBrokers records the live brokers and returns those that joined (or
// re-registered with a new epoch: a fast bounce) since the last call; all
// of them on the first call after becoming controller. Only brokers in
// live (the set this step works with) count: one that registered after
// live was read is left unknown, so that the step its registration
// triggers sees it join and sends it the state (else it was recorded as
// known here, skipped by this step's sends, and never sent anything).
// REQUIRES: c.mu is held.
func (c *Controller) joinedBrokers(ctx context.Context, live map[int32]bool) map[int32]bool {
	bs, err := c.store.Brokers(ctx)
	if err != nil {
		return nil // the reconcile that follows reports the store error
	}
	joined := map[int32]bool{}
	now := make(map[int32]int64, len(bs))
	for _, b := range bs {
		if !live[b.ID] {
			continue
		}
		now[b.ID] = b.Epoch
		if old, ok := c.known[b.ID]; !ok || old != b.Epoch {
			joined[b.ID] = true
		}
	}
	c.known = now
	for id, epoch := range c.shuttingDown {
		if now[id] != epoch {
			delete(c.shuttingDown, id) // gone, or registered anew
		}
	}
	return joined
}

// Run drives c until ctx ends or the store closes: it calls Elect now and
// after every change of the broker set or the controller, so this broker
// takes over when the controller goes away and, while it is controller,
// re-elects leaders when brokers leave or return. Errors are logged and
// retried at the next change.
func (c *Controller) Run(ctx context.Context) error {
	sub := c.store.Subscribe(store.EventBrokers, store.EventController, store.EventTopic, store.EventTopicDeletion,
		store.EventPreferredElection, store.EventReassignment)
	defer sub.Close()
	elect, preferred, reassign := true, true, true
	var topics []string
	for {
		if elect {
			if _, err := c.Elect(ctx); err != nil && ctx.Err() == nil {
				c.opts.Logger.Error("controller step failed", "broker", c.brokerID, "err", err)
			}
		} else {
			for _, t := range topics {
				if err := c.OnTopicChange(ctx, t); err != nil && ctx.Err() == nil {
					c.opts.Logger.Error("controller step failed", "broker", c.brokerID, "topic", t, "err", err)
				}
			}
		}
		// A pending /admin/preferred_replica_election: on its event, and
		// at every (re-)election, since a controller taking over finishes
		// a request its predecessor left (Kafka's fail-over).
		if preferred {
			if err := c.OnPreferredElectionRequest(ctx); err != nil && ctx.Err() == nil {
				c.opts.Logger.Error("preferred replica election failed", "broker", c.brokerID, "err", err)
			}
		}
		// A pending /admin/reassign_partitions likewise.
		if reassign {
			if err := c.OnReassignmentRequest(ctx); err != nil && ctx.Err() == nil {
				c.opts.Logger.Error("partition reassignment request failed", "broker", c.brokerID, "err", err)
			}
		}
		select {
		case _, ok := <-sub.Ready():
			if !ok {
				return store.ErrClosed
			}
			// A broker or controller change reconciles everything;
			// otherwise only the topics named.
			elect, preferred, reassign, topics = false, false, false, topics[:0]
			for _, ev := range sub.Drain() {
				switch ev.Kind {
				case store.EventBrokers, store.EventController:
					elect, preferred, reassign = true, true, true
				case store.EventPreferredElection:
					preferred = true
				case store.EventReassignment:
					reassign = true
				default:
					if !slices.Contains(topics, ev.Topic) {
						topics = append(topics, ev.Topic)
					}
				}
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Resign gives up control (orderly shutdown).
func (c *Controller) Resign(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.active {
		return nil
	}
	c.active = false
	if err := c.store.ResignController(ctx, c.brokerID); err != nil && !errors.Is(err, store.ErrNotController) {
		return fmt.Errorf("controller: resign: %w", err)
	}
	return nil
}

// Active reports whether this broker is the controller, and its epoch.
func (c *Controller) Active() (bool, int32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.active, c.epoch
}

// deposed steps down if err says another controller was elected since this
// one (a fenced write failed with store.ErrControllerMoved), and returns err
// wrapping ErrNotController too, so the broker answers NOT_CONTROLLER as
// Kafka's deposed controller does.
// REQUIRES: c.mu is held.
func (c *Controller) deposed(err error) error {
	if !errors.Is(err, store.ErrControllerMoved) {
		return err
	}
	if c.active {
		c.active, c.fenced = false, nil
		c.opts.Logger.Warn("another controller was elected; stepping down", "broker", c.brokerID, "epoch", c.epoch)
	}
	return fmt.Errorf("%w: %w", ErrNotController, err)
}

// checkActive confirms with the store that this broker still holds control
// (a ZooKeeper session loss can take it away) and steps down if not.
// REQUIRES: c.mu is held.
func (c *Controller) checkActive(ctx context.Context) error {
	if !c.active {
		return fmt.Errorf("controller: broker %d: %w", c.brokerID, ErrNotController)
	}
	cur, err := c.store.Controller(ctx)
	if err != nil && !errors.Is(err, store.ErrNoController) {
		return fmt.Errorf("controller: %w", err)
	}
	if err != nil || cur.BrokerID != c.brokerID || cur.Epoch != c.epoch {
		c.active = false
		c.opts.Logger.Warn("lost controllership", "broker", c.brokerID, "epoch", c.epoch)
		return fmt.Errorf("controller: broker %d lost control: %w", c.brokerID, ErrNotController)
	}
	return nil
}

// liveBrokers returns the registered brokers except exclude (-1: none).
func (c *Controller) liveBrokers(ctx context.Context, exclude int32) (map[int32]bool, error) {
	bs, err := c.store.Brokers(ctx)
	if err != nil {
		return nil, fmt.Errorf("controller: brokers: %w", err)
	}
	live := make(map[int32]bool, len(bs))
	for _, b := range bs {
		if b.ID != exclude {
			live[b.ID] = true
		}
	}
	return live, nil
}

// assign places n partitions (numbered from first) with rf replicas on the
// live brokers as Kafka's AdminUtils.assignReplicasToBrokers does:
// rack-aware when every live broker has a rack (broker.rack), rack-unaware
// when none has, refused when only some have (Kafka's
// RackAwareMode.Enforced). When adding partitions, after is partition 0's
// first replica and the round-robin continues from it; otherwise (after
// -1) startIndex is used.
// REQUIRES: c.mu is held.
func (c *Controller) assign(ctx context.Context, live map[int32]bool, n int32, rf, startIndex, shift int, first, after int32) (map[int32][]int32, error) {
	bs, err := c.store.Brokers(ctx)
	if err != nil {
		return nil, fmt.Errorf("controller: brokers: %w", err)
	}
	racks := map[int32]string{}
	withRack := 0
	for _, b := range bs {
		if live[b.ID] {
			racks[b.ID] = b.Rack
			if b.Rack != "" {
				withRack++
			}
		}
	}
	switch withRack {
	case 0:
		ids := slices.Sorted(maps.Keys(racks))
		if i := slices.Index(ids, after); i >= 0 {
			startIndex = i
		}
		return AssignReplicas(ids, n, rf, startIndex, shift, first), nil
	case len(racks):
		if i := slices.Index(RackAlternated(racks), after); i >= 0 {
			startIndex = i
		}
		return AssignReplicasRackAware(racks, n, rf, startIndex, shift, first), nil
	}
	return nil, fmt.Errorf("not all brokers have rack information for replica rack aware assignment (%d of %d have broker.rack): %w",
		withRack, len(racks), ErrInvalidRequest)
}

// TopicSpec is one topic of a CreateTopics request.
type TopicSpec struct {
	Name string
	// NumPartitions and ReplicationFactor: -1 selects the defaults. Both
	// must be -1 when Assignment is given.
	NumPartitions     int32
	ReplicationFactor int16
	// Assignment, if non-empty, is the explicit partition -> replicas map.
	Assignment map[int32][]int32
	// Configs are the topic's config overrides.
	Configs map[string]string
}

// CreateTopic validates spec, assigns replicas and, unless validateOnly,
// stores the topic and its initial partition states. It returns the
// assignment (with the new topic id unless validateOnly).
//
// Checks, in Kafka's order: name (ErrInvalidTopicName), existence
// (ErrTopicExists), '.'/'_' collision (ErrTopicNameCollision), counts
// (ErrInvalidRequest, ErrInvalidPartitions, ErrInvalidReplicationFactor,
// ErrInvalidReplicaAssignment), configs (ErrInvalidConfig).
func (c *Controller) CreateTopic(ctx context.Context, spec TopicSpec, validateOnly bool) (_ store.TopicAssignment, err error) {
	defer c.operation(ctx)(&err)
	a, err := c.planTopic(ctx, spec)
	if err != nil {
		return store.TopicAssignment{}, fmt.Errorf("controller: create topic %q: %w", spec.Name, err)
	}
	if validateOnly {
		return a, nil
	}
	if a.ID, err = store.NewUUID(); err != nil {
		return store.TopicAssignment{}, err
	}
	if err := c.store.CreateTopic(ctx, a, spec.Configs); err != nil {
		return store.TopicAssignment{}, fmt.Errorf("controller: create topic %q: %w", spec.Name, err)
	}
	return a, c.actOnTopic(ctx, a)
}

// actOnTopic gives a topic whose assignment this broker just wrote its
// partition states, if this broker is the active controller; otherwise
// the active controller does when it sees the write.
// REQUIRES: c.mu is held.
func (c *Controller) actOnTopic(ctx context.Context, a store.TopicAssignment) error {
	if c.checkActive(ctx) != nil {
		return nil
	}
	live, err := c.liveBrokers(ctx, -1)
	if err != nil {
		return err
	}
	return c.reconcileTopic(ctx, a, live)
}

// OnTopicChange reacts to a topic's assignment appearing or changing, or
// to its deletion being requested, by any broker or tool: the active
// controller gives new partitions their first state and finishes pending
// deletions (Kafka's TopicChange, PartitionModifications and TopicDeletion
// handlers). On a broker that is not the controller it does nothing.
func (c *Controller) OnTopicChange(ctx context.Context, topic string) (err error) {
	defer c.operation(ctx)(&err)
	if c.checkActive(ctx) != nil {
		return nil
	}
	marked, err := c.store.TopicsMarkedForDeletion(ctx)
	if err != nil {
		return fmt.Errorf("controller: topic %q: %w", topic, err)
	}
	if slices.Contains(marked, topic) {
		return c.finishDeletion(ctx, topic)
	}
	a, err := c.store.Topic(ctx, topic)
	if errors.Is(err, store.ErrUnknownTopic) || c.skipCorrupt(topic, err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("controller: topic %q: %w", topic, err)
	}
	live, err := c.liveBrokers(ctx, -1)
	if err != nil {
		return err
	}
	if err := c.reconcileTopic(ctx, a, live); !c.skipCorrupt(topic, err) {
		return err
	}
	return nil
}

// planTopic validates spec and computes its assignment.
// REQUIRES: c.mu is held.
func (c *Controller) planTopic(ctx context.Context, spec TopicSpec) (store.TopicAssignment, error) {
	if err := ValidateTopicName(spec.Name); err != nil {
		return store.TopicAssignment{}, err
	}
	existing, err := c.store.Topics(ctx)
	if err != nil {
		return store.TopicAssignment{}, err
	}
	if slices.Contains(existing, spec.Name) {
		return store.TopicAssignment{}, ErrTopicExists
	}
	if err := checkCollision(spec.Name, existing); err != nil {
		return store.TopicAssignment{}, err
	}
	live, err := c.liveBrokers(ctx, -1)
	if err != nil {
		return store.TopicAssignment{}, err
	}
	a := store.TopicAssignment{Name: spec.Name}
	if len(spec.Assignment) > 0 {
		if spec.NumPartitions != -1 || spec.ReplicationFactor != -1 {
			return store.TopicAssignment{}, fmt.Errorf("both an assignment and partition count %d / replication factor %d: %w",
				spec.NumPartitions, spec.ReplicationFactor, ErrInvalidRequest)
		}
		if err := validateAssignment(spec.Assignment, 0, 0, live); err != nil {
			return store.TopicAssignment{}, err
		}
		a.Partitions = store.TopicAssignment{Partitions: spec.Assignment}.Clone().Partitions
	} else {
		n, rf := spec.NumPartitions, spec.ReplicationFactor
		if n == -1 {
			n = c.opts.DefaultPartitions
		}
		if rf == -1 {
			rf = c.opts.DefaultReplicationFactor
		}
		if n < 1 {
			return store.TopicAssignment{}, fmt.Errorf("%d partitions: %w", n, ErrInvalidPartitions)
		}
		if rf < 1 || int(rf) > len(live) {
			return store.TopicAssignment{}, fmt.Errorf("replication factor %d, live brokers %d: %w", rf, len(live), ErrInvalidReplicationFactor)
		}
		nb := len(live)
		if a.Partitions, err = c.assign(ctx, live, n, int(rf), c.opts.Rand(nb), c.opts.Rand(nb), 0, -1); err != nil {
			return store.TopicAssignment{}, err
		}
	}
	if v := c.opts.ValidateTopicConfig; v != nil {
		if err := v(spec.Name, spec.Configs); err != nil {
			return store.TopicAssignment{}, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
		}
	}
	return a, nil
}

// CreatePartitions grows topic to total partitions (Kafka only increases).
// assignment, if non-nil, gives the replicas of each new partition in order;
// otherwise they are assigned like Kafka does, continuing from partition 0's
// first replica. It returns the new assignment (unchanged if validateOnly).
func (c *Controller) CreatePartitions(ctx context.Context, topic string, total int32, assignment [][]int32, validateOnly bool) (_ store.TopicAssignment, err error) {
	defer c.operation(ctx)(&err)
	wrap := func(err error) error { return fmt.Errorf("controller: create partitions of %q: %w", topic, err) }
	for attempt := 0; ; attempt++ {
		a, err := c.store.Topic(ctx, topic)
		if err != nil {
			return store.TopicAssignment{}, wrap(err)
		}
		marked, err := c.store.TopicsMarkedForDeletion(ctx)
		if err != nil {
			return store.TopicAssignment{}, wrap(err)
		}
		if slices.Contains(marked, topic) {
			return store.TopicAssignment{}, wrap(ErrTopicMarkedForDeletion)
		}
		cur := a.NumPartitions()
		if total <= cur {
			return store.TopicAssignment{}, wrap(fmt.Errorf("topic has %d partitions, %d is not an increase: %w", cur, total, ErrInvalidPartitions))
		}
		live, err := c.liveBrokers(ctx, -1)
		if err != nil {
			return store.TopicAssignment{}, wrap(err)
		}
		rf := len(a.Partitions[0])
		var added map[int32][]int32
		if assignment != nil {
			if int32(len(assignment)) != total-cur {
				return store.TopicAssignment{}, wrap(fmt.Errorf("adding %d partitions with %d assignments: %w",
					total-cur, len(assignment), ErrInvalidReplicaAssignment))
			}
			added = make(map[int32][]int32, len(assignment))
			for i, r := range assignment {
				added[cur+int32(i)] = slices.Clone(r)
			}
			if err := validateAssignment(added, cur, rf, live); err != nil {
				return store.TopicAssignment{}, wrap(err)
			}
		} else {
			if rf > len(live) {
				return store.TopicAssignment{}, wrap(fmt.Errorf("replication factor %d, live brokers %d: %w", rf, len(live), ErrInvalidReplicationFactor))
			}
			if added, err = c.assign(ctx, live, total-cur, rf, c.opts.Rand(len(live)), c.opts.Rand(len(live)), cur, a.Partitions[0][0]); err != nil {
				return store.TopicAssignment{}, wrap(err)
			}
		}
		next := a.Clone()
		maps.Copy(next.Partitions, added)
		if validateOnly {
			return next, nil
		}
		v, err := c.store.SetAssignment(ctx, next, a.Version)
		if errors.Is(err, store.ErrBadVersion) && attempt < maxCASAttempts {
			continue
		}
		if err != nil {
			return store.TopicAssignment{}, wrap(err)
		}
		next.Version = v
		return next, c.actOnTopic(ctx, next)
	}
}

// DeleteTopic deletes a topic: it records the request
// (/admin/delete_topics) and then removes the topic's metadata. Brokers
// delete their logs when they see the topic gone (an EventTopic whose topic
// no longer exists). A request left by a crash in between is finished by the
// next Reconcile.
func (c *Controller) DeleteTopic(ctx context.Context, name string) (err error) {
	defer c.operation(ctx)(&err)
	if err := c.store.MarkTopicForDeletion(ctx, name); err != nil {
		return fmt.Errorf("controller: delete topic %q: %w", name, err)
	}
	if c.checkActive(ctx) != nil {
		return nil // the active controller finishes it
	}
	return c.finishDeletion(ctx, name)
}

// finishDeletion tells the brokers to delete topic name's replicas and
// removes its metadata. A topic already gone is not an error.
// REQUIRES: c.mu is held and c is active.
func (c *Controller) finishDeletion(ctx context.Context, name string) error {
	a, err := c.store.Topic(ctx, name)
	if errors.Is(err, store.ErrUnknownTopic) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("controller: delete topic %q: %w", name, err)
	}
	live, err := c.liveBrokers(ctx, -1)
	if err != nil {
		return err
	}
	if err := c.fenced.DeleteTopic(ctx, name); err != nil && !errors.Is(err, store.ErrUnknownTopic) {
		return fmt.Errorf("controller: delete topic %q: %w", name, err)
	}
	c.queueDeletion(a, live)
	return nil
}

// AlterTopicConfig validates and (unless validateOnly) replaces a topic's
// config overrides. Any broker may call it.
func (c *Controller) AlterTopicConfig(ctx context.Context, topic string, configs map[string]string, validateOnly bool) error {
	if _, err := c.store.Topic(ctx, topic); err != nil {
		return fmt.Errorf("controller: alter config of %q: %w", topic, err)
	}
	if v := c.opts.ValidateTopicConfig; v != nil {
		if err := v(topic, configs); err != nil {
			return fmt.Errorf("controller: alter config of %q: %w: %w", topic, ErrInvalidConfig, err)
		}
	}
	if validateOnly {
		return nil
	}
	if err := c.store.SetTopicConfig(ctx, topic, configs); err != nil {
		return fmt.Errorf("controller: alter config of %q: %w", topic, err)
	}
	return nil
}

// Reconcile brings every partition in line with the registered brokers:
// finishes pending deletions, gives new partitions their first state, moves
// leadership off dead brokers, drops dead brokers from ISRs and brings
// offline partitions back when an ISR member returns. Call it when brokers
// join.
func (c *Controller) Reconcile(ctx context.Context) (err error) {
	defer c.operation(ctx)(&err)
	if err := c.checkActive(ctx); err != nil {
		return err
	}
	live, err := c.liveBrokers(ctx, -1)
	if err != nil {
		return err
	}
	return c.reconcile(ctx, live)
}

// OnBrokerGone reacts to the loss of broker id: it is treated as dead even
// if its registration has not expired yet. Every partition it led gets a
// new leader from the ISR (never outside it unless unclean election is
// enabled), every ISR it was in shrinks, each change bumping the leader
// epoch.
func (c *Controller) OnBrokerGone(ctx context.Context, id int32) (err error) {
	defer c.operation(ctx)(&err)
	if err := c.checkActive(ctx); err != nil {
		return err
	}
	live, err := c.liveBrokers(ctx, id)
	if err != nil {
		return err
	}
	return c.reconcile(ctx, live)
}

// reconcile applies the election rules to every partition.
// REQUIRES: c.mu is held and c is active.
func (c *Controller) reconcile(ctx context.Context, live map[int32]bool) error {
	marked, err := c.store.TopicsMarkedForDeletion(ctx)
	if err != nil {
		return fmt.Errorf("controller: reconcile: %w", err)
	}
	for _, t := range marked {
		if err := c.finishDeletion(ctx, t); err != nil {
			return err
		}
	}
	topics, err := c.store.Topics(ctx)
	if err != nil {
		return fmt.Errorf("controller: reconcile: %w", err)
	}
	var errs []error
	for _, name := range topics {
		a, err := c.store.Topic(ctx, name)
		if errors.Is(err, store.ErrUnknownTopic) || c.skipCorrupt(name, err) {
			continue // deleted meanwhile, or unreadable
		}
		if err == nil {
			err = c.reconcileTopic(ctx, a, live)
		}
		if err != nil && !c.skipCorrupt(name, err) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// skipCorrupt reports whether err says that a topic's metadata does not
// decode (hand-written or damaged JSON in its assignment or a partition
// state), and logs it with the error, which names the znode. Such a topic
// is left alone, as Kafka's controller does, and every other topic is
// served.
func (c *Controller) skipCorrupt(topic string, err error) bool {
	if !errors.Is(err, store.ErrCorrupt) {
		return false
	}
	c.opts.Logger.Error("skipping topic with unreadable metadata", "topic", topic, "err", err)
	return true
}

// reconcileTopic applies the election rules to one topic's partitions:
// atomic batch writes of up to maxStatesPerWrite partitions (one file
// write or ZooKeeper multi each), falling back to per-partition
// compare-and-set if a batch loses a race.
// REQUIRES: c.mu is held and c is active.
func (c *Controller) reconcileTopic(ctx context.Context, a store.TopicAssignment, live map[int32]bool) error {
	if a.ID.IsZero() {
		// Written without a topic id (Kafka 0.8's tool, a plain
		// ZooKeeper client): give it one, as Kafka's controller does
		// (KafkaController.processTopicIds).
		id, err := store.NewUUID()
		if err != nil {
			return err
		}
		withID := a.Clone()
		withID.ID = id
		v, err := c.fenced.SetAssignment(ctx, withID, a.Version)
		switch {
		case err == nil:
			withID.Version = v
			a = withID
			c.opts.Logger.Info("assigned a topic id", "topic", a.Name, "topic_id", id.String())
		case errors.Is(err, store.ErrBadVersion), errors.Is(err, store.ErrUnknownTopic):
			return nil // changed meanwhile: its watch brings it back
		default:
			return fmt.Errorf("controller: topic id of %q: %w", a.Name, err)
		}
	}
	unclean, err := c.uncleanAllowed(ctx, a.Name)
	if err != nil {
		return err
	}
	isLive := func(id int32) bool { return live[id] }
	states, err := c.store.PartitionStates(ctx, a.Name)
	if errors.Is(err, store.ErrUnknownTopic) {
		return nil // deleted meanwhile
	}
	if err != nil {
		return fmt.Errorf("controller: states of %q: %w", a.Name, err)
	}
	var updates []store.PartitionStateUpdate
	var changes []stateChange
	for _, p := range slices.Sorted(maps.Keys(a.Partitions)) {
		tp := store.TopicPartition{Topic: a.Name, Partition: p}
		cur, ok := states[p]
		if !ok {
			st, ok := initialState(a.Partitions[p], isLive, c.epoch)
			if !ok {
				c.opts.Logger.Warn("new partition has no live replica; left without leader",
					"partition", tp.String(), "replicas", a.Partitions[p])
				continue
			}
			updates = append(updates, store.PartitionStateUpdate{Partition: tp, State: st, ExpectedVersion: store.NewVersion})
			changes = append(changes, stateChange{next: st})
			continue
		}
		next, election, changed := nextState(a.Partitions[p], cur, isLive, unclean, c.epoch)
		if changed {
			updates = append(updates, store.PartitionStateUpdate{Partition: tp, State: next, ExpectedVersion: cur.Version})
			changes = append(changes, stateChange{cur: cur, next: next, election: election})
		}
	}
	if c.pending != nil {
		c.pending.seen[a.Name] = &topicView{a: a, states: states}
	}
	if len(updates) == 0 {
		return nil
	}
	for start := 0; start < len(updates); start += maxStatesPerWrite {
		end := min(start+maxStatesPerWrite, len(updates))
		if err := c.writeStates(ctx, a, updates[start:end], changes[start:end], live, unclean); err != nil {
			return err
		}
	}
	return nil
}

// seenView returns the operation's view of topic, or nil.
// REQUIRES: c.mu is held.
func (c *Controller) seenView(topic string) *topicView {
	if c.pending == nil {
		return nil
	}
	return c.pending.seen[topic]
}

// maxStatesPerWrite bounds one atomic partition-state write: a ZooKeeper
// multi holds about 3,000 new states within its 1 MB request limit, so a
// topic's states are written 1,000 at a time (each write atomic).
const maxStatesPerWrite = 1000

// stateChange is one partition state the controller decided.
type stateChange struct {
	cur, next store.PartitionState
	election  Election
}

// writeStates writes one batch of a topic's new partition states
// atomically, falling back to per-partition compare-and-set if the batch
// loses a race, and queues them for the brokers.
// REQUIRES: c.mu is held and c is active.
func (c *Controller) writeStates(ctx context.Context, a store.TopicAssignment, updates []store.PartitionStateUpdate, changes []stateChange, live map[int32]bool, unclean bool) error {
	versions, err := c.fenced.SetPartitionStates(ctx, updates)
	switch {
	case err == nil:
		view := c.seenView(a.Name)
		for i, u := range updates {
			c.logElection(u.Partition, changes[i].cur, changes[i].next, changes[i].election)
			c.queueState(a, u.Partition.Partition, u.State, versions[i], u.ExpectedVersion == store.NewVersion, live, nil)
			if view != nil {
				st := u.State.Clone()
				st.Version = versions[i]
				view.states[u.Partition.Partition] = st
			}
		}
		return nil
	case errors.Is(err, store.ErrBadVersion), errors.Is(err, store.ErrNoPartitionState):
		if c.pending != nil {
			delete(c.pending.seen, a.Name) // re-read when sending
		}
		for _, u := range updates {
			if err := c.reconcilePartition(ctx, a, u.Partition.Partition, live, unclean); err != nil {
				return err
			}
		}
		return nil
	case errors.Is(err, store.ErrUnknownTopic), errors.Is(err, store.ErrUnknownPartition):
		return nil // deleted or shrunk meanwhile; the next reconcile sees it
	default:
		return fmt.Errorf("controller: states of %q: %w", a.Name, err)
	}
}

// reconcilePartition computes and CAS-writes one partition's next state,
// re-reading on conflict.
// REQUIRES: c.mu is held and c is active.
func (c *Controller) reconcilePartition(ctx context.Context, a store.TopicAssignment, p int32, liveSet map[int32]bool, unclean bool) error {
	tp := store.TopicPartition{Topic: a.Name, Partition: p}
	replicas := a.Partitions[p]
	live := func(id int32) bool { return liveSet[id] }
	for range maxCASAttempts {
		cur, err := c.store.PartitionState(ctx, tp)
		switch {
		case errors.Is(err, store.ErrNoPartitionState):
			st, ok := initialState(replicas, live, c.epoch)
			if !ok {
				c.opts.Logger.Warn("new partition has no live replica; left without leader",
					"partition", tp.String(), "replicas", replicas)
				return nil
			}
			var v int32
			if v, err = c.fenced.SetPartitionState(ctx, tp, st, store.NewVersion); err == nil {
				c.queueState(a, p, st, v, true, liveSet, nil)
			}
		case errors.Is(err, store.ErrUnknownTopic):
			return nil // deleted meanwhile
		case err != nil:
			return fmt.Errorf("controller: partition %s: %w", tp, err)
		default:
			next, election, changed := nextState(replicas, cur, live, unclean, c.epoch)
			if !changed {
				return nil
			}
			var v int32
			if v, err = c.fenced.SetPartitionState(ctx, tp, next, cur.Version); err == nil {
				c.logElection(tp, cur, next, election)
				c.queueState(a, p, next, v, false, liveSet, nil)
			}
		}
		if !errors.Is(err, store.ErrBadVersion) {
			if err != nil {
				return fmt.Errorf("controller: partition %s: %w", tp, err)
			}
			return nil
		}
	}
	return fmt.Errorf("controller: partition %s: %d conflicting writes: %w", tp, maxCASAttempts, store.ErrBadVersion)
}

func (c *Controller) logElection(tp store.TopicPartition, cur, next store.PartitionState, e Election) {
	switch e {
	case ElectionUnclean:
		c.opts.Logger.Warn("unclean leader election; records only the old ISR had may be lost",
			"partition", tp.String(), "leader", next.Leader, "old_isr", cur.ISR, "leader_epoch", next.LeaderEpoch)
	case ElectionOffline:
		c.opts.Logger.Warn("partition offline: no live in-sync replica",
			"partition", tp.String(), "isr", next.ISR, "leader_epoch", next.LeaderEpoch)
	case ElectionClean:
		c.opts.Logger.Info("leader elected", "partition", tp.String(), "leader", next.Leader,
			"isr", next.ISR, "leader_epoch", next.LeaderEpoch)
	}
}

// uncleanAllowed resolves unclean.leader.election.enable for a topic.
func (c *Controller) uncleanAllowed(ctx context.Context, topic string) (bool, error) {
	cfg, err := c.store.TopicConfig(ctx, topic)
	if err != nil {
		return false, fmt.Errorf("controller: config of %q: %w", topic, err)
	}
	if v, ok := cfg[UncleanLeaderElectionConfig]; ok {
		if b, err := strconv.ParseBool(v); err == nil {
			return b, nil
		}
	}
	return c.opts.UncleanLeaderElection, nil
}

// Role is a broker's role for one partition.
type Role uint8

// Roles.
const (
	// RoleFollower: the broker is a replica but not the leader (including
	// partitions with no leader; see Replica.State.Leader).
	RoleFollower Role = iota
	// RoleLeader: the broker leads the partition.
	RoleLeader
)

// String names the role.
func (r Role) String() string {
	if r == RoleLeader {
		return "leader"
	}
	return "follower"
}

// Replica is one partition a broker hosts, with its current state.
type Replica struct {
	Partition store.TopicPartition
	TopicID   store.UUID
	// Replicas is the partition's assignment, preferred leader first.
	Replicas []int32
	State    store.PartitionState
	Role     Role
}
