package sim

import (
	"slices"
	"time"

	"github.com/strom-broker/strom/replication"
)

// This file is one simulated broker as a deterministic state machine in
// etcd raft's shape: the driver sets the time, calls Step with each
// message delivered to it and Tick at every tick, and takes what it wants
// sent from Ready; it never reads a clock, starts a goroutine or touches a
// file. Its ZooKeeper calls go through a zkConn (atomic, as ZooKeeper's).
// Every decision is the broker's own code: replication's rules (rules.go:
// lag rule, ISR shrink/expand, HW over the maximal ISR, min.insync
// checks; truncation.go: TruncationPoint, OutOfRangeRestart), the epoch
// cache's answers (engine/epoch) and the controller's rules
// (coord/election: Initial, Next, CheckISRChange). What is the
// simulator's own is the plumbing the real broker does with goroutines
// and sockets (fetcher loop, request timeouts, the controller's send
// queue), written to do what those do.
//
// Invariants of a Broker (checked by the simulator's checker):
// hw <= log end; as leader, hw never moves back within one leader epoch;
// leaderEpoch never decreases while the process lives; the leader is in
// its own ISR; at most one ISR change is in flight.

// waiter is an acks=all produce waiting for the high watermark.
type waiter struct {
	offset   int64
	client   int32
	reqID    int64
	deadline time.Time
}

// parkedFetch is a follower fetch with nothing to return yet (long poll).
type parkedFetch struct {
	m        Msg
	deadline time.Time
}

// controllerState is a broker's state while it is the controller.
type controllerState struct {
	epoch int32
	known map[int32]int64 // live brokers (id -> broker epoch) at the last look; nil after a fail-over
	// acked: broker -> the leader epoch it acknowledged (for its current
	// broker epoch); LeaderAndIsr is resent until it is acknowledged, as
	// Kafka's controller channel retries a live broker.
	acked    map[int32][2]int64
	lastSent map[int32]sentState
}

// Broker is one simulated broker with its replica of the partition.
type Broker struct {
	id    int32
	cfg   *Config
	now   time.Time
	log   *memLog // the partition log: survives a process crash
	hwCkp int64   // replication-offset-checkpoint (fsynced when written)
	zk    *zkConn
	trace func(format string, args ...any)
	out   []Msg
	reqID int64

	started             bool // registered once since the process started: serves requests
	brokerEpoch         int64
	controllerEpochSeen int32
	nextFlush, nextCkp  time.Time

	hasRole        bool
	leader         int32
	leaderEpoch    int32
	partitionEpoch int32
	replicas       []int32
	hw             int64

	// Leader state (Partition's).
	isr        []int32
	pending    *replication.ISRChange
	retryAfter time.Time
	followers  map[int32]*replication.FollowerProgress
	epochStart int64
	waiters    []waiter
	parked     []parkedFetch
	nextShrink time.Time
	alterReq   int64
	alterUntil time.Time

	// Follower state (the fetcher's).
	truncating   bool
	inflight     int64
	inflightTill time.Time
	backoffUntil time.Time

	ctl *controllerState
	// knownController is the controller last seen (the metadata cache's),
	// used while ZooKeeper is out of reach.
	knownController int32
}

// farFuture is a deadline that never comes.
var farFuture = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

func newBroker(id int32, cfg *Config, log *memLog, hwCkp int64, zk *zkConn, trace func(string, ...any)) *Broker {
	return &Broker{id: id, cfg: cfg, log: log, hwCkp: hwCkp, zk: zk, trace: trace, leader: -1, knownController: -1,
		hw: min(hwCkp, log.leo())}
}

// Ready returns the messages to send and forgets them.
func (b *Broker) Ready() []Msg {
	out := b.out
	b.out = nil
	return out
}

func (b *Broker) send(m Msg) {
	m.From = b.id
	b.out = append(b.out, m)
}

func (b *Broker) isLeader() bool { return b.hasRole && b.leader == b.id }

func (b *Broker) maximalISR() []int32 { return replication.MaximalISR(b.isr, b.pending) }

func (b *Broker) progress(r int32) (replication.FollowerProgress, bool) {
	f, ok := b.followers[r]
	if !ok {
		return replication.FollowerProgress{}, false
	}
	return *f, true
}

