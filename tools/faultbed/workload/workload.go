// Package workload is Jepsen's Kafka queue workload in Go (franz-go): each
// key is one partition of one topic; processes send unique values (acks=all,
// idempotent producer) and poll, most in assign mode and some subscribed in
// a consumer group; every operation is recorded (Recorder) for the checker.
// After the faults are healed, FinalReads reads every key from its start
// until it has seen every offset the run saw.
//
// Process ids: every client is one process; a crashed client (torn down on
// purpose, as Jepsen's :crash) is replaced by a new process id. A worker
// goroutine runs its processes one after the other, one operation at a
// time, so a process's operations never overlap.
package workload

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strom-broker/strom/tools/faultbed/checker"
)

// Config is a workload.
type Config struct {
	// Seeds are the bootstrap addresses clients use (the proxies).
	Seeds []string
	Topic string
	// Keys is the number of partitions of Topic (keys 0..Keys-1).
	Keys int32
	// Assigners and Subscribers are the numbers of worker goroutines in
	// assign mode and in the consumer group.
	Assigners, Subscribers int
	// Group is the consumer group of the subscribers.
	Group string
	// SendTimeout bounds a send (an unanswered send completes as info);
	// PollTimeout bounds a poll.
	SendTimeout, PollTimeout time.Duration
	// Seed makes each worker's choices reproducible (given the same
	// answers from the cluster).
	Seed uint64
	// Logf reports client errors worth a look (optional).
	Logf func(format string, args ...any)
}

// Workload runs the clients of one run.
type Workload struct {
	cfg    Config
	rec    *Recorder
	values atomic.Int64 // the last value sent
	procs  atomic.Int64 // the last process id
}

// New returns a workload recording into rec.
func New(cfg Config, rec *Recorder) *Workload {
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	return &Workload{cfg: cfg, rec: rec}
}

func (w *Workload) newProcess() int { return int(w.procs.Add(1)) }

func (w *Workload) baseOpts() []kgo.Opt {
	return []kgo.Opt{
		kgo.SeedBrokers(w.cfg.Seeds...),
		kgo.MetadataMinAge(250 * time.Millisecond),
		kgo.MetadataMaxAge(2 * time.Second),
		kgo.RetryBackoffFn(func(int) time.Duration { return 100 * time.Millisecond }),
		kgo.DialTimeout(2 * time.Second),
		kgo.RequestTimeoutOverhead(2 * time.Second),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(200 * time.Millisecond),
		// franz-go v1.22.3 races (the race detector's report) between
		// killing a fetch session on Close and a fetch being built, and the
		// workload closes clients mid-fetch on purpose (crash). Strom's
		// fetch sessions are tested in tools/compat and tools/broker.
		kgo.DisableFetchSessions(),
	}
}

func (w *Workload) producerOpts() []kgo.Opt {
	return []kgo.Opt{
		kgo.DefaultProduceTopic(w.cfg.Topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RequiredAcks(kgo.AllISRAcks()), // and idempotent: franz-go's default
		kgo.ProducerLinger(0),
		kgo.RecordDeliveryTimeout(w.cfg.SendTimeout),
	}
}

// Run runs the workers until ctx is done.
func (w *Workload) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for i := range w.cfg.Assigners {
		rng := rand.New(rand.NewPCG(w.cfg.Seed, uint64(i)))
		wg.Go(func() { w.assigner(ctx, rng) })
	}
	for i := range w.cfg.Subscribers {
		rng := rand.New(rand.NewPCG(w.cfg.Seed, uint64(1000+i)))
		wg.Go(func() { w.subscriber(ctx, rng) })
	}
	wg.Wait()
}

