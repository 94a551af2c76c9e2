package replication

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/engine/partlog"
	"github.com/strom-broker/strom/engine/record"
	"github.com/strom-broker/strom/net/client"
	"github.com/strom-broker/strom/net/kerr"
)

// This file is the follower fetcher (Kafka's ReplicaFetcherThread): for
// each leader broker, num.replica.fetchers fetchers, each copying every
// partition assigned to it from that leader with one Fetch request per
// round.
//
// Truncation (KIP-101, KIP-279), on every new leader epoch: by default on
// fetch (KIP-320, Kafka 2.7+): each fetch names the epoch of the log's last
// batch (LastFetchedEpoch) and a leader whose log diverges there answers
// DivergingEpoch (its end of that epoch) instead of records; the follower
// truncates with TruncationPoint and fetches again with its new last epoch,
// which iterates as KIP-279 does. A log without epochs (empty), and every
// log when FetcherConfig.NoTruncateOnFetch is set (Kafka before 2.7), joins
// its fetcher truncating instead: the fetcher asks the leader where the
// follower's latest epoch ends (OffsetForLeaderEpoch) and truncates there,
// as often as KIP-279 needs, before fetching. Each round fetches from the
// local log end offset, appends what came (validated by the engine), and
// takes the leader's high watermark and log start offset.
//
// Fetch session (KIP-227): each fetcher keeps one session with its leader
// (fetchSession, Kafka's FetchSessionHandler): the first request is full
// and opens it; later ones name only the partitions whose fetch offset, log
// start, leader epoch or last fetched epoch changed, and forget those no
// longer fetched; the leader answers only partitions with news. A session
// error, a lost connection or a leader that keeps no session make the next
// request full again.
//
// Errors, per partition: OFFSET_OUT_OF_RANGE
// asks the leader's log end and start (ListOffsets) and truncates or
// restarts (OutOfRangeRestart); FENCED_LEADER_EPOCH parks the partition
// until the controller names a new epoch (Add again); NOT_LEADER_OR_FOLLOWER
// and UNKNOWN_LEADER_EPOCH (the leader has not heard of its election yet)
// retry after LeaderBehindBackoff; any other error backs off for Backoff
// and retries. A lost connection is redialled at once if it had served
// earlier rounds (the leader restarted meanwhile), else after Backoff.
//
// Requests: Fetch v12 (topic names, ReplicaId = this broker's id, session
// id and epoch, CurrentLeaderEpoch, LastFetchedEpoch, the follower's log
// start offset), OffsetForLeaderEpoch v3-4 and ListOffsets v4+ with this
// broker as the replica id.
//
// Concurrency: Add and Remove may be called from any goroutine. A fetcher
// processes a response under its lock, so when Remove returns nothing more
// is appended to that partition by the fetcher; Partition's own epoch
// checks drop anything received for an older epoch.

// FetcherConfig configures the fetchers of one broker.
type FetcherConfig struct {
	// BrokerID is this broker's id, sent as the fetching replica.
	BrokerID int32
	// NumFetchers is num.replica.fetchers per leader broker (default 1).
	NumFetchers int
	// MaxBytes is replica.fetch.max.bytes per partition; ResponseMaxBytes
	// bounds a whole response (replica.fetch.response.max.bytes, 10 MiB).
	MaxBytes, ResponseMaxBytes int32
	// MinBytes and MaxWait are replica.fetch.min.bytes and
	// replica.fetch.wait.max.ms: the leader long-polls like for consumers.
	MinBytes int32
	MaxWait  time.Duration
	// Backoff is replica.fetch.backoff.ms.
	Backoff time.Duration
	// NoTruncateOnFetch makes every new leader epoch truncate through
	// OffsetForLeaderEpoch before fetching, and leaves LastFetchedEpoch
	// out of fetches (Kafka's behaviour before 2.7).
	NoTruncateOnFetch bool
	// NoSessions sends every fetch full and sessionless (epoch -1).
	NoSessions bool
	// Logger receives one line per operator-worthy event.
	Logger *slog.Logger
}

