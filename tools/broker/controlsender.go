package broker

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/strom-broker/strom/coord/controller"
	"github.com/strom-broker/strom/coord/store"
	"github.com/strom-broker/strom/net/client"
)

// controlSender delivers the controller's requests (controller.Sender).
// Requests to this broker are applied at once, in the controller's
// goroutine, so a controller operation's effects are local when it
// returns. Requests to another broker go through that broker's queue: one
// goroutine per target sends them in order over the target's inter-broker
// listener, retrying a failed delivery with backoff until it succeeds, the
// target is no longer registered with the same epoch, or the broker shuts
// down (Kafka's RequestSendThread). A request the target refuses (stale
// epochs) is not retried.
type controlSender struct {
	b *Broker

	mu     sync.Mutex
	queues map[int32]*controlQueue
}

// controlQueue is the pending requests to one incarnation of a broker.
type controlQueue struct {
	to    store.BrokerInfo
	mu    sync.Mutex
	reqs  []any
	wake  chan struct{} // 1-buffered: requests were added
	done  chan struct{} // closed when the queue is abandoned
	once  sync.Once
	retry time.Duration
}

func newControlSender(b *Broker) *controlSender {
	return &controlSender{b: b, queues: map[int32]*controlQueue{}}
}

var _ controller.Sender = (*controlSender)(nil)

// Send implements controller.Sender.
func (s *controlSender) Send(to store.BrokerInfo, req any) {
	if to.ID == s.b.cfg.BrokerID {
		if _, err := s.b.applyControl(s.b.ctx, req); err != nil {
			s.b.log.Warn("local control request refused", "err", err)
		}
		return
	}
	s.mu.Lock()
	q := s.queues[to.ID]
	if q != nil && q.to.Epoch != to.Epoch {
		q.abandon() // a new incarnation of the broker
		q = nil
	}
	if q == nil {
		q = &controlQueue{to: to.Clone(), wake: make(chan struct{}, 1), done: make(chan struct{})}
		s.queues[to.ID] = q
		s.b.bg.Add(1)
		go func() {
			defer s.b.bg.Done()
			s.run(q)
		}()
	}
	s.mu.Unlock()
	q.mu.Lock()
	q.reqs = append(q.reqs, req)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *controlQueue) abandon() { q.once.Do(func() { close(q.done) }) }

// run delivers q's requests in order until q is abandoned or the broker
// stops.
func (s *controlSender) run(q *controlQueue) {
	defer func() {
		s.mu.Lock()
		if s.queues[q.to.ID] == q {
			delete(s.queues, q.to.ID)
		}
		s.mu.Unlock()
	}()
	var c *client.Client
	defer func() {
		if c != nil {
			c.Close()
		}
	}()
	for {
		q.mu.Lock()
		var next any
		if len(q.reqs) > 0 {
			next = q.reqs[0]
		}
		q.mu.Unlock()
		if next == nil {
			select {
			case <-q.wake:
				continue
			case <-q.done:
				return
			case <-s.b.ctx.Done():
				return
			}
		}
		err := s.deliver(&c, q.to, next)
		if err == nil || errors.Is(err, errRefused) {
			if err != nil {
				s.b.log.Warn("control request refused", "broker", q.to.ID, "err", err)
			}
			q.mu.Lock()
			q.reqs = q.reqs[1:]
			q.mu.Unlock()
			q.retry = 0
			continue
		}
		if c != nil {
			c.Close()
			c = nil
		}
		if !s.stillRegistered(q.to) {
			return
		}
		q.retry = min(max(2*q.retry, 50*time.Millisecond), time.Second)
		select {
		case <-time.After(q.retry):
		case <-q.done:
			return
		case <-s.b.ctx.Done():
			return
		}
	}
}

// errRefused marks a delivery the target answered with an error: resending
// the same request cannot succeed.
var errRefused = errors.New("refused")

// deliver sends req to the target over *c, dialing it first if needed.
func (s *controlSender) deliver(c **client.Client, to store.BrokerInfo, req any) error {
	ctx, cancel := context.WithTimeout(s.b.ctx, 30*time.Second)
	defer cancel()
	if *c == nil {
		addr, err := s.interBrokerAddr(to)
		if err != nil {
			return fmt.Errorf("%w: %w", errRefused, err)
		}
		if *c, err = client.Dial(ctx, addr, "strom-controller-"+strconv.Itoa(int(s.b.cfg.BrokerID))); err != nil {
			return err
		}
	}
	resp, err := (*c).Request(ctx, controlToWire(req))
	if err != nil {
		return err
	}
	if err := controlResponseError(resp); err != nil {
		return fmt.Errorf("%w: %w", errRefused, err)
	}
	return nil
}

// interBrokerAddr is the target's endpoint on the inter-broker listener.
func (s *controlSender) interBrokerAddr(to store.BrokerInfo) (string, error) {
	if addr, ok := s.b.interBrokerAddr(to); ok {
		return addr, nil
	}
	return "", fmt.Errorf("broker %d has no inter-broker listener", to.ID)
}

// stillRegistered reports whether the target is registered with the epoch
// its queue was made for (a store error counts as yes: keep trying).
func (s *controlSender) stillRegistered(to store.BrokerInfo) bool {
	cur, err := s.b.store.Broker(s.b.ctx, to.ID)
	if errors.Is(err, store.ErrUnknownBroker) {
		return false
	}
	return err != nil || cur.Epoch == to.Epoch
}
