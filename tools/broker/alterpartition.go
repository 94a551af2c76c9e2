package broker

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/coord/controller"
	"github.com/strom-broker/strom/coord/store"
	"github.com/strom-broker/strom/net/client"
	"github.com/strom-broker/strom/net/kerr"
	"github.com/strom-broker/strom/replication"
)

// isrSender carries the ISR changes this broker's leaders propose to the
// controller (AlterPartition, KIP-497) and hands the answers back: in
// process when this broker is the controller, else over the network to the
// controller the metadata cache names. One goroutine sends every pending
// change in one request; a failed request (no controller known, a lost
// connection, NOT_CONTROLLER, STALE_BROKER_EPOCH) is retried after a short
// backoff while the change is still pending — a new LeaderAndIsr for the
// partition drops it. A per-partition refusal that says the change was not
// applied (INELIGIBLE_REPLICA, OPERATION_NOT_ATTEMPTED) ends it
// (Partition.CompleteISRChange without ok); any other leaves it pending
// until the controller's next LeaderAndIsr (replication.RefusalResetsISR).
//
// Why AlterPartition rather than the leader writing ZooKeeper: the
// controller stays the only writer of partition states (its writes are
// fenced by the controller epoch), it validates the new ISR against live
// brokers, and it propagates the change with UpdateMetadata as it does its
// own decisions; no isr_change_notification round trip is needed.
type isrSender struct {
	b *Broker

	mu     sync.Mutex
	queued map[*replication.Partition]bool
	wake   chan struct{} // 1-buffered

	conn     *client.Client // to the controller; owned by run
	connAddr string
}

// isrRetryBackoff spaces retries of a failed AlterPartition request,
// doubling up to isrRetryMax while they keep failing (a controller
// fail-over takes a session timeout).
const (
	isrRetryBackoff = 100 * time.Millisecond
	isrRetryMax     = 2 * time.Second
)

func newISRSender(b *Broker) *isrSender {
	return &isrSender{b: b, queued: map[*replication.Partition]bool{}, wake: make(chan struct{}, 1)}
}

