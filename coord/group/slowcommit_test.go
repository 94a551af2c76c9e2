package group

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hangGuard bounds waits in these tests; healthy steps take a tiny
// fraction of it. It is never a timing assertion.
const hangGuard = 60 * time.Second

// slowLog holds the commit of each append made while armed until the test
// releases it (a follower that is slow to acknowledge, with acks=all).
type slowLog struct {
	OffsetsLog
	mu    sync.Mutex
	armed bool
	held  chan heldCommit // each held append, in append order
}

// heldCommit is the commit of a held append: the test ends it with ok or
// fail.
type heldCommit chan error

// ok lets the commit complete.
func (h heldCommit) ok() { close(h) }

// fail makes the commit's wait return err.
func (h heldCommit) fail(err error) { h <- err }

func (l *slowLog) arm(on bool) {
	l.mu.Lock()
	l.armed = on
	l.mu.Unlock()
}

func (l *slowLog) Append(ctx context.Context, p int32, batch []byte) (int64, func(context.Context) error, error) {
	pos, wait, err := l.OffsetsLog.Append(ctx, p, batch)
	l.mu.Lock()
	armed := l.armed
	l.mu.Unlock()
	if err != nil || !armed {
		return pos, wait, err
	}
	held := make(heldCommit, 1)
	l.held <- held
	return pos, func(ctx context.Context) error {
		select {
		case err := <-held:
			if err != nil {
				return err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
		return wait(ctx)
	}, nil
}

// sameShard returns a group id on the same __consumer_offsets partition
// as group.
func sameShard(t *testing.T, h *harness, group string) string {
	t.Helper()
	for i := range 1000 {
		if k := fmt.Sprintf("g%d", i); k != group && h.c.PartitionFor(k) == h.c.PartitionFor(group) {
			return k
		}
	}
	t.Fatal("no second group on the same partition")
	return ""
}

// within runs fn and fails the test if it has not returned within the hang
// guard.
func within(t *testing.T, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(hangGuard):
		t.Fatalf("%s: blocked behind a commit waiting for its acknowledgement", what)
	}
}

// TestSlowCommitDoesNotStallThePartition (#12 item 8): while one group's
// offset commit waits for its append to be acknowledged, another group on
// the same __consumer_offsets partition is served (heartbeat, commit,
// offset fetch) and the coordinator's tick runs; the waiting commit's
// offsets apply once acknowledged. Two commits of one partition whose
// acknowledgements arrive in reverse order leave the later one in place,
// as in the log.
func TestSlowCommitDoesNotStallThePartition(t *testing.T) {
	cfg := testConfig()
	cfg.OffsetsCommitTimeout = 10 * time.Minute // only the test releases held commits
	h := newHarness(t, cfg)
	slow := &slowLog{OffsetsLog: h.c.log, held: make(chan heldCommit, 4)}
	h.c.log = slow

	other := sameShard(t, h, "a")
	idA, genA := stableGroup(t, h, "a", "t")
	idB, genB := stableGroup(t, h, other, "t")

	slow.arm(true)
	first := make(chan []string, 1)
	go func() { first <- commitCodes(h.commit("a", idA, genA, "t", map[int32]int64{0: 10})) }()
	releaseFirst := <-slow.held // appended; its acknowledgement is held
	slow.arm(false)

	within(t, "another group's heartbeat", func() {
		assert.Equal(t, "NONE", codeName(h.heartbeat(other, idB, genB)))
	})
	within(t, "another group's commit", func() {
		assert.Equal(t, []string{"NONE"}, commitCodes(h.commit(other, idB, genB, "t", map[int32]int64{0: 7})))
	})
	within(t, "the same group's heartbeat", func() {
		assert.Equal(t, "NONE", codeName(h.heartbeat("a", idA, genA)))
	})
	within(t, "the coordinator's tick", func() { h.advance(time.Second) })
	within(t, "an offset fetch", func() {
		assert.Equal(t, map[topicPartition]int64{{"t", 0}: 7}, h.fetch(other))
		assert.Empty(t, h.fetch("a"), "not applied before it is acknowledged")
	})

	// A second commit of the same partition, acknowledged first.
	slow.arm(true)
	second := make(chan []string, 1)
	go func() { second <- commitCodes(h.commit("a", idA, genA, "t", map[int32]int64{0: 11})) }()
	releaseSecond := <-slow.held
	slow.arm(false)
	releaseSecond.ok()
	assert.Equal(t, []string{"NONE"}, <-second)
	assert.Equal(t, map[topicPartition]int64{{"t", 0}: 11}, h.fetch("a"))
	releaseFirst.ok()
	assert.Equal(t, []string{"NONE"}, <-first)
	assert.Equal(t, map[topicPartition]int64{{"t", 0}: 11}, h.fetch("a"), "the later record in the log wins")

	h.reopen()
	assert.Equal(t, map[topicPartition]int64{{"t", 0}: 11}, h.fetch("a"), "as the log replays")
}

// TestSlowExpiryDoesNotStallThePartition (#12 item 8, the tick's side):
// while the tombstones of expired offsets wait for their acknowledgement,
// another group of the same partition is served; the expired offsets are
// gone from OffsetFetch already (as Kafka removes them before appending),
// a commit made meanwhile is kept, and the log replays to the same state.
func TestSlowExpiryDoesNotStallThePartition(t *testing.T) {
	cfg := testConfig()
	cfg.OffsetsCommitTimeout = 10 * time.Minute
	cfg.OffsetsRetention = time.Hour
	h := newHarness(t, cfg)
	slow := &slowLog{OffsetsLog: h.c.log, held: make(chan heldCommit, 4)}
	h.c.log = slow

	other := sameShard(t, h, "simple")
	require.Equal(t, []string{"NONE"}, commitCodes(h.commit("simple", "", -1, "t", map[int32]int64{0: 3})))
	id, gen := stableGroup(t, h, other, "t")
	h.clock.Advance(2 * time.Hour) // the simple group's offset expires

	slow.arm(true)
	expired := make(chan struct{})
	go func() {
		defer close(expired)
		h.c.ExpireOffsetsNow()
	}()
	release := <-slow.held
	slow.arm(false)
	within(t, "another group's heartbeat during the expiry", func() {
		assert.Equal(t, "NONE", codeName(h.heartbeat(other, id, gen)))
	})
	within(t, "a commit during the expiry", func() {
		assert.Equal(t, []string{"NONE"}, commitCodes(h.commit(other, id, gen, "t", map[int32]int64{1: 5})))
	})
	assert.Empty(t, h.fetch("simple"), "expired offsets leave memory before their tombstones are acknowledged")
	release.ok()
	within(t, "the expiry", func() { <-expired })
	assert.Equal(t, map[topicPartition]int64{{"t", 1}: 5}, h.fetch(other))

	h.reopen()
	assert.Empty(t, h.fetch("simple"), "the tombstones replay")
	assert.Equal(t, map[topicPartition]int64{{"t", 1}: 5}, h.fetch(other))
}
