package broker

import (
	"context"
	"time"

	"github.com/strom-broker/strom/coord/group"
)

// This broker's view of the cluster metadata is what Metadata answers from:
// its metadata cache, which the controller updates (UpdateMetadata). Admin
// requests that change topics answer only once the change is
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

// awaitTopics waits, after a topic change of this broker's (the topics at
// indexes idx of a response), up to timeoutMs (not at all when <= 0) until
// done(i) holds for each, as awaitMetadata. It returns the indexes for
// which done does not hold in time.
func (b *Broker) awaitTopics(ctx context.Context, timeoutMs int32, idx []int, done func(i int) bool) []int {
	if len(idx) == 0 || timeoutMs <= 0 {
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
// this broker's metadata cache, and the partitions this broker leads are
// open and leading here (Kafka's DelayedCreatePartitions).
func (b *Broker) topicServed(_ context.Context, topic string) bool {
	parts := b.meta.Snapshot().Partitions(topic)
	if len(parts) == 0 {
		return false
	}
	for _, st := range parts {
		if st.Leader < 0 {
			return false
		}
		if st.Leader == b.cfg.BrokerID {
			if r, ok := b.parts.get(topic, st.Partition); !ok || !r.IsLeader() {
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