// Tick runs the broker's timers at time now.
func (b *Broker) Tick(now time.Time) {
	b.now = now
	b.tickSession()
	if !b.started {
		return
	}
	if !now.Before(b.nextFlush) {
		b.log.synced = len(b.log.records)
		b.nextFlush = now.Add(b.cfg.FlushInterval)
	}
	if !now.Before(b.nextCkp) {
		b.hwCkp = b.hw
		b.nextCkp = now.Add(b.cfg.CheckpointInterval)
	}
	b.tickController()
	if b.isLeader() {
		b.tickLeader()
	} else {
		b.pumpFollower()
	}
}

// tickSession keeps the ZooKeeper session: registers at start and after
// an expiry (a new broker epoch), heartbeats otherwise.
func (b *Broker) tickSession() {
	err := b.zk.touch()
	if err == errDisconnected {
		return
	}
	if err == errSessionExpired {
		if b.zk.connect() != nil {
			return
		}
		if b.started {
			b.tracef("session expired; new session")
		}
	}
	epoch, err := b.zk.register(b.id)
	if err != nil {
		return
	}
	if epoch != b.brokerEpoch {
		b.brokerEpoch = epoch
		if !b.started {
			b.started = true
			b.tracef("registered")
		}
	}
}

// Step handles one message delivered at time now.
func (b *Broker) Step(now time.Time, m Msg) {
	b.now = now
	if !b.started {
		return // not serving before registration, as Kafka's broker
	}
	switch m.Kind {
	case LeaderAndIsr:
		b.onLeaderAndIsr(m)
	case LeaderAndIsrResp:
		if b.ctl != nil {
			b.ctl.acked[m.From] = [2]int64{int64(m.LeaderEpoch), m.BrokerEpoch}
		}
	case Produce:
		b.onProduce(m)
	case Fetch:
		b.onFetch(m)
	case EpochReq:
		b.onEpochReq(m)
	case FetchResp:
		b.onFetchResp(m)
	case EpochResp:
		b.onEpochResp(m)
	case AlterPartition:
		b.onAlterPartition(m)
	case AlterPartitionResp:
		b.onAlterPartitionResp(m)
	}
}

// onLeaderAndIsr applies the controller's decision, fenced by controller
// epoch and broker epoch; only a newer leader epoch changes the role.
func (b *Broker) onLeaderAndIsr(m Msg) {
	if m.ControllerEpoch < b.controllerEpochSeen || m.BrokerEpoch != b.brokerEpoch {
		return
	}
	b.controllerEpochSeen = m.ControllerEpoch
	st := m.State
	if !b.hasRole || st.LeaderEpoch > b.leaderEpoch {
		if st.Leader == b.id {
			b.makeLeader(st, m.Replicas)
		} else {
			b.makeFollower(st, m.Replicas)
		}
	}
	b.send(Msg{To: m.From, Kind: LeaderAndIsrResp, LeaderEpoch: st.LeaderEpoch, BrokerEpoch: b.brokerEpoch})
}

// makeLeader is Partition.MakeLeader.
func (b *Broker) makeLeader(st PartitionState, replicas []int32) {
	b.log.assignEpoch(st.LeaderEpoch)
	b.hasRole, b.leader, b.leaderEpoch, b.partitionEpoch = true, b.id, st.LeaderEpoch, st.Version
	b.replicas = slices.Clone(replicas)
	b.isr = slices.Clone(st.ISR)
	if !slices.Contains(b.isr, b.id) {
		b.isr = append(b.isr, b.id)
	}
	b.pending, b.retryAfter = nil, time.Time{}
	b.epochStart = b.log.leo()
	b.followers = map[int32]*replication.FollowerProgress{}
	for _, r := range replicas {
		if r != b.id {
			f := replication.NewFollowerProgress(b.hw, slices.Contains(b.isr, r), b.now)
			b.followers[r] = &f
		}
	}
	b.truncating, b.inflight = false, 0
	b.nextShrink = b.now.Add(b.cfg.MaxLag / 2)
	b.tracef("leader in epoch %d, isr %v, log end %d, hw %d", st.LeaderEpoch, b.isr, b.log.leo(), b.hw)
	b.advanceHW()
}