// send sends one unique value to a random key.
func (w *Workload) send(ctx context.Context, cl *kgo.Client, p int, rng *rand.Rand) {
	k := rng.Int32N(w.cfg.Keys)
	v := w.values.Add(1)
	w.rec.Add(checker.Op{Process: p, Type: checker.Invoke, F: checker.FSend, Sends: []checker.Send{{Key: k, Value: v}}})
	sctx, cancel := context.WithTimeout(ctx, w.cfg.SendTimeout)
	res := cl.ProduceSync(sctx, &kgo.Record{Partition: k, Value: fmt.Appendf(nil, "%d", v)})
	cancel()
	r, err := res.First()
	if err != nil {
		// Not answered, or refused after retries: it may still be stored
		// (an earlier attempt may have landed), so the outcome is unknown.
		w.rec.Add(checker.Op{Process: p, Type: checker.Info, F: checker.FSend, Sends: []checker.Send{{Key: k, Value: v}}, Error: err.Error()})
		return
	}
	op := checker.Op{Process: p, Type: checker.OK, F: checker.FSend, Sends: []checker.Send{{Key: k, Value: v, Offset: checker.Offset(r.Offset)}}}
	if r.ProducerID >= 0 {
		op.Producer = &checker.ProducerID{ID: r.ProducerID, Epoch: r.ProducerEpoch}
	}
	w.rec.Add(op)
}

// poll polls once and records what came back (records of keys no longer
// assigned included: the client returned them).
func (w *Workload) poll(ctx context.Context, cl *kgo.Client, p int, final bool) []checker.Read {
	w.rec.Add(checker.Op{Process: p, Type: checker.Invoke, F: checker.FPoll, Final: final})
	pctx, cancel := context.WithTimeout(ctx, w.cfg.PollTimeout)
	fs := cl.PollRecords(pctx, 1000)
	cancel()
	reads := readsOf(fs)
	w.rec.Add(checker.Op{Process: p, Type: checker.OK, F: checker.FPoll, Final: final, Reads: reads})
	return reads
}

func readsOf(fs kgo.Fetches) []checker.Read {
	var reads []checker.Read
	fs.EachRecord(func(r *kgo.Record) {
		var v int64
		if _, err := fmt.Sscan(string(r.Value), &v); err != nil {
			v = -1 // not a value of ours: the checker reports it (unwritten-read)
		}
		reads = append(reads, checker.Read{Key: r.Partition, Offset: r.Offset, Value: v})
	})
	return reads
}

// assigner is a worker in assign mode. Its position per key survives a
// crash and a re-assign (as a committed offset would): a newly assigned
// key starts after the last offset the worker read of it, or at the start.
func (w *Workload) assigner(ctx context.Context, rng *rand.Rand) {
	next := map[int32]int64{} // key -> next offset to read
	for ctx.Err() == nil {
		p := w.newProcess()
		keys := w.randomKeys(rng)
		w.rec.Add(checker.Op{Process: p, Type: checker.Invoke, F: checker.FAssign, Keys: keys})
		cl, err := kgo.NewClient(append(append(w.baseOpts(), w.producerOpts()...),
			kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{w.cfg.Topic: w.offsets(keys, next)}))...)
		if err != nil {
			w.rec.Add(checker.Op{Process: p, Type: checker.Fail, F: checker.FAssign, Keys: keys, Error: err.Error()})
			return
		}
		w.rec.Add(checker.Op{Process: p, Type: checker.OK, F: checker.FAssign, Keys: keys})
		w.assignerOps(ctx, cl, p, keys, next, rng)
		w.crash(cl, p)
	}
}

// assignerOps runs one assign-mode process's operations until ctx ends or
// it draws a crash.
func (w *Workload) assignerOps(ctx context.Context, cl *kgo.Client, p int, keys []int32, next map[int32]int64, rng *rand.Rand) {
	for ctx.Err() == nil {
		switch x := rng.IntN(100); {
		case x < 50:
			w.send(ctx, cl, p, rng)
		case x < 95:
			for _, r := range w.poll(ctx, cl, p, false) {
				if slices.Contains(keys, r.Key) {
					next[r.Key] = max(next[r.Key], r.Offset+1)
				}
			}
		case x < 99:
			keys = w.reassign(cl, p, keys, next, rng)
		default:
			return
		}
	}
}

