package group

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/strom-broker/strom/engine/record"
)

// Client identifies the connection a request came from: the client.id of
// the request header and the client's address (Kafka shows it as
// "/127.0.0.1"). JoinGroup records both for DescribeGroups and builds
// member ids from the client id.
type Client struct {
	ID   string
	Host string
}

// Coordinator is the classic-protocol group coordinator of one broker. It
// serves the groups whose __consumer_offsets partitions this broker leads
// (LoadPartition / UnloadPartition), answers the group APIs with kmsg
// responses, and keeps offsets and group metadata in __consumer_offsets
// through an OffsetsLog. It starts no goroutine: timers (session timeouts,
// rebalance deadlines, offset expiry) advance when the broker calls Tick.
//
// A Coordinator is safe for concurrent use.
//
// Locking: mu guards the shards map only. Each shard (one loaded
// __consumer_offsets partition) has its own mutex guarding its groups, held
// while a batch is written to that partition's local log, so the log and
// the in-memory state change in the same order. OffsetCommit releases it
// while its batch waits to be committed (acks=all), then applies its
// offsets unless a later record for the same partition was applied
// meanwhile (group.applyOffset); offset expiry and the removal of deleted
// topics' offsets apply first and release it while waiting; the rarer
// group-metadata writes (rebalances, DeleteGroups, OffsetDelete) keep it
// until committed. Lock order: Coordinator.mu before shard.mu; never both held
// across an append. Blocked JoinGroup / SyncGroup callers hold no
// lock: they wait on a channel a later state change fills.
type Coordinator struct {
	cfg    Config
	log    OffsetsLog
	now    func() time.Time
	exists func(topic string, partition int32) bool
	logger *slog.Logger

	mu     sync.Mutex
	shards map[int32]*shard // loaded or loading partitions

	tickMu     sync.Mutex
	lastExpiry time.Time // guarded by tickMu
}

// shardState says whether a shard serves requests.
type shardState uint8

const (
	shardLoading shardState = iota
	shardLoaded
	shardGone
)

// shard is one __consumer_offsets partition this broker coordinates.
type shard struct {
	p  int32
	mu sync.Mutex
	// state moves loading -> loaded -> gone, or loading -> gone.
	state  shardState
	groups map[string]*group // nil unless loaded
}

// Option configures New.
type Option func(*Coordinator)

// WithClock injects the clock used for timestamps and timers. Default
// time.Now.
func WithClock(now func() time.Time) Option { return func(c *Coordinator) { c.now = now } }

// WithPartitionExists gives the callback OffsetCommit and OffsetDelete use
// to answer UNKNOWN_TOPIC_OR_PARTITION. Default: every partition exists.
func WithPartitionExists(f func(topic string, partition int32) bool) Option {
	return func(c *Coordinator) { c.exists = f }
}

// WithLogger sets the logger for operator-worthy events (partition loads,
// members removed on timeouts). Default slog.Default().
func WithLogger(l *slog.Logger) Option { return func(c *Coordinator) { c.logger = l } }

// New returns a coordinator that coordinates no partition yet.
func New(cfg Config, log OffsetsLog, opts ...Option) (*Coordinator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		return nil, fmt.Errorf("%w: nil OffsetsLog", ErrInvalidConfig)
	}
	c := &Coordinator{
		cfg:    cfg,
		log:    log,
		now:    time.Now,
		exists: func(string, int32) bool { return true },
		logger: slog.Default(),
		shards: make(map[int32]*shard),
	}
	for _, o := range opts {
		o(c)
	}
	c.lastExpiry = c.now()
	return c, nil
}

// Config returns the coordinator's configuration.
func (c *Coordinator) Config() Config { return c.cfg }

// PartitionFor returns the __consumer_offsets partition that holds group
// groupID: Kafka's Utils.abs(groupId.hashCode) % offsets.topic.num.partitions.
func (c *Coordinator) PartitionFor(groupID string) int32 {
	return partitionFor(groupID, c.cfg.OffsetsTopicNumPartitions)
}

