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
// A partition joins a fetcher in the truncating state: before its first
// fetch the fetcher asks the leader where the follower's latest epoch ends
// (OffsetForLeaderEpoch) and truncates there (truncation.go), as often as
// KIP-279 needs. Then each round fetches from the local log end offset,
// appends what came (validated by the engine), and takes the leader's high
// watermark and log start offset. Errors, per partition: OFFSET_OUT_OF_RANGE
// asks the leader's log end and start (ListOffsets) and truncates or
// restarts (OutOfRangeRestart); FENCED_LEADER_EPOCH parks the partition
// until the controller names a new epoch (Add again); any other error backs
// off for Backoff and retries. A lost connection is redialled after
// Backoff.
//
// Requests: Fetch v12 (topic names, ReplicaId = this broker's id,
// CurrentLeaderEpoch, the follower's log start offset), OffsetForLeaderEpoch
// v3-4 and ListOffsets v4+ with this broker as the replica id. Fetch
// sessions are not used (every fetch is full).
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
}

func (f *fetcher) add(p *Partition, addr string, leaderEpoch int32) {
	f.mu.Lock()
	if addr != f.addr && f.conn != nil {
		f.conn.Close() // the leader moved: run redials
		f.conn = nil
	}
	f.addr = addr
	f.parts[p] = &fetchState{epoch: leaderEpoch, truncating: true}
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
		c, err := f.connect(ctx)
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
			f.mu.Unlock()
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

// connect returns the connection to the leader, dialling it if needed.
func (f *fetcher) connect(ctx context.Context) (*client.Client, error) {
	f.mu.Lock()
	c, addr := f.conn, f.addr
	f.mu.Unlock()
	if c != nil {
		return c, nil
	}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, err := client.Dial(dctx, addr, fmt.Sprintf("strom-replica-fetcher-%d", f.cfg.BrokerID))
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.addr != addr {
		c.Close()
		return nil, fmt.Errorf("leader %d moved to %s", f.leader, f.addr)
	}
	f.conn = c
	return c, nil
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
		log := w.p.Log()
		leo := log.LogEndOffset()
		offset, done := TruncationPoint(EpochEnd{Epoch: a.LeaderEpoch, EndOffset: a.EndOffset}, func(ep int32) EpochEnd {
			e, end := log.EndOffsetForEpoch(ep)
			return EpochEnd{Epoch: e, EndOffset: end}
		}, leo)
		if offset < leo {
			if err := w.p.TruncateTo(w.epoch, offset); err != nil {
				f.partitionError(w, "truncation", err)
				continue
			}
			f.cfg.Logger.Info("follower truncated by leader epoch", "partition", partName(w.p), "leader", f.leader,
				"leader_epoch", w.epoch, "offset", offset, "old_leo", leo)
		}
		if done || offset >= leo {
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
	const version = 12 // topic names, CurrentLeaderEpoch, LogStartOffset
	req := kmsg.NewPtrFetchRequest()
	if minV, maxV, ok := c.Versions(req.Key()); !ok || maxV < version || minV > version {
		return fmt.Errorf("leader %d does not serve Fetch v%d", f.leader, version)
	}
	req.SetVersion(version)
	req.ReplicaID = f.cfg.BrokerID
	req.MaxWaitMillis = int32(f.cfg.MaxWait / time.Millisecond)
	req.MinBytes, req.MaxBytes = f.cfg.MinBytes, f.cfg.ResponseMaxBytes
	req.SessionEpoch = -1 // no fetch session: a full fetch every round
	byTopic := map[string]int{}
	for _, w := range ws {
		i, ok := byTopic[w.p.Topic()]
		if !ok {
			rt := kmsg.NewFetchRequestTopic()
			rt.Topic = w.p.Topic()
			req.Topics = append(req.Topics, rt)
			i = len(req.Topics) - 1
			byTopic[w.p.Topic()] = i
		}
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition = w.p.Index()
		rp.CurrentLeaderEpoch = w.epoch
		rp.FetchOffset = w.p.Log().LogEndOffset()
		rp.LogStartOffset = w.p.Log().LogStartOffset()
		rp.PartitionMaxBytes = f.cfg.MaxBytes
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, rp)
	}
	rctx, cancel := f.requestCtx(ctx)
	defer cancel()
	r, err := c.RequestVersion(rctx, req)
	if err != nil {
		return err
	}
	resp := r.(*kmsg.FetchResponse)
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
			continue // not answered this round: fetched again next round
		}
		if err := kerr.ForCode(rp.ErrorCode); err != nil {
			f.partitionError(w, "fetch", err)
			continue
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
	}
}

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