// makeFollower is Partition.MakeFollower plus the fetcher taking the
// partition in the truncating state.
func (b *Broker) makeFollower(st PartitionState, replicas []int32) {
	b.failWaiters(NotLeaderOrFollower)
	for _, p := range b.parked {
		b.send(Msg{To: p.m.From, Kind: FetchResp, ReqID: p.m.ReqID, Err: NotLeaderOrFollower, LeaderEpoch: p.m.LeaderEpoch})
	}
	b.parked = nil
	b.hasRole, b.leader, b.leaderEpoch, b.partitionEpoch = true, st.Leader, st.LeaderEpoch, st.Version
	b.replicas = slices.Clone(replicas)
	b.isr, b.pending, b.followers = nil, nil, nil
	b.inflight = 0
	if st.Leader < 0 {
		b.tracef("no leader in epoch %d", st.LeaderEpoch)
		return
	}
	if b.cfg.Broken.TruncateToHW {
		// The broken variant: pre-KIP-101 Kafka, truncate to the local
		// high watermark on becoming follower.
		if b.hw < b.log.leo() {
			b.tracef("follower of %d in epoch %d; truncated %d -> %d (to the high watermark)", st.Leader, st.LeaderEpoch, b.log.leo(), b.hw)
			b.log.truncateTo(b.hw)
		} else {
			b.tracef("follower of %d in epoch %d", st.Leader, st.LeaderEpoch)
		}
		b.truncating = false
	} else {
		b.tracef("follower of %d in epoch %d", st.Leader, st.LeaderEpoch)
		b.truncating = true
	}
	b.pumpFollower()
}

// failWaiters answers every waiting acks=all produce with err.
func (b *Broker) failWaiters(err Err) {
	for _, w := range b.waiters {
		b.send(Msg{To: w.client, Kind: ProduceResp, ReqID: w.reqID, Err: err})
	}
	b.waiters = nil
}

// onProduce is Partition.Append plus the acks handling.
func (b *Broker) onProduce(m Msg) {
	reply := Msg{To: m.From, Kind: ProduceResp, ReqID: m.ReqID, LeaderEpoch: b.leaderEpoch}
	if !b.isLeader() {
		reply.Err = NotLeaderOrFollower
		b.send(reply)
		return
	}
	if err := replication.CheckBeforeAppend(m.Acks, len(b.isr), b.cfg.MinISR); err != nil {
		reply.Err = NotEnoughReplicas
		b.send(reply)
		return
	}
	offset := b.log.leo()
	b.log.append(Record{Epoch: b.leaderEpoch, Value: m.Value})
	reply.Offset = offset
	if m.Acks == replication.AcksAll && !b.cfg.Broken.AckBeforeISR {
		timeout := b.cfg.AckTimeout
		if timeout == 0 {
			timeout = b.cfg.RequestTimeout
		}
		b.waiters = append(b.waiters, waiter{offset: offset, client: m.From, reqID: m.ReqID, deadline: b.now.Add(timeout)})
	} else {
		b.send(reply)
	}
	b.advanceHW()
	b.answerParked(false)
}

// advanceHW is Partition.maybeAdvanceHWLocked: the high watermark over
// the maximal ISR, never moving back; committed acks=all produces are
// answered.
func (b *Broker) advanceHW() {
	if !b.isLeader() {
		return
	}
	if hw := replication.HighWatermark(b.log.leo(), b.maximalISR(), b.progress); hw > b.hw {
		b.hw = hw
	}
	kept := b.waiters[:0]
	for _, w := range b.waiters {
		if b.hw <= w.offset {
			kept = append(kept, w)
			continue
		}
		reply := Msg{To: w.client, Kind: ProduceResp, ReqID: w.reqID, Offset: w.offset, LeaderEpoch: b.leaderEpoch}
		if replication.CheckAfterCommit(len(b.maximalISR()), b.cfg.MinISR) != nil {
			reply.Err = NotEnoughReplicasAfterAppend
		}
		b.send(reply)
	}
	b.waiters = kept
}

// checkEpoch validates a request's current leader epoch as the leader.
func (b *Broker) checkEpoch(e int32) Err {
	switch {
	case !b.isLeader():
		return NotLeaderOrFollower
	case e < b.leaderEpoch:
		return FencedLeaderEpoch
	case e > b.leaderEpoch:
		return UnknownLeaderEpoch
	}
	return None
}

