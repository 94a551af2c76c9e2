package broker

import (
	"context"
	"time"

	"github.com/strom-broker/strom/coord/group"
	"github.com/strom-broker/strom/coord/store"
)

// This broker's view of the cluster metadata is what Metadata answers from
// (today the metadata store itself; in a cluster, the broker's metadata
// cache). Admin requests that change topics answer only once the change is
// visible in that view, so a client that creates a topic and produces at
// once, or deletes one and lists topics, sees what it just did.

// metadataPollInterval is how often awaitMetadata re-checks the view.
const metadataPollInterval = 10 * time.Millisecond

// awaitMetadata waits until ready holds (true), or timeout passes, ctx ends
// or the broker stops (false). ready is checked at once, so a change
// already visible costs no wait.
func (b *Broker) awaitMetadata(ctx context.Context, timeout time.Duration, ready func() bool) bool {
	if ready() {
		return true
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(metadataPollInterval)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			if ready() {
				return true
			}
		case <-deadline.C:
			return ready()
		case <-ctx.Done():
			return false
		case <-b.stopping:
			return false
		}
	}
}

// syncAndAwait applies a topic change of this broker's (the topics at
// indexes idx of a response) to its replicas, then waits up to timeoutMs
// (not at all when <= 0) until done(i) holds for each, as awaitMetadata.
// It returns the indexes for which done does not hold in time.
func (b *Broker) syncAndAwait(ctx context.Context, what string, timeoutMs int32, idx []int, done func(i int) bool) []int {
	if len(idx) == 0 {
		return nil
	}
	if err := b.parts.sync(ctx); err != nil {
		b.log.Warn(what, "err", err)
	}
	if timeoutMs <= 0 {
		return nil
	}
	b.awaitMetadata(ctx, time.Duration(timeoutMs)*time.Millisecond, func() bool {
		for _, i := range idx {
			if !done(i) {
				return false
			}
		}
		return true
	})
	var late []int
	for _, i := range idx {
		if !done(i) {
			late = append(late, i)
		}
	}
	return late
}

// topicServed reports whether every partition of topic has a leader in
// this broker's metadata, and the partitions this broker leads are open
// and leading here.
func (b *Broker) topicServed(ctx context.Context, topic string) bool {
	a, err := b.store.Topic(ctx, topic)
	if err != nil {
		return false
	}
	states, err := b.store.PartitionStates(ctx, topic)
	if err != nil {
		return false
	}
	for p := range a.Partitions {
		st, ok := states[p]
		if !ok || st.Leader == store.NoLeader {
			return false
		}
		if st.Leader == b.cfg.BrokerID {
			if r, ok := b.parts.get(topic, p); !ok || !r.IsLeader() {
				return false
			}
		}
	}
	return true
}

// transactionStateTopic is Kafka's internal topic of transaction state
// (Strom does not create it, but refuses to delete it like Kafka's tools).
const transactionStateTopic = "__transaction_state"

// isInternalTopic is Kafka's Topic.isInternal.
func isInternalTopic(name string) bool {
	return name == group.OffsetsTopic || name == transactionStateTopic
}