// acquire returns the locked shard of groupID, or the error code to answer:
// NOT_COORDINATOR when the partition is not loaded here,
// COORDINATOR_LOAD_IN_PROGRESS while it loads.
func (c *Coordinator) acquire(groupID string) (*shard, int16) {
	p := c.PartitionFor(groupID)
	c.mu.Lock()
	s := c.shards[p]
	c.mu.Unlock()
	if s == nil {
		return nil, errNotCoordinator
	}
	s.mu.Lock()
	switch s.state {
	case shardLoaded:
		return s, errNone
	case shardLoading:
		s.mu.Unlock()
		return nil, errCoordinatorLoadInProgress
	default:
		s.mu.Unlock()
		return nil, errNotCoordinator
	}
}

// snapshotShards returns the shards, ordered by partition.
func (c *Coordinator) snapshotShards() []*shard {
	c.mu.Lock()
	out := make([]*shard, 0, len(c.shards))
	for _, s := range c.shards {
		out = append(out, s)
	}
	c.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].p < out[j].p })
	return out
}

// Tick advances every timer to the injected clock's now: removes members
// whose session expired and pending members that never rejoined, completes
// rebalances whose deadline passed, removes members that did not sync in
// time, and every offsets.retention.check.interval.ms expires offsets. The
// broker calls it periodically (every ~100 ms); timers are as precise as
// the tick interval.
func (c *Coordinator) Tick() {
	c.tickMu.Lock()
	defer c.tickMu.Unlock()
	now := c.now()
	expire := now.Sub(c.lastExpiry) >= c.cfg.OffsetsRetentionCheckInterval
	if expire {
		c.lastExpiry = now
	}
	for _, s := range c.snapshotShards() {
		s.mu.Lock()
		if s.state == shardLoaded {
			for _, g := range sortedGroups(s.groups) {
				c.tickGroup(s, g, now)
			}
			if expire {
				c.expireOffsets(s, now)
			}
		}
		s.mu.Unlock()
	}
}

// ExpireOffsetsNow runs the offset expiry of every loaded partition at
// once, as Tick does every offsets.retention.check.interval.ms.
func (c *Coordinator) ExpireOffsetsNow() {
	now := c.now()
	for _, s := range c.snapshotShards() {
		s.mu.Lock()
		if s.state == shardLoaded {
			c.expireOffsets(s, now)
		}
		s.mu.Unlock()
	}
}

func sortedGroups(m map[string]*group) []*group {
	out := make([]*group, 0, len(m))
	for _, g := range m {
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// kv is one record to write: a nil value is a tombstone.
type kv struct{ key, value []byte }

// appendRecords writes recs as one batch to partition s.p, waits until it
// is committed (holding s.mu throughout), and returns the batch's offset in
// the log and the error code to answer (NONE on success).
// REQUIRES: s.mu is held.
func (c *Coordinator) appendRecords(ctx context.Context, s *shard, recs []kv) (int64, int16) {
	if len(recs) == 0 {
		return -1, errNone
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.OffsetsCommitTimeout)
	defer cancel()
	pos, wait, err := c.appendLocal(ctx, s, recs)
	if err == nil {
		err = wait(ctx)
	}
	return pos, c.appendResult(ctx, s, len(recs), err)
}

// appendLocal writes recs as one batch to this broker's log of partition
// s.p and returns its offset there and the wait for its commit.
// REQUIRES: s.mu is held.
func (c *Coordinator) appendLocal(ctx context.Context, s *shard, recs []kv) (int64, func(context.Context) error, error) {
	b := record.NewBuilder(0)
	ts := c.now().UnixMilli()
	for _, r := range recs {
		b.Add(ts, r.key, r.value)
	}
	return c.log.Append(ctx, s.p, b.Build())
}

// appendResult maps an append's outcome to the code to answer, logging
// failures.
func (c *Coordinator) appendResult(ctx context.Context, s *shard, records int, err error) int16 {
	if err != nil && ctx.Err() != nil {
		err = fmt.Errorf("%w: %w", errContextDone, err)
	}
	if err != nil {
		c.logger.Warn("group coordinator: append to offsets topic failed",
			"partition", s.p, "records", records, "err", err)
	}
	return appendErrorCode(err)
}

// newUUID returns a random (version 4) UUID in Java's textual form.
func newUUID() string {
	var u [16]byte
	_, _ = rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}