// crash tears a process's client down (Jepsen's :crash, always info).
func (w *Workload) crash(cl *kgo.Client, p int) {
	w.rec.Add(checker.Op{Process: p, Type: checker.Invoke, F: checker.FCrash})
	cl.Close()
	w.rec.Add(checker.Op{Process: p, Type: checker.Info, F: checker.FCrash})
}

// randomKeys is a random non-empty subset of the keys, sorted.
func (w *Workload) randomKeys(rng *rand.Rand) []int32 {
	var keys []int32
	for k := range w.cfg.Keys {
		if rng.IntN(2) == 0 {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		keys = append(keys, rng.Int32N(w.cfg.Keys))
	}
	return keys
}

func (w *Workload) offsets(keys []int32, next map[int32]int64) map[int32]kgo.Offset {
	m := map[int32]kgo.Offset{}
	for _, k := range keys {
		if o, ok := next[k]; ok {
			m[k] = kgo.NewOffset().At(o)
		} else {
			m[k] = kgo.NewOffset().AtStart()
		}
	}
	return m
}

// reassign replaces the assigned keys: keys kept keep their position.
func (w *Workload) reassign(cl *kgo.Client, p int, old []int32, next map[int32]int64, rng *rand.Rand) []int32 {
	keys := w.randomKeys(rng)
	w.rec.Add(checker.Op{Process: p, Type: checker.Invoke, F: checker.FAssign, Keys: keys})
	var drop, add []int32
	for _, k := range old {
		if !slices.Contains(keys, k) {
			drop = append(drop, k)
		}
	}
	for _, k := range keys {
		if !slices.Contains(old, k) {
			add = append(add, k)
		}
	}
	cl.RemoveConsumePartitions(map[string][]int32{w.cfg.Topic: drop})
	cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{w.cfg.Topic: w.offsets(add, next)})
	w.rec.Add(checker.Op{Process: p, Type: checker.OK, F: checker.FAssign, Keys: keys})
	return keys
}

// subscriber is a worker in the consumer group: it sends too, and commits
// after each poll (a poll whose commit fails completes as info).
func (w *Workload) subscriber(ctx context.Context, rng *rand.Rand) {
	all := make([]int32, w.cfg.Keys)
	for k := range all {
		all[k] = int32(k)
	}
	for ctx.Err() == nil {
		p := w.newProcess()
		var mu sync.Mutex
		var rebalanced []int32
		note := func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			mu.Lock()
			defer mu.Unlock()
			rebalanced = append(rebalanced, m[w.cfg.Topic]...)
		}
		w.rec.Add(checker.Op{Process: p, Type: checker.Invoke, F: checker.FSubscribe, Keys: all})
		cl, err := kgo.NewClient(append(append(w.baseOpts(), w.producerOpts()...),
			kgo.ConsumerGroup(w.cfg.Group), kgo.ConsumeTopics(w.cfg.Topic), kgo.DisableAutoCommit(),
			kgo.SessionTimeout(6*time.Second), kgo.HeartbeatInterval(time.Second), kgo.RebalanceTimeout(10*time.Second),
			kgo.OnPartitionsAssigned(note), kgo.OnPartitionsRevoked(note), kgo.OnPartitionsLost(note))...)
		if err != nil {
			w.rec.Add(checker.Op{Process: p, Type: checker.Fail, F: checker.FSubscribe, Keys: all, Error: err.Error()})
			return
		}
		w.rec.Add(checker.Op{Process: p, Type: checker.OK, F: checker.FSubscribe, Keys: all})
		for ctx.Err() == nil && rng.IntN(200) != 0 {
			if rng.IntN(2) == 0 {
				w.send(ctx, cl, p, rng)
				continue
			}
			mu.Lock()
			rebalanced = nil
			mu.Unlock()
			w.rec.Add(checker.Op{Process: p, Type: checker.Invoke, F: checker.FPoll})
			pctx, cancel := context.WithTimeout(ctx, w.cfg.PollTimeout)
			fs := cl.PollRecords(pctx, 1000)
			cancel()
			reads := readsOf(fs)
			cctx, cancel := context.WithTimeout(ctx, w.cfg.SendTimeout)
			err := cl.CommitUncommittedOffsets(cctx)
			cancel()
			mu.Lock()
			op := checker.Op{Process: p, Type: checker.OK, F: checker.FPoll, Reads: reads, Rebalanced: slices.Clone(rebalanced)}
			mu.Unlock()
			if err != nil {
				op.Type, op.Error = checker.Info, err.Error()
			}
			w.rec.Add(op)
		}
		w.crash(cl, p)
	}
}

