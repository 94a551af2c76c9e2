// Package fetchsession keeps the broker's incremental fetch sessions
// (KIP-227), with Kafka's rules (core/.../server/FetchSession.scala).
//
// A Fetch request v7+ carries a session id and a session epoch:
//
//   - epoch 0 (full, initial): any session named is closed; the request
//     lists every partition; the answer carries every partition and the id
//     of a new session, or 0 when the cache has no room (then the client
//     keeps sending full requests).
//   - epoch -1 (full, final): any session named is closed; a sessionless
//     fetch, answered with session id 0.
//   - epoch > 0 (incremental): the session must exist
//     (FETCH_SESSION_ID_NOT_FOUND) and expect this epoch
//     (INVALID_FETCH_SESSION_EPOCH); a v13+ request must not use a v7-12
//     session or the other way round (FETCH_SESSION_TOPIC_ID_ERROR). The
//     request lists only the partitions whose fetch parameters changed
//     (added or updated) and the forgotten ones (removed); the broker reads
//     every partition of the session and answers only those with records,
//     a changed high watermark or log start offset, an error, a diverging
//     epoch or a preferred read replica. A session left empty is closed and
//     the request answered sessionless. The session's next epoch is the
//     request's plus one (after MaxInt32: 1).
//
// The cache holds at most Slots sessions
// (max.incremental.fetch.session.cache.slots, default 1000). When it is
// full, a new session may evict one (FetchSessionCache.tryEvict): first the
// least recently used one if it was unused for longer than EvictionAfter
// (min.incremental.fetch.session.eviction.ms, default 120 s); else the
// smallest evictable one — ordered by (privileged, partitions, id) — if
// the new session is not smaller. Follower sessions are privileged. A
// session is evictable by a privileged newcomer once unprivileged or older
// than EvictionAfter, and by any newcomer once older than EvictionAfter,
// as observed at its last use.
//
// Concurrency: a Cache is safe for concurrent use. Lock order: Cache.mu
// before session.mu; a Context's Respond takes only its session's lock, and
// answers INVALID_FETCH_SESSION_EPOCH if another request used the session
// in between (a duplicate request).
package fetchsession

import (
	"container/list"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/strom-broker/strom/net/kerr"
)

// Session ids and epochs with a meaning of their own (FetchMetadata.java).
// Part of the wire protocol.
const (
	// InvalidSessionID means "no session".
	InvalidSessionID = 0
	// InitialEpoch asks for a full fetch and a new session.
	InitialEpoch = 0
	// FinalEpoch asks for a full fetch without a session.
	FinalEpoch = -1
)

// NextEpoch is the epoch that follows e (FetchMetadata.nextEpoch).
func NextEpoch(e int32) int32 {
	switch {
	case e < 0:
		return FinalEpoch
	case e == math.MaxInt32:
		return 1
	default:
		return e + 1
	}
}

// Key names a partition of a session: by topic id in v13+ sessions, by
// topic name before.
type Key struct {
	TopicID   [16]byte
	Topic     string
	Partition int32
}

// Params are a partition's fetch parameters, as the request sent them (or
// the session remembers them).
type Params struct {
	FetchOffset        int64
	LogStartOffset     int64
	MaxBytes           int32
	CurrentLeaderEpoch int32
	LastFetchedEpoch   int32
}

// Wanted is one partition to read for a request.
type Wanted struct {
	Key
	Params
}

// Result is what the broker read for a Wanted partition: what decides
// whether an incremental answer includes it.
type Result struct {
	HighWatermark, LogStartOffset int64
	HasRecords                    bool
	HasError                      bool
	DivergingEpoch                bool
	PreferredReadReplica          bool
}

// Request is the session part of a Fetch request.
type Request struct {
	SessionID, Epoch int32
	// UsesTopicIDs is true for Fetch v13+.
	UsesTopicIDs bool
	// Privileged is true for a follower's fetch.
	Privileged bool
	// Partitions are the request's partitions, in order.
	Partitions []Wanted
	// Forgotten are the partitions an incremental request removes.
	Forgotten []Key
}

// Config sizes a Cache.
type Config struct {
	// Slots is max.incremental.fetch.session.cache.slots (0: no sessions).
	Slots int
	// EvictionAfter is min.incremental.fetch.session.eviction.ms.
	EvictionAfter time.Duration
	// Now is the clock (time.Now if nil).
	Now func() time.Time
}

// Cache holds the broker's fetch sessions.
type Cache struct {
	cfg Config

	mu       sync.Mutex
	sessions map[int32]*session
	// partitions is the number of partitions over all sessions, as
	// counted at their last use.
	partitions int
	// created and evicted count sessions since New.
	created, evicted int64
}