func (c FetcherConfig) withDefaults() FetcherConfig {
	if c.NumFetchers < 1 {
		c.NumFetchers = 1
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = 1 << 20
	}
	if c.ResponseMaxBytes <= 0 {
		c.ResponseMaxBytes = 10 << 20
	}
	if c.MaxWait <= 0 {
		c.MaxWait = 500 * time.Millisecond
	}
	if c.Backoff <= 0 {
		c.Backoff = time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Fetchers are all follower fetchers of one broker.
type Fetchers struct {
	cfg    FetcherConfig
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu    sync.Mutex
	all   map[fetcherKey]*fetcher
	where map[*Partition]fetcherKey
}

type fetcherKey struct {
	leader int32
	index  int
}

// NewFetchers returns the (empty) fetcher set of a broker.
func NewFetchers(cfg FetcherConfig) *Fetchers {
	ctx, cancel := context.WithCancel(context.Background())
	return &Fetchers{cfg: cfg.withDefaults(), ctx: ctx, cancel: cancel,
		all: map[fetcherKey]*fetcher{}, where: map[*Partition]fetcherKey{}}
}

// Add makes p, a follower in leaderEpoch, fetch from leader at addr
// (host:port of its inter-broker listener). A partition already fetching
// is moved (and truncates again: every epoch change truncates, KAFKA-7164).
func (fs *Fetchers) Add(p *Partition, leader int32, addr string, leaderEpoch int32) {
	h := fnv.New32a()
	h.Write([]byte(p.Topic()))
	key := fetcherKey{leader: leader, index: int((h.Sum32()*31 + uint32(p.Index())) % uint32(fs.cfg.NumFetchers))}
	fs.Remove(p)
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.ctx.Err() != nil {
		return
	}
	f := fs.all[key]
	if f == nil {
		f = &fetcher{cfg: fs.cfg, leader: leader, parts: map[*Partition]*fetchState{}, wake: make(chan struct{}, 1)}
		fs.all[key] = f
		fs.wg.Add(1)
		go func() {
			defer fs.wg.Done()
			f.run(fs.ctx)
		}()
	}
	f.add(p, addr, leaderEpoch)
	fs.where[p] = key
}

// Remove stops fetching p (it became leader, or stopped). When it returns,
// no fetcher appends to p any more.
func (fs *Fetchers) Remove(p *Partition) {
	fs.mu.Lock()
	key, ok := fs.where[p]
	delete(fs.where, p)
	f := fs.all[key]
	fs.mu.Unlock()
	if ok && f != nil {
		f.remove(p)
	}
}

// Fetching reports whether p is assigned to a fetcher, and its leader.
func (fs *Fetchers) Fetching(p *Partition) (leader int32, ok bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	key, ok := fs.where[p]
	return key.leader, ok
}

// Address returns the leader address p fetches from ("" if none).
func (fs *Fetchers) Address(p *Partition) string {
	fs.mu.Lock()
	f := fs.all[fs.where[p]]
	fs.mu.Unlock()
	if f == nil {
		return ""
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.addr
}

// Epoch returns the leader epoch p fetches in (-1 if it is not fetching).
func (fs *Fetchers) Epoch(p *Partition) int32 {
	fs.mu.Lock()
	key, ok := fs.where[p]
	f := fs.all[key]
	fs.mu.Unlock()
	if !ok || f == nil {
		return -1
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if st, ok := f.parts[p]; ok {
		return st.epoch
	}
	return -1
}

// Close stops every fetcher and waits for them.
func (fs *Fetchers) Close() {
	fs.mu.Lock()
	fs.cancel()
	fs.mu.Unlock()
	fs.wg.Wait()
}

// fetchState is one partition's state in its fetcher.
type fetchState struct {
	epoch      int32 // the leader epoch the partition follows in
	truncating bool  // OffsetForLeaderEpoch before the next fetch
	outOfRange bool  // ListOffsets before the next fetch
	fenced     bool  // FENCED_LEADER_EPOCH: idle until Add again
	delayUntil time.Time
}

// fetcher copies the partitions it is given from one leader broker.
type fetcher struct {
	cfg    FetcherConfig
	leader int32

	mu    sync.Mutex // held while a response is applied
	addr  string
	parts map[*Partition]*fetchState
	conn  *client.Client // owned by run; closed when addr changes
	wake  chan struct{}  // 1-buffered: partitions were added
	// session is the fetch session with the leader; only run's fetch
	// uses it, except that add resets it when the leader moves.
	session fetchSession
}

func (f *fetcher) add(p *Partition, addr string, leaderEpoch int32) {
	f.mu.Lock()
	if addr != f.addr && f.conn != nil {
		f.conn.Close() // the leader moved: run redials
		f.conn = nil
	}
	if addr != f.addr {
		f.session = fetchSession{} // a session lives on one leader
	}
	f.addr = addr
	// Truncation on fetch needs the log's last epoch; a log without one
	// asks OffsetForLeaderEpoch (which, for an empty log, cuts nothing).
	_, hasEpoch := p.Log().EpochCache().LatestEpoch()
	f.parts[p] = &fetchState{epoch: leaderEpoch, truncating: f.cfg.NoTruncateOnFetch || !hasEpoch}
	f.mu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

func (f *fetcher) remove(p *Partition) {
	f.mu.Lock()
	delete(f.parts, p)
	f.mu.Unlock()
}

// work is one partition of a round, as the fetcher saw it when the round
// began.
type work struct {
	p     *Partition
	st    *fetchState
	epoch int32
}

// current reports whether w still describes the partition's state (not
// removed or re-added since). REQUIRES: f.mu is held.
func (f *fetcher) current(w work) bool {
	st, ok := f.parts[w.p]
	return ok && st == w.st && st.epoch == w.epoch
}

// run is the fetcher's loop.
func (f *fetcher) run(ctx context.Context) {
	defer func() {
		f.mu.Lock()
		if f.conn != nil {
			f.conn.Close()
		}
		f.mu.Unlock()
	}()
	for ctx.Err() == nil {
		trunc, oor, fetch, wait := f.plan()
		if len(trunc)+len(oor)+len(fetch) == 0 {
			f.sleep(ctx, wait)
			continue
		}
		c, reused, err := f.connect(ctx)
		if err == nil && len(trunc) > 0 {
			err = f.truncate(ctx, c, trunc)
		}
		if err == nil && len(oor) > 0 {
			err = f.resolveOutOfRange(ctx, c, oor)
		}
		if err == nil && len(fetch) > 0 && len(trunc)+len(oor) == 0 {
			err = f.fetch(ctx, c, fetch)
		}
		if err != nil && ctx.Err() == nil {
			f.cfg.Logger.Warn("replica fetcher: leader unreachable; retrying", "leader", f.leader, "err", err)
			f.mu.Lock()
			if f.conn == c && c != nil {
				c.Close()
				f.conn = nil
			}
			f.session.restart() // the answer may have been lost
			f.mu.Unlock()
			if reused {
				// A connection kept from before failed (the leader
				// restarted since, or dropped an idle connection):
				// redial at once, back off only if that fails too.
				continue
			}
			f.sleep(ctx, f.cfg.Backoff)
		}
	}
}

// plan sorts the partitions into this round's work; wait is how long to
// sleep when there is none.
func (f *fetcher) plan() (trunc, oor, fetch []work, wait time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	wait = time.Hour
	for p, st := range f.parts {
		w := work{p: p, st: st, epoch: st.epoch}
		switch {
		case st.fenced:
		case now.Before(st.delayUntil):
			wait = min(wait, st.delayUntil.Sub(now))
		case st.truncating:
			trunc = append(trunc, w)
		case st.outOfRange:
			oor = append(oor, w)
		default:
			fetch = append(fetch, w)
		}
	}
	return trunc, oor, fetch, wait
}

func (f *fetcher) sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-f.wake:
	case <-t.C:
	}
}

// connect returns the connection to the leader, dialling it if needed;
// reused says it was open before this round.
func (f *fetcher) connect(ctx context.Context) (c *client.Client, reused bool, err error) {
	f.mu.Lock()
	c, addr := f.conn, f.addr
	f.mu.Unlock()
	if c != nil {
		return c, true, nil
	}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, err = client.Dial(dctx, addr, fmt.Sprintf("strom-replica-fetcher-%d", f.cfg.BrokerID))
	if err != nil {
		return nil, false, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.addr != addr {
		c.Close()
		return nil, false, fmt.Errorf("leader %d moved to %s", f.leader, f.addr)
	}
	f.conn = c
	return c, false, nil
}

// delay backs a partition off. REQUIRES: f.mu is held.
func (f *fetcher) delay(w work, why string, err error) {
	w.st.delayUntil = time.Now().Add(f.cfg.Backoff)
	f.cfg.Logger.Debug("replica fetcher: partition backs off", "partition", partName(w.p), "leader", f.leader, "why", why, "err", err)
}

func partName(p *Partition) string { return fmt.Sprintf("%s-%d", p.Topic(), p.Index()) }

// requestCtx bounds one request: the leader may hold a fetch for MaxWait.
func (f *fetcher) requestCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, f.cfg.MaxWait+30*time.Second)
}

// truncate runs one OffsetForLeaderEpoch round for ws and truncates.
func (f *fetcher) truncate(ctx context.Context, c *client.Client, ws []work) error {
	req := kmsg.NewPtrOffsetForLeaderEpochRequest()
	req.ReplicaID = f.cfg.BrokerID
	var asked []work
	for _, w := range ws {
		latest, ok := w.p.Log().EpochCache().LatestEpoch()
		if !ok {
			// No epochs: an empty log has nothing to cut; a log without
			// epochs (none is written so) keeps what it has and lets
			// OFFSET_OUT_OF_RANGE correct it.
			f.mu.Lock()
			if f.current(w) {
				w.st.truncating = false
			}
			f.mu.Unlock()
			continue
		}
		rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
		rp.Partition, rp.CurrentLeaderEpoch, rp.LeaderEpoch = w.p.Index(), w.epoch, latest
		rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
		rt.Topic = w.p.Topic()
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		asked = append(asked, w)
	}
	if len(asked) == 0 {
		return nil
	}
	if _, maxV, ok := c.Versions(req.Key()); !ok || maxV < 3 {
		return fmt.Errorf("leader %d does not serve OffsetForLeaderEpoch v3+", f.leader)
	}
	rctx, cancel := f.requestCtx(ctx)
	defer cancel()
	r, err := c.Request(rctx, req)
	if err != nil {
		return err
	}
	resp := r.(*kmsg.OffsetForLeaderEpochResponse)
	answers := map[string]map[int32]kmsg.OffsetForLeaderEpochResponseTopicPartition{}
	for _, rt := range resp.Topics {
		m := answers[rt.Topic]
		if m == nil {
			m = map[int32]kmsg.OffsetForLeaderEpochResponseTopicPartition{}
			answers[rt.Topic] = m
		}
		for _, rp := range rt.Partitions {
			m[rp.Partition] = rp
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, w := range asked {
		if !f.current(w) {
			continue
		}
		a, ok := answers[w.p.Topic()][w.p.Index()]
		if !ok {
			f.delay(w, "no OffsetForLeaderEpoch answer", nil)
			continue
		}
		if err := kerr.ForCode(a.ErrorCode); err != nil {
			f.partitionError(w, "OffsetForLeaderEpoch", err)
			continue
		}
		if f.truncateTo(w, EpochEnd{Epoch: a.LeaderEpoch, EndOffset: a.EndOffset}, "OffsetForLeaderEpoch") {
			w.st.truncating = false
		}
	}
	return nil
}

// resolveOutOfRange asks the leader's log end and start for ws and
// truncates or restarts (OutOfRangeRestart).
func (f *fetcher) resolveOutOfRange(ctx context.Context, c *client.Client, ws []work) error {
	ask := func(ts int64) (map[*Partition]int64, error) {
		req := kmsg.NewPtrListOffsetsRequest()
		req.ReplicaID = f.cfg.BrokerID
		for _, w := range ws {
			rp := kmsg.NewListOffsetsRequestTopicPartition()
			rp.Partition, rp.Timestamp, rp.CurrentLeaderEpoch, rp.MaxNumOffsets = w.p.Index(), ts, w.epoch, 1
			rt := kmsg.NewListOffsetsRequestTopic()
			rt.Topic = w.p.Topic()
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
		}
		rctx, cancel := f.requestCtx(ctx)
		defer cancel()
		r, err := c.Request(rctx, req)
		if err != nil {
			return nil, err
		}
		byName := indexWork(ws)
		out := map[*Partition]int64{}
		for _, rt := range r.(*kmsg.ListOffsetsResponse).Topics {
			for _, rp := range rt.Partitions {
				if p, ok := byName[partKey{rt.Topic, rp.Partition}]; ok && rp.ErrorCode == 0 {
					out[p] = rp.Offset
				}
			}
		}
		return out, nil
	}
	ends, err := ask(-1)
	if err != nil {
		return err
	}
	starts, err := ask(-2)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, w := range ws {
		if !f.current(w) {
			continue
		}
		end, ok1 := ends[w.p]
		start, ok2 := starts[w.p]
		if !ok1 || !ok2 {
			f.delay(w, "ListOffsets refused", nil)
			continue
		}
		leo := w.p.Log().LogEndOffset()
		offset, trunc, restart := OutOfRangeRestart(leo, start, end)
		switch {
		case trunc:
			err = w.p.TruncateTo(w.epoch, offset)
		case restart:
			err = w.p.TruncateFullyAndStartAt(w.epoch, offset)
		}
		if err != nil {
			f.partitionError(w, "out-of-range recovery", err)
			continue
		}
		if trunc || restart {
			f.cfg.Logger.Warn("follower out of range: log reset to the leader's", "partition", partName(w.p), "leader", f.leader,
				"leader_start", start, "leader_end", end, "old_leo", leo, "offset", offset)
		}
		w.st.outOfRange = false
	}
	return nil
}

// fetch runs one Fetch round for ws and applies the answers.
func (f *fetcher) fetch(ctx context.Context, c *client.Client, ws []work) error {
	const version = 12 // topic names, sessions, CurrentLeaderEpoch, LastFetchedEpoch
	req := kmsg.NewPtrFetchRequest()
	if minV, maxV, ok := c.Versions(req.Key()); !ok || maxV < version || minV > version {
		return fmt.Errorf("leader %d does not serve Fetch v%d", f.leader, version)
	}
	req.SetVersion(version)
	req.ReplicaID = f.cfg.BrokerID
	req.MaxWaitMillis = int32(f.cfg.MaxWait / time.Millisecond)
	req.MinBytes, req.MaxBytes = f.cfg.MinBytes, f.cfg.ResponseMaxBytes
	want := make(map[partKey]fetchParams, len(ws))
	for _, w := range ws {
		// The log end; with durable acks, once everything below it is
		// fsynced (FetchOffset waits for that).
		fp := fetchParams{fetchOffset: w.p.FetchOffset(), logStart: w.p.Log().LogStartOffset(),
			leaderEpoch: w.epoch, lastFetchedEpoch: -1}
		if e, ok := w.p.Log().EpochCache().LatestEpoch(); ok && !f.cfg.NoTruncateOnFetch {
			fp.lastFetchedEpoch = e
		}
		want[partKey{w.p.Topic(), w.p.Index()}] = fp
	}
	f.mu.Lock()
	if f.cfg.NoSessions {
		f.session = fetchSession{}
	}
	send, forget := f.session.build(req, want, f.cfg.NoSessions)
	f.mu.Unlock()
	byTopic := map[string]int{}
	for _, k := range send {
		fp := want[k]
		i, ok := byTopic[k.topic]
		if !ok {
			rt := kmsg.NewFetchRequestTopic()
			rt.Topic = k.topic
			req.Topics = append(req.Topics, rt)
			i = len(req.Topics) - 1
			byTopic[k.topic] = i
		}
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition = k.partition
		rp.CurrentLeaderEpoch, rp.LastFetchedEpoch = fp.leaderEpoch, fp.lastFetchedEpoch
		rp.FetchOffset, rp.LogStartOffset = fp.fetchOffset, fp.logStart
		rp.PartitionMaxBytes = f.cfg.MaxBytes
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, rp)
	}
	for _, k := range forget {
		ft := kmsg.NewFetchRequestForgottenTopic()
		ft.Topic, ft.Partitions = k.topic, []int32{k.partition}
		req.ForgottenTopics = append(req.ForgottenTopics, ft)
	}
	rctx, cancel := f.requestCtx(ctx)
	defer cancel()
	r, err := c.RequestVersion(rctx, req)
	if err != nil {
		return err
	}
	resp := r.(*kmsg.FetchResponse)
	f.mu.Lock()
	sessionErr := f.session.answered(resp)
	f.mu.Unlock()
	if sessionErr != nil {
		// The leader lost or refused the session: the next request is
		// full (a lost session is routine, e.g. after eviction).
		f.cfg.Logger.Debug("replica fetcher: fetch session reset", "leader", f.leader, "err", sessionErr)
		return nil
	}
	if err := kerr.ForCode(resp.ErrorCode); err != nil {
		return fmt.Errorf("fetch: %w", err)
	}
	byName := indexWork(ws)
	answers := map[*Partition]*kmsg.FetchResponseTopicPartition{}
	for i := range resp.Topics {
		rt := &resp.Topics[i]
		for j := range rt.Partitions {
			rp := &rt.Partitions[j]
			if p, ok := byName[partKey{rt.Topic, rp.Partition}]; ok {
				answers[p] = rp
			}
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, w := range ws {
		if !f.current(w) {
			continue
		}
		rp := answers[w.p]
		if rp == nil {
			continue // no news (an incremental answer), or not answered: fetched again next round
		}
		if err := kerr.ForCode(rp.ErrorCode); err != nil {
			f.partitionError(w, "fetch", err)
			continue
		}
		if rp.DivergingEpoch.EndOffset >= 0 {
			f.truncateTo(w, EpochEnd{Epoch: rp.DivergingEpoch.Epoch, EndOffset: rp.DivergingEpoch.EndOffset}, "diverging epoch")
			continue // no records come with it, and no high watermark is taken
		}
		if recs := completeBatches(rp.RecordBatches); len(recs) > 0 {
			if _, err := w.p.AppendFromLeader(w.epoch, recs); err != nil {
				f.partitionError(w, "append", err)
				continue
			}
		}
		if err := w.p.UpdateFromLeader(w.epoch, rp.HighWatermark, rp.LogStartOffset); err != nil {
			f.partitionError(w, "high watermark", err)
		}
	}
	return nil
}

// truncateTo truncates w's log where the leader says its epochs diverge
// (TruncationPoint) and reports whether truncation is complete (false: ask
// again with the new latest epoch, KIP-279). REQUIRES: f.mu is held.
func (f *fetcher) truncateTo(w work, leader EpochEnd, how string) bool {
	log := w.p.Log()
	leo := log.LogEndOffset()
	offset, done := TruncationPoint(leader, func(ep int32) EpochEnd {
		e, end := log.EndOffsetForEpoch(ep)
		return EpochEnd{Epoch: e, EndOffset: end}
	}, leo)
	// At the log end too: that cuts no record but drops an epoch this
	// replica began as leader and left empty, so that the next question
	// (when not done) names the epoch before it (Kafka's truncateTo).
	if err := w.p.TruncateTo(w.epoch, offset); err != nil {
		f.partitionError(w, "truncation", err)
		return false
	}
	if offset < leo {
		f.cfg.Logger.Info("follower truncated by leader epoch", "partition", partName(w.p), "leader", f.leader,
			"leader_epoch", w.epoch, "offset", offset, "old_leo", leo, "from", how)
	}
	return done
}

// partitionError applies Kafka's per-partition error rules.
// REQUIRES: f.mu is held.
func (f *fetcher) partitionError(w work, what string, err error) {
	switch {
	case errors.Is(err, kerr.OffsetOutOfRange):
		w.st.outOfRange = true
	case errors.Is(err, kerr.FencedLeaderEpoch):
		w.st.fenced = true
		f.cfg.Logger.Warn("replica fetcher: leader epoch fenced; waiting for the controller", "partition", partName(w.p),
			"leader", f.leader, "leader_epoch", w.epoch, "during", what)
	case errors.Is(err, ErrStaleFetch):
		// The partition changed role; its new state comes with Add/Remove.
	default:
		// The leader may learn of its leadership after its followers do
		// (topic creation, elections): those answers are transient.
		if !errors.Is(err, kerr.NotLeaderForPartition) && !errors.Is(err, kerr.UnknownLeaderEpoch) &&
			!errors.Is(err, kerr.UnknownTopicOrPartition) {
			f.cfg.Logger.Warn("replica fetcher: partition error", "partition", partName(w.p), "leader", f.leader,
				"during", what, "err", err)
		}
		// Batches that do not continue the log: find the divergence again.
		w.st.truncating = w.st.truncating || errors.Is(err, partlog.ErrUnexpectedOffset)
		f.delay(w, what, err)
		if errors.Is(err, kerr.NotLeaderForPartition) || errors.Is(err, kerr.UnknownLeaderEpoch) {
			// The controller told the leader in the same batch as this
			// follower: retry soon rather than after a whole Backoff
			// (Kafka's 1 s would be a second without acks=all after
			// every leader move).
			w.st.delayUntil = time.Now().Add(min(f.cfg.Backoff, LeaderBehindBackoff))
		}
	}
}

// LeaderBehindBackoff is how long a partition waits before fetching again
// from a leader that does not know yet that it leads (NOT_LEADER_OR_FOLLOWER,
// UNKNOWN_LEADER_EPOCH): the controller's request to it is on its way.
const LeaderBehindBackoff = 50 * time.Millisecond

// partKey names a partition in a response.
type partKey struct {
	topic     string
	partition int32
}

// indexWork maps each work item's partition name to its Partition.
func indexWork(ws []work) map[partKey]*Partition {
	out := make(map[partKey]*Partition, len(ws))
	for _, w := range ws {
		out[partKey{w.p.Topic(), w.p.Index()}] = w.p
	}
	return out
}

// completeBatches returns the longest prefix of b made of whole batches (a
// leader may end a response with a partial one).
func completeBatches(b []byte) []byte {
	n := 0
	for len(b)-n >= record.HeaderSize {
		h, err := record.ParseHeader(b[n:])
		if err != nil || h.Size() < record.HeaderSize || len(b)-n < h.Size() {
			break
		}
		n += h.Size()
	}
	return b[:n]
}
