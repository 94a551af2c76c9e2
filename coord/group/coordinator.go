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
// the in-memory state change in the same order, and never while a batch
// waits to be committed (acks=all). OffsetCommit applies its offsets once
// committed unless a later record for the same partition was applied
// meanwhile (group.applyOffset); offset expiry, deleted topics' offsets,
// DeleteGroups and OffsetDelete apply when appended and answer once
// committed; the group records of rebalances are queued on the shard
// (shard.later) and settled by whoever releases its lock (unlock), whose
// continuation re-checks the group under the lock. Lock order:
// Coordinator.mu before shard.mu; never both held across an append.
// Blocked JoinGroup / SyncGroup callers hold no lock: they wait on a
// channel a later state change fills.
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
	// writes are appended batches whose commits the holder of mu awaits,
	// without mu, before releasing it (Coordinator.unlock); empty whenever
	// mu is free.
	writes []*write
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
		c.unlock(s)
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
		c.unlock(s)
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

// write is a batch in this broker's log of a partition whose commit is
// yet to be awaited (OffsetsLog.Append's wait), bounded by
// offsets.commit.timeout.ms from the append.
type write struct {
	ctx     context.Context
	cancel  context.CancelFunc
	wait    func(context.Context) error
	records int
	pos     int64 // the batch's offset in the log
	// then, when set, runs with the shard's lock held once the commit's
	// outcome (the code to answer) is known.
	then func(code int16)
}

// appendAsync writes recs as one batch to this broker's log of partition
// s.p and returns the write whose commit is to be awaited, or nil and the
// code to answer when the local append failed (nothing was written).
// REQUIRES: s.mu is held.
func (c *Coordinator) appendAsync(ctx context.Context, s *shard, recs []kv) (*write, int16) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.OffsetsCommitTimeout)
	pos, wait, err := c.appendLocal(ctx, s, recs)
	if err != nil {
		code := c.appendResult(ctx, s, len(recs), err)
		cancel()
		return nil, code
	}
	return &write{ctx: ctx, cancel: cancel, wait: wait, records: len(recs), pos: pos}, errNone
}

// later queues w: whoever holds s.mu awaits its commit before releasing
// the lock (settleWrites), then runs then with the lock held.
// REQUIRES: s.mu is held.
func (s *shard) later(w *write, then func(code int16)) {
	w.then = then
	s.writes = append(s.writes, w)
}

// settleWrites awaits the commits of the queued writes without holding
// s.mu, then runs their continuations, in append order, with it; until
// none is left (a continuation may queue more).
// REQUIRES: s.mu is held; it is released during the waits and held again
// on return.
func (c *Coordinator) settleWrites(s *shard) {
	for len(s.writes) > 0 {
		ws := s.writes
		s.writes = nil
		s.mu.Unlock()
		codes := make([]int16, len(ws))
		for i, w := range ws {
			codes[i] = c.appendResult(w.ctx, s, w.records, w.wait(w.ctx))
			w.cancel()
		}
		s.mu.Lock()
		for i, w := range ws {
			if w.then != nil {
				w.then(codes[i])
			}
		}
	}
}

// await waits for w's commit without holding s.mu (settling any other
// queued write too) and returns the code to answer.
// REQUIRES: s.mu is held; it is released during the wait and held again
// on return.
func (c *Coordinator) await(s *shard, w *write) int16 {
	code := errNone
	s.later(w, func(got int16) { code = got })
	c.settleWrites(s)
	return code
}

// unlock releases s.mu, first settling the writes queued while it was
// held (settleWrites): a request whose answer depends on a write returns
// once the write is committed, and holds no lock meanwhile.
// REQUIRES: s.mu is held.
func (c *Coordinator) unlock(s *shard) {
	c.settleWrites(s)
	s.mu.Unlock()
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