// notify is the partitions' ISR listener: p has a new pending change.
func (s *isrSender) notify(p *replication.Partition) {
	s.mu.Lock()
	s.queued[p] = true
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// run sends pending changes until ctx ends.
func (s *isrSender) run(ctx context.Context) {
	defer func() {
		if s.conn != nil {
			s.conn.Close()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		}
		backoff := isrRetryBackoff
		for ctx.Err() == nil {
			s.mu.Lock()
			parts := s.queued
			s.queued = map[*replication.Partition]bool{}
			s.mu.Unlock()
			var ps []*replication.Partition
			var changes []replication.ISRChange
			for p := range parts {
				if c, ok := p.PendingISRChange(); ok {
					ps, changes = append(ps, p), append(changes, c)
				}
			}
			if len(changes) == 0 {
				break
			}
			results, err := s.send(ctx, changes)
			if err != nil {
				if ctx.Err() == nil {
					s.b.log.Warn("ISR change not delivered to the controller; retrying", "partitions", len(changes), "in", backoff, "err", err)
				}
				for _, p := range ps {
					s.notify(p)
				}
				select {
				case <-ctx.Done():
				case <-time.After(backoff):
				}
				backoff = min(2*backoff, isrRetryMax)
				continue
			}
			backoff = isrRetryBackoff
			for i, p := range ps {
				r := results[i]
				if r.Err != nil {
					s.b.log.Warn("ISR change refused by the controller", "partition", p.Topic()+"-"+strconv.Itoa(int(p.Index())),
						"isr", changes[i].ISR, "err", r.Err)
				}
				// Kafka's Partition.handleAlterPartitionError: a refusal
				// that says the change was not applied ends it; one that
				// may answer a resend of a change an earlier send stored
				// leaves it pending (the high watermark keeps counting the
				// larger ISR) until the controller's next LeaderAndIsr
				// replaces it; any other is retried.
				switch {
				case r.Err == nil:
					p.CompleteISRChange(changes[i], true, r.State.ISR, r.State.Version)
				case replication.RefusalResetsISR(r.Err):
					p.CompleteISRChange(changes[i], false, nil, 0)
				case errors.Is(r.Err, kerr.FencedLeaderEpoch), errors.Is(r.Err, kerr.InvalidUpdateVersion),
					errors.Is(r.Err, kerr.UnknownTopicOrPartition):
				default:
					time.AfterFunc(isrRetryMax, func() { s.notify(p) })
				}
			}
		}
	}
}

// send delivers changes to the controller and returns its per-change
// answers, or the request-level error.
func (s *isrSender) send(ctx context.Context, changes []replication.ISRChange) ([]controller.ISRChangeResult, error) {
	b := s.b
	cs := make([]controller.ISRChange, len(changes))
	for i, c := range changes {
		cs[i] = controller.ISRChange{Partition: store.TopicPartition{Topic: c.Topic, Partition: c.Partition},
			LeaderEpoch: c.LeaderEpoch, PartitionEpoch: c.PartitionEpoch, ISR: c.ISR}
	}
	if active, _ := b.ctrl.Active(); active {
		out, err := b.ctrl.AlterPartition(ctx, b.cfg.BrokerID, b.fence.BrokerEpoch(), cs)
		for i := range out {
			// As the answer over the wire would carry them.
			out[i].Err = kerr.ForCode(errorCode(out[i].Err))
		}
		return out, err
	}
	snap := b.meta.Snapshot()
	id, ok := snap.Controller()
	if !ok {
		return nil, errors.New("no controller known")
	}
	var addr string
	for _, info := range snap.Brokers() {
		if info.ID == id {
			addr, ok = b.interBrokerAddr(info)
		}
	}
	if addr == "" || !ok {
		return nil, fmt.Errorf("controller %d has no inter-broker endpoint", id)
	}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if s.conn != nil && s.connAddr != addr {
		s.conn.Close()
		s.conn = nil
	}
	if s.conn == nil {
		c, err := client.Dial(rctx, addr, "strom-alter-partition-"+strconv.Itoa(int(b.cfg.BrokerID)))
		if err != nil {
			return nil, err
		}
		s.conn, s.connAddr = c, addr
	}
	req := kmsg.NewPtrAlterPartitionRequest()
	req.SetVersion(1)
	req.BrokerID, req.BrokerEpoch = b.cfg.BrokerID, b.fence.BrokerEpoch()
	for _, c := range cs {
		rt := kmsg.NewAlterPartitionRequestTopic()
		rt.Topic = c.Partition.Topic
		rp := kmsg.NewAlterPartitionRequestTopicPartition()
		rp.Partition, rp.LeaderEpoch, rp.NewISR, rp.PartitionEpoch = c.Partition.Partition, c.LeaderEpoch, c.ISR, c.PartitionEpoch
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
	}
	r, err := s.conn.RequestVersion(rctx, req)
	if err != nil {
		s.conn.Close()
		s.conn = nil
		return nil, err
	}
	resp := r.(*kmsg.AlterPartitionResponse)
	if err := kerr.ForCode(resp.ErrorCode); err != nil {
		return nil, err
	}
	out := make([]controller.ISRChangeResult, len(cs))
	for i := range out {
		out[i].Err = errors.New("no answer for this partition")
	}
	index := make(map[store.TopicPartition]int, len(cs))
	for i, c := range cs {
		index[c.Partition] = i
	}
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			if i, ok := index[store.TopicPartition{Topic: rt.Topic, Partition: rp.Partition}]; ok {
				out[i] = controller.ISRChangeResult{Err: kerr.ForCode(rp.ErrorCode),
					State: store.PartitionState{Leader: rp.LeaderID, LeaderEpoch: rp.LeaderEpoch, ISR: rp.ISR, Version: rp.PartitionEpoch}}
			}
		}
	}
	return out, nil
}