// session is one fetch session. Fields below mu are guarded by it.
type session struct {
	id           int32
	privileged   bool
	usesTopicIDs bool
	created      time.Time

	mu sync.Mutex
	// epoch is the epoch the next request must carry.
	epoch int32
	// order holds *cached in the order they are read; included partitions
	// move to the back, so that under a response size limit every
	// partition gets its turn. index finds them.
	order *list.List
	index map[Key]*list.Element

	// Kept by Cache.touch under Cache.mu (and mu).
	lastUsed          time.Time
	cachedSize        int // partitions at the last use; -1: not in the cache
	evictableByAll    bool
	evictableByLeader bool // by a privileged (follower) newcomer
}

// cached is one partition of a session: the fetch parameters last sent and
// the answer's high watermark and log start last sent.
type cached struct {
	key           Key
	params        Params
	highWatermark int64 // -1 after an error, so the partition is sent again once it clears
	logStart      int64
}

// New returns an empty cache.
func New(cfg Config) *Cache {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Cache{cfg: cfg, sessions: map[int32]*session{}}
}

// Stats are a cache's figures (Kafka's NumIncrementalFetchSessions,
// NumIncrementalFetchPartitionsCached and the evictions meter).
type Stats struct {
	// Sessions and Partitions are the sessions kept and the partitions
	// they hold.
	Sessions, Partitions int
	// Created and Evicted count sessions since the cache was made.
	Created, Evicted int64
}

// Stats returns the cache's figures.
func (c *Cache) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Stats{Sessions: len(c.sessions), Partitions: c.partitions, Created: c.created, Evicted: c.evicted}
}

// Has reports whether session id exists.
func (c *Cache) Has(id int32) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.sessions[id]
	return ok
}

// contextKind is what a request turned out to be.
type contextKind int

const (
	sessionError contextKind = iota
	sessionless
	full
	incremental
)

// Context is one request's view of its session: what to read, and how to
// answer (FetchContext).
type Context struct {
	cache    *Cache
	kind     contextKind
	err      error
	wanted   []Wanted
	req      Request
	session  *session // incremental only
	reqEpoch int32
}

// NewContext applies a request's session fields (FetchManager.newContext).
// A v0-6 request is a Request with SessionID 0 and Epoch FinalEpoch.
func (c *Cache) NewContext(r Request) *Context {
	x := &Context{cache: c, req: r, wanted: r.Partitions, reqEpoch: r.Epoch}
	if r.Epoch == InitialEpoch || r.Epoch == FinalEpoch {
		if r.SessionID != InvalidSessionID {
			c.mu.Lock()
			if s := c.sessions[r.SessionID]; s != nil {
				c.removeLocked(s)
			}
			c.mu.Unlock()
		}
		x.kind = full
		if r.Epoch == FinalEpoch {
			x.kind = sessionless
		}
		return x
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.sessions[r.SessionID]
	if s == nil {
		x.kind, x.err = sessionError, kerr.FetchSessionIDNotFound
		return x
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.epoch != r.Epoch:
		x.kind, x.err = sessionError, kerr.InvalidFetchSessionEpoch
		return x
	case s.usesTopicIDs != r.UsesTopicIDs:
		x.kind, x.err = sessionError, kerr.FetchSessionTopicIDError
		return x
	}
	for _, w := range r.Partitions {
		if e, ok := s.index[w.Key]; ok {
			e.Value.(*cached).params = w.Params
		} else {
			s.index[w.Key] = s.order.PushBack(&cached{key: w.Key, params: w.Params, highWatermark: -1, logStart: -1})
		}
	}
	for _, k := range r.Forgotten {
		if e, ok := s.index[k]; ok {
			s.order.Remove(e)
			delete(s.index, k)
		}
	}
	if s.order.Len() == 0 {
		// Nothing left: close the session and answer sessionless.
		c.removeLocked(s)
		x.kind = sessionless
		return x
	}
	c.touchLocked(s, c.cfg.Now())
	s.epoch = NextEpoch(s.epoch)
	x.kind, x.session = incremental, s
	x.wanted = make([]Wanted, 0, s.order.Len())
	for e := s.order.Front(); e != nil; e = e.Next() {
		cp := e.Value.(*cached)
		x.wanted = append(x.wanted, Wanted{Key: cp.key, Params: cp.params})
	}
	return x
}

// Err is the request's session error (nil if none): the response carries
// it at its top level, with session id 0 and no partitions.
func (x *Context) Err() error { return x.err }

// Incremental reports whether the request is an incremental one.
func (x *Context) Incremental() bool { return x.kind == incremental }

// Partitions returns the partitions to read, in order: the request's, or
// for an incremental request every partition of the session.
func (x *Context) Partitions() []Wanted { return x.wanted }

// Respond decides the answer once every partition of Partitions was read
// (results[i] for Partitions()[i]): the response's session id, which
// partitions it carries, and its top-level error. A full request creates
// its session here (if the cache has room), an incremental one leaves out
// unchanged partitions and remembers what it sent. Call it once.
func (x *Context) Respond(results []Result) (sessionID int32, include []bool, err error) {
	include = make([]bool, len(results))
	switch x.kind {
	case sessionError:
		return InvalidSessionID, include, x.err
	case sessionless:
		for i := range include {
			include[i] = true
		}
		return InvalidSessionID, include, nil
	case full:
		for i := range include {
			include[i] = true
		}
		return x.cache.maybeCreate(x.req.Privileged, x.req.UsesTopicIDs, x.wanted, results), include, nil
	}
	s := x.session
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.epoch != NextEpoch(x.reqEpoch) {
		// Another request used the session since NewContext.
		return s.id, include, kerr.InvalidFetchSessionEpoch
	}
	var moved []*list.Element
	for i, r := range results {
		e, ok := s.index[x.wanted[i].Key]
		if !ok {
			continue
		}
		cp := e.Value.(*cached)
		must := r.HasRecords || r.DivergingEpoch || r.PreferredReadReplica
		if cp.highWatermark != r.HighWatermark {
			must, cp.highWatermark = true, r.HighWatermark
		}
		if cp.logStart != r.LogStartOffset {
			must, cp.logStart = true, r.LogStartOffset
		}
		if r.HasError {
			must, cp.highWatermark = true, -1
		}
		if must {
			include[i] = true
			moved = append(moved, e)
		}
	}
	for _, e := range moved {
		s.order.MoveToBack(e)
	}
	return s.id, include, nil
}

// maybeCreate makes a session for a full request's answer, evicting one if
// the cache is full and Kafka's rules allow; InvalidSessionID if not.
func (c *Cache) maybeCreate(privileged, usesTopicIDs bool, wanted []Wanted, results []Result) int32 {
	if c.cfg.Slots <= 0 {
		return InvalidSessionID
	}
	now := c.cfg.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.sessions) >= c.cfg.Slots && !c.tryEvictLocked(privileged, len(wanted), now) {
		return InvalidSessionID
	}
	s := &session{privileged: privileged, usesTopicIDs: usesTopicIDs, created: now, cachedSize: -1,
		epoch: NextEpoch(InitialEpoch), order: list.New(), index: make(map[Key]*list.Element, len(wanted))}
	for i, w := range wanted {
		if _, dup := s.index[w.Key]; dup {
			continue
		}
		cp := &cached{key: w.Key, params: w.Params, highWatermark: results[i].HighWatermark, logStart: results[i].LogStartOffset}
		if results[i].HasError {
			cp.highWatermark = -1
		}
		s.index[w.Key] = s.order.PushBack(cp)
	}
	for {
		s.id = rand.Int32N(math.MaxInt32-1) + 1
		if c.sessions[s.id] == nil {
			break
		}
	}
	c.sessions[s.id] = s
	c.created++
	c.touchLocked(s, now)
	return s.id
}

