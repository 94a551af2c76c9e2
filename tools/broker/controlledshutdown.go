package broker

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/coord/store"
	"github.com/strom-broker/strom/net/client"
	"github.com/strom-broker/strom/net/kerr"
)

// This file is the broker's side of Kafka's controlled shutdown
// (KafkaServer.controlledShutdown): before a cluster broker stops serving
// (SIGTERM, kafka-server-stop.sh, Shutdown) it
//
//  1. resigns as controller if it is one, for good, so that another broker
//     takes over while this one still answers (controller.Retire);
//  2. sends ControlledShutdown (v3: its id and broker epoch) to the
//     controller, which moves its leaderships to other in-sync replicas and
//     takes it out of the ISRs, and answers with the partitions it still
//     leads;
//  3. once the controller says nothing is left, waits (up to the retry
//     backoff) until its own replicas have heard so too: the StopReplica
//     the controller sent wakes the produce requests still waiting here
//     for acks=all, which then answer NOT_LEADER_OR_FOLLOWER with the new
//     leader (KIP-951) instead of timing out while the server drains;
//  4. tries again after controlled.shutdown.retry.backoff.ms while that
//     answer is an error or not empty, controlled.shutdown.max.retries
//     attempts in all, then stops anyway (Kafka: "proceeding to do an
//     unclean shutdown"): the controller handles what is left as a broker
//     failure when the registration goes.
//
// Off with controlled.shutdown.enable=false, in embedded mode, and when no
// other broker is registered (nothing can move; Kafka's last broker would
// retry in vain).

// controlledShutdownTimeout bounds one attempt's request (Kafka's
// controller.socket.timeout.ms default).
const controlledShutdownTimeout = 30 * time.Second

// controlledShutdown runs the steps above; ctx bounds it all. It reports
// whether the controller answered with nothing left to move.
func (b *Broker) controlledShutdown(ctx context.Context) bool {
	if b.cfg.Embedded() || !b.cfg.ControlledShutdownEnable || b.ctrl == nil || b.store == nil {
		return false
	}
	start := time.Now()
	if bs, err := b.store.Brokers(ctx); err == nil && len(bs) == 1 && bs[0].ID == b.cfg.BrokerID {
		b.log.Info("controlled shutdown skipped: no other live broker to move anything to")
		return false
	}
	if err := b.ctrl.Retire(ctx); err != nil {
		b.log.Warn("controlled shutdown: resigning as controller", "err", err)
	}
	backoff := time.Duration(b.cfg.ControlledShutdownRetryBackoffMs) * time.Millisecond
	for attempt := int32(1); attempt <= b.cfg.ControlledShutdownMaxRetries; attempt++ {
		remaining, err := b.askControlledShutdown(ctx, backoff)
		if err == nil && len(remaining) == 0 {
			b.log.Info("controlled shutdown: the controller moved everything; waiting for its requests", "attempt", attempt,
				"after", time.Since(start).Round(time.Millisecond))
			b.awaitHandover(ctx, backoff)
			b.log.Info("controlled shutdown succeeded", "attempts", attempt, "took", time.Since(start).Round(time.Millisecond))
			return true
		}
		if err == nil {
			err = fmt.Errorf("%d partitions still led here (first %s)", len(remaining), remaining[0])
		}
		if attempt == b.cfg.ControlledShutdownMaxRetries {
			b.log.Warn("controlled shutdown failed; retries exhausted, stopping anyway", "attempts", attempt, "err", err)
			break
		}
		b.log.Warn("controlled shutdown not complete; retrying", "attempt", attempt, "in", backoff, "err", err)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			b.log.Warn("controlled shutdown abandoned", "err", ctx.Err())
			return false
		}
	}
	return false
}

// askControlledShutdown sends one ControlledShutdown to the current
// controller (waiting up to wait for one to be elected) and returns the
// partitions it says this broker still leads.
func (b *Broker) askControlledShutdown(ctx context.Context, wait time.Duration) ([]store.TopicPartition, error) {
	ctrl, err := b.awaitController(ctx, wait)
	if err != nil {
		return nil, err
	}
	id, epoch := b.cfg.BrokerID, b.fence.BrokerEpoch()
	if ctrl.ID == id { // resigning failed: answer ourselves
		return b.ctrl.ControlledShutdown(ctx, id, epoch)
	}
	addr, ok := b.interBrokerAddr(ctrl)
	if !ok {
		return nil, fmt.Errorf("controller %d has no inter-broker endpoint", ctrl.ID)
	}
	rctx, cancel := context.WithTimeout(ctx, controlledShutdownTimeout)
	defer cancel()
	c, err := client.Dial(rctx, addr, "strom-controlled-shutdown-"+strconv.Itoa(int(id)))
	if err != nil {
		return nil, err
	}
	defer c.Close()
	req := kmsg.NewPtrControlledShutdownRequest()
	req.SetVersion(3)
	req.BrokerID, req.BrokerEpoch = id, epoch
	r, err := c.RequestVersion(rctx, req)
	if err != nil {
		return nil, err
	}
	resp := r.(*kmsg.ControlledShutdownResponse)
	if err := kerr.ForCode(resp.ErrorCode); err != nil {
		return nil, fmt.Errorf("controller %d: %w", ctrl.ID, err)
	}
	out := make([]store.TopicPartition, 0, len(resp.PartitionsRemaining))
	for _, p := range resp.PartitionsRemaining {
		out = append(out, store.TopicPartition{Topic: p.Topic, Partition: p.Partition})
	}
	return out, nil
}

// awaitController returns the registration of the current controller,
// polling the store for up to wait while there is none (another broker
// takes over after this one resigned).
func (b *Broker) awaitController(ctx context.Context, wait time.Duration) (store.BrokerInfo, error) {
	deadline := time.Now().Add(max(wait, time.Second))
	for {
		cur, err := b.store.Controller(ctx)
		if err == nil {
			return b.store.Broker(ctx, cur.BrokerID)
		}
		if !errors.Is(err, store.ErrNoController) || time.Now().After(deadline) {
			return store.BrokerInfo{}, fmt.Errorf("no controller: %w", err)
		}
		select {
		case <-time.After(20 * time.Millisecond):
		case <-ctx.Done():
			return store.BrokerInfo{}, ctx.Err()
		}
	}
}

// awaitHandover waits until this broker leads no partition of more than
// one replica (the controller's StopReplica requests have arrived), for up
// to wait.
func (b *Broker) awaitHandover(ctx context.Context, wait time.Duration) {
	deadline := time.Now().Add(wait)
	for {
		led := 0
		for _, p := range b.parts.all() {
			if st := p.State(); st.Leader == b.cfg.BrokerID && len(st.Replicas) > 1 {
				led++
			}
		}
		if led == 0 {
			return
		}
		if time.Now().After(deadline) {
			b.log.Warn("controlled shutdown: the controller's requests have not arrived; stopping anyway", "still_leading", led)
			return
		}
		select {
		case <-time.After(10 * time.Millisecond):
		case <-ctx.Done():
			return
		}
	}
}