// onFetch is Partition.FollowerFetch: record the follower's progress,
// maybe propose an expansion, advance the HW, answer or park.
func (b *Broker) onFetch(m Msg) {
	if e := b.checkEpoch(m.LeaderEpoch); e != None {
		b.send(Msg{To: m.From, Kind: FetchResp, ReqID: m.ReqID, Err: e, LeaderEpoch: m.LeaderEpoch})
		return
	}
	f, ok := b.followers[m.From]
	if !ok {
		b.send(Msg{To: m.From, Kind: FetchResp, ReqID: m.ReqID, Err: NotLeaderOrFollower, LeaderEpoch: m.LeaderEpoch})
		return
	}
	leo := b.log.leo()
	if m.FetchOffset > leo || m.FetchOffset < 0 {
		b.send(Msg{To: m.From, Kind: FetchResp, ReqID: m.ReqID, Err: OffsetOutOfRange, LeaderEpoch: m.LeaderEpoch, LogEnd: leo})
		return
	}
	f.RecordFetch(m.FetchOffset, leo, b.now)
	if !slices.Contains(b.maximalISR(), m.From) && replication.MayJoinISR(m.FetchOffset, b.hw, b.epochStart) {
		b.propose(append(slices.Clone(b.isr), m.From))
	}
	b.advanceHW()
	if m.FetchOffset == leo {
		b.parked = append(b.parked, parkedFetch{m: m, deadline: b.now.Add(b.cfg.FetchWait)})
		return
	}
	b.answerFetch(m)
}

// answerFetch sends the records from the fetch offset and the HW.
func (b *Broker) answerFetch(m Msg) {
	end := min(b.log.leo(), m.FetchOffset+int64(b.cfg.MaxFetchRecords))
	recs := slices.Clone(b.log.records[m.FetchOffset:end])
	b.send(Msg{To: m.From, Kind: FetchResp, ReqID: m.ReqID, LeaderEpoch: m.LeaderEpoch, FetchOffset: m.FetchOffset,
		Records: recs, HW: b.hw, LogEnd: b.log.leo()})
}

// answerParked answers parked fetches that have data (or all that expired
// with expiredOnly).
func (b *Broker) answerParked(expiredOnly bool) {
	kept := b.parked[:0]
	for _, p := range b.parked {
		if p.m.FetchOffset < b.log.leo() || !b.now.Before(p.deadline) {
			if expiredOnly && b.now.Before(p.deadline) {
				kept = append(kept, p)
				continue
			}
			b.answerFetch(p.m)
			continue
		}
		kept = append(kept, p)
	}
	b.parked = kept
}

// onEpochReq answers OffsetForLeaderEpoch from the leader's epoch cache.
func (b *Broker) onEpochReq(m Msg) {
	reply := Msg{To: m.From, Kind: EpochResp, ReqID: m.ReqID, LeaderEpoch: m.LeaderEpoch}
	if reply.Err = b.checkEpoch(m.LeaderEpoch); reply.Err == None {
		reply.EndEpoch, reply.EndOffset = b.log.endOffsetFor(m.AskEpoch)
	}
	b.send(reply)
}

// propose makes isr the pending ISR change (replication.MayPropose) and
// sends it to the controller.
func (b *Broker) propose(isr []int32) {
	if !replication.MayPropose(b.pending, b.now, b.retryAfter) {
		return
	}
	b.pending = &replication.ISRChange{LeaderEpoch: b.leaderEpoch, PartitionEpoch: b.partitionEpoch, ISR: isr}
	b.tracef("proposes isr %v", isr)
	b.alterReq, b.alterUntil = 0, time.Time{}
	b.sendAlter()
}