// evictKey orders sessions for eviction: the smallest goes first.
type evictKey struct {
	privileged bool
	size       int
	id         int32
}

func (a evictKey) less(b evictKey) bool {
	if a.privileged != b.privileged {
		return !a.privileged
	}
	if a.size != b.size {
		return a.size < b.size
	}
	return a.id < b.id
}

// tryEvictLocked evicts one session to make room for a new one of size
// partitions (FetchSessionCache.tryEvict). REQUIRES: c.mu is held.
func (c *Cache) tryEvictLocked(privileged bool, size int, now time.Time) bool {
	var lru, victim *session
	for _, s := range c.sessions {
		if lru == nil || s.lastUsed.Before(lru.lastUsed) || s.lastUsed.Equal(lru.lastUsed) && s.id < lru.id {
			lru = s
		}
		eligible := s.evictableByAll || privileged && s.evictableByLeader
		if eligible && (victim == nil || s.evictKey().less(victim.evictKey())) {
			victim = s
		}
	}
	switch {
	case lru == nil:
		return false
	case now.Sub(lru.lastUsed) > c.cfg.EvictionAfter:
		c.removeLocked(lru)
		c.evicted++
		return true
	case victim == nil || (evictKey{privileged, size, 0}).less(victim.evictKey()):
		return false
	default:
		c.removeLocked(victim)
		c.evicted++
		return true
	}
}

func (s *session) evictKey() evictKey { return evictKey{s.privileged, s.cachedSize, s.id} }

// touchLocked records a use of s (FetchSessionCache.touch).
// REQUIRES: c.mu and s.mu are held, or c.mu and s is not yet shared.
func (c *Cache) touchLocked(s *session, now time.Time) {
	s.lastUsed = now
	if s.cachedSize >= 0 {
		c.partitions -= s.cachedSize
	}
	s.cachedSize = s.order.Len()
	c.partitions += s.cachedSize
	old := now.Sub(s.created) > c.cfg.EvictionAfter
	s.evictableByLeader = !s.privileged || old
	s.evictableByAll = old
}

// removeLocked drops s from the cache. REQUIRES: c.mu is held.
func (c *Cache) removeLocked(s *session) {
	if c.sessions[s.id] != s {
		return
	}
	delete(c.sessions, s.id)
	c.partitions -= max(s.cachedSize, 0)
}