// ErrFinalReadsIncomplete: the final reads did not reach every offset the
// run saw before their deadline.
var ErrFinalReadsIncomplete = errors.New("workload: final reads incomplete")

// FinalReads is the final phase: a fresh process assigns every key from
// the start and polls until it has read, for every key, past the highest
// offset the history saw and the end offset the cluster reports, or ctx
// ends (ErrFinalReadsIncomplete, naming the keys short of their target).
func (w *Workload) FinalReads(ctx context.Context) error {
	target := map[int32]int64{} // key -> offset to reach (exclusive)
	for _, op := range w.rec.Ops() {
		for _, s := range op.Sends {
			if s.Offset != nil {
				target[s.Key] = max(target[s.Key], *s.Offset+1)
			}
		}
		for _, r := range op.Reads {
			target[r.Key] = max(target[r.Key], r.Offset+1)
		}
	}
	all := make([]int32, w.cfg.Keys)
	from := map[int32]kgo.Offset{}
	for k := range all {
		all[k] = int32(k)
		from[int32(k)] = kgo.NewOffset().AtStart()
	}
	p := w.newProcess()
	w.rec.Add(checker.Op{Process: p, Type: checker.Invoke, F: checker.FAssign, Keys: all, Final: true})
	cl, err := kgo.NewClient(append(w.baseOpts(), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{w.cfg.Topic: from}))...)
	if err != nil {
		return fmt.Errorf("workload: final reads: %w", err)
	}
	defer cl.Close()
	w.rec.Add(checker.Op{Process: p, Type: checker.OK, F: checker.FAssign, Keys: all, Final: true})
	ends, err := w.endOffsets(ctx, cl)
	if err != nil {
		return err
	}
	for k, e := range ends {
		target[k] = max(target[k], e)
	}
	read := map[int32]int64{}
	short := func() []string {
		var out []string
		for _, k := range all {
			if read[k] < target[k] {
				out = append(out, fmt.Sprintf("key %d at %d of %d", k, read[k], target[k]))
			}
		}
		return out
	}
	for len(short()) > 0 {
		if ctx.Err() != nil {
			return fmt.Errorf("%w: %v", ErrFinalReadsIncomplete, short())
		}
		for _, r := range w.poll(ctx, cl, p, true) {
			read[r.Key] = max(read[r.Key], r.Offset+1)
		}
	}
	return nil
}

// endOffsets lists every key's end offset, retrying until ctx ends.
func (w *Workload) endOffsets(ctx context.Context, cl *kgo.Client) (map[int32]int64, error) {
	adm := kadm.NewClient(cl)
	for {
		lo, err := adm.ListEndOffsets(ctx, w.cfg.Topic)
		if err == nil {
			err = lo.Error()
		}
		if err == nil {
			out := map[int32]int64{}
			lo.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
			return out, nil
		}
		w.cfg.Logf("final reads: list end offsets: %v", err)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("workload: final reads: end offsets: %w", err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