// sendAlter sends the pending change to the controller ZooKeeper names.
// As the broker's isrSender, a request that fails as a whole (no
// controller, lost, NOT_CONTROLLER, STALE_BROKER_EPOCH) is sent again
// while the change is pending; the controller answers a change it already
// stored with success.
func (b *Broker) sendAlter() {
	ctl, _, err := b.zk.controller()
	if err != nil {
		ctl = b.knownController // cut off from ZooKeeper: the metadata cache's
	}
	if ctl < 0 {
		b.alterReq, b.alterUntil = 0, b.now.Add(b.cfg.ISRRetryBackoff)
		return
	}
	b.knownController = ctl
	b.reqID++
	b.alterReq, b.alterUntil = b.reqID, b.now.Add(b.cfg.RequestTimeout)
	b.send(Msg{To: ctl, Kind: AlterPartition, ReqID: b.reqID, LeaderEpoch: b.pending.LeaderEpoch,
		PartitionEpoch: b.pending.PartitionEpoch, ISR: slices.Clone(b.pending.ISR), BrokerEpoch: b.brokerEpoch})
}

// completeISR is Partition.CompleteISRChange for the pending change.
func (b *Broker) completeISR(ok bool, isr []int32, partitionEpoch int32) {
	b.pending, b.alterReq = nil, 0
	if !ok {
		b.retryAfter = b.now.Add(b.cfg.ISRRetryBackoff)
		b.advanceHW()
		return
	}
	b.isr = slices.Clone(isr)
	if !slices.Contains(b.isr, b.id) {
		b.isr = append(b.isr, b.id)
	}
	b.partitionEpoch = partitionEpoch
	b.tracef("isr %v (partition epoch %d)", b.isr, partitionEpoch)
	b.advanceHW()
}

func (b *Broker) onAlterPartitionResp(m Msg) {
	if !b.isLeader() || b.pending == nil || m.ReqID != b.alterReq || m.LeaderEpoch != b.leaderEpoch {
		return
	}
	switch {
	case m.Err == None:
		b.completeISR(true, m.ISR, m.PartitionEpoch)
	case replication.RefusalResetsISR(m.Err.kafka()):
		// Refused without being applied: back to the committed ISR.
		b.tracef("isr change refused: %s", m.Err)
		b.completeISR(false, nil, 0)
	case m.Err == NotLeaderOrFollower || m.Err == FencedLeaderEpoch || m.Err == InvalidUpdateVersion:
		if b.cfg.Broken.ResetISROnRefusal {
			b.tracef("isr change refused: %s", m.Err)
			b.completeISR(false, nil, 0)
			return
		}
		// This leader's state is stale, and an earlier send of this very
		// change may have been stored (a lost answer, a controller
		// change): keep the maximal ISR (Kafka's
		// Partition.handleAlterPartitionError) and wait for the
		// controller's next LeaderAndIsr — or, for NOT_LEADER_OR_FOLLOWER
		// (Kafka's default case), send the change again after a backoff.
		b.tracef("isr change refused: %s; keeping isr %v", m.Err, b.maximalISR())
		b.alterReq, b.alterUntil = 0, farFuture
		if m.Err == NotLeaderOrFollower {
			b.alterUntil = b.now.Add(b.cfg.ISRRetryBackoff)
		}
	default: // the request failed as a whole: send it again after a backoff
		b.alterReq, b.alterUntil = 0, b.now.Add(b.cfg.ISRRetryBackoff)
	}
}

// tickLeader runs the leader's timers: timed-out produces, expired long
// polls, the ISR shrink check every MaxLag/2, an unanswered AlterPartition.
func (b *Broker) tickLeader() {
	kept := b.waiters[:0]
	for _, w := range b.waiters {
		if b.now.Before(w.deadline) {
			kept = append(kept, w)
		} else {
			b.send(Msg{To: w.client, Kind: ProduceResp, ReqID: w.reqID, Err: RequestTimedOut})
		}
	}
	b.waiters = kept
	b.answerParked(true)
	if b.pending != nil && !b.now.Before(b.alterUntil) {
		b.sendAlter() // unanswered, or its backoff passed
	}
	if !b.now.Before(b.nextShrink) {
		b.nextShrink = b.now.Add(b.cfg.MaxLag / 2)
		if b.pending == nil {
			if out := replication.ShrunkISR(b.isr, b.log.leo(), b.now, b.cfg.MaxLag, b.progress); len(out) < len(b.isr) {
				b.propose(out)
			}
		}
	}
}

