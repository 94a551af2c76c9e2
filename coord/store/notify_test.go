package store

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSubscriptionCoalescesAndFilters(t *testing.T) {
	n := NewNotifier()
	all := n.Subscribe()
	states := n.Subscribe(EventPartitionState)

	p0 := Event{Kind: EventPartitionState, Topic: "t", Partition: 0}
	p1 := Event{Kind: EventPartitionState, Topic: "t", Partition: 1}
	n.Publish(p0)
	n.Publish(Event{Kind: EventBrokers})
	n.Publish(p0) // merged with the pending p0
	n.Publish(p1)

	<-all.Ready()
	assert.Equal(t, []Event{p0, {Kind: EventBrokers}, p1}, all.Drain())
	<-states.Ready()
	assert.Equal(t, []Event{p0, p1}, states.Drain())
	assert.Empty(t, all.Drain())

	// After a drain the same event is delivered again.
	n.Publish(p0)
	<-all.Ready()
	assert.Equal(t, []Event{p0}, all.Drain())
}

func TestSubscriptionClose(t *testing.T) {
	n := NewNotifier()
	s := n.Subscribe()
	s.Close()
	s.Close()
	n.Publish(Event{Kind: EventBrokers})
	_, open := <-s.Ready()
	assert.False(t, open)
	assert.Empty(t, s.Drain())

	live := n.Subscribe()
	n.CloseAll()
	for range live.Ready() {
		// Drain until closed.
	}
	_, open = <-n.Subscribe().Ready()
	assert.False(t, open, "subscriptions after CloseAll start closed")
	n.Publish(Event{Kind: EventBrokers}) // must not panic
}

func TestUUID(t *testing.T) {
	u, err := NewUUID()
	require.NoError(t, err)
	assert.False(t, u.IsZero())
	assert.Len(t, u.String(), 22)
	back, err := ParseUUID(u.String())
	require.NoError(t, err)
	assert.Equal(t, u, back)
	for _, bad := range []string{"", "short", "AAAAAAAAAAAAAAAAAAAAAAAA", "AAAAAAAAAAAAAAAAAAAA!!"} {
		_, err := ParseUUID(bad)
		assert.Error(t, err, bad)
	}
	assert.Equal(t, "orders-3", TopicPartition{Topic: "orders", Partition: 3}.String())
}