// pumpFollower sends the follower's next request (OffsetForLeaderEpoch
// while truncating, else Fetch) when none is in flight.
func (b *Broker) pumpFollower() {
	if !b.hasRole || b.leader < 0 || b.leader == b.id || b.now.Before(b.backoffUntil) {
		return
	}
	if b.inflight != 0 && b.now.Before(b.inflightTill) {
		return
	}
	if b.truncating {
		latest, ok := b.log.latestEpoch()
		if !ok {
			b.truncating = false // an empty log has nothing to cut
		} else {
			b.reqID++
			b.inflight, b.inflightTill = b.reqID, b.now.Add(b.cfg.RequestTimeout)
			b.send(Msg{To: b.leader, Kind: EpochReq, ReqID: b.reqID, LeaderEpoch: b.leaderEpoch, AskEpoch: latest})
			return
		}
	}
	b.reqID++
	b.inflight, b.inflightTill = b.reqID, b.now.Add(b.cfg.RequestTimeout+b.cfg.FetchWait)
	b.send(Msg{To: b.leader, Kind: Fetch, ReqID: b.reqID, LeaderEpoch: b.leaderEpoch, FetchOffset: b.log.leo()})
}

// current reports whether a response answers the request in flight of
// this follower's current epoch.
func (b *Broker) current(m Msg) bool {
	return m.ReqID == b.inflight && b.hasRole && b.leader == m.From && b.leader != b.id && m.LeaderEpoch == b.leaderEpoch
}

// backoff delays the next request after an error (replica.fetch.backoff.ms).
func (b *Broker) backoff() {
	b.backoffUntil = b.now.Add(b.cfg.FetchBackoff)
}

// onEpochResp truncates with replication.TruncationPoint, asking again
// while the follower lacks the leader's epoch (KIP-279).
func (b *Broker) onEpochResp(m Msg) {
	if !b.current(m) {
		return
	}
	b.inflight = 0
	if m.Err != None {
		b.backoff()
		return
	}
	leo := b.log.leo()
	offset, done := replication.TruncationPoint(replication.EpochEnd{Epoch: m.EndEpoch, EndOffset: m.EndOffset},
		func(e int32) replication.EpochEnd {
			ep, end := b.log.endOffsetFor(e)
			return replication.EpochEnd{Epoch: ep, EndOffset: end}
		}, leo)
	switch {
	case offset < leo:
		b.tracef("truncated %d -> %d (leader: epoch %d ends at %d)", leo, offset, m.EndEpoch, m.EndOffset)
		b.truncate(offset)
	case !done && !b.cfg.Broken.StopTruncatingAtLogEnd:
		// Nothing to cut, but the follower's latest epoch is one the
		// leader lacks: drop it (an epoch this replica began as leader
		// and appended nothing to) and ask again, as Kafka does.
		b.log.truncateTo(offset)
	}
	if done || b.cfg.Broken.StopTruncatingAtLogEnd && offset >= leo {
		b.truncating = false
	}
	b.pumpFollower()
}

// truncate cuts the log at offset and keeps the HW within it.
func (b *Broker) truncate(offset int64) {
	b.log.truncateTo(offset)
	b.hw = min(b.hw, b.log.leo())
}

// onFetchResp appends what the leader sent and takes its HW, or handles
// the error (OutOfRangeRestart for OFFSET_OUT_OF_RANGE).
func (b *Broker) onFetchResp(m Msg) {
	if !b.current(m) {
		return
	}
	b.inflight = 0
	switch m.Err {
	case None:
		if len(m.Records) > 0 && m.FetchOffset == b.log.leo() {
			b.log.append(m.Records...)
		}
		if hw := min(m.HW, b.log.leo()); hw > b.hw {
			b.hw = hw
		}
	case OffsetOutOfRange:
		offset, truncate, _ := replication.OutOfRangeRestart(b.log.leo(), 0, m.LogEnd)
		if truncate {
			b.tracef("truncated %d -> %d (OFFSET_OUT_OF_RANGE: the leader's log ends there)", b.log.leo(), offset)
			b.truncate(offset)
		}
	default:
		b.backoff()
		return
	}
	b.pumpFollower()
}

func (b *Broker) tracef(format string, args ...any) {
	if b.trace != nil {
		b.trace("b%d: "+format, append([]any{b.id}, args...)...)
	}
}

// liveFunc turns a broker set into the rules' liveness predicate.
func liveFunc(live map[int32]int64) func(int32) bool {
	return func(id int32) bool { _, ok := live[id]; return ok }
}
