package controller

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/strom-broker/strom/coord/store"
)

func liveSet(ids ...int32) func(int32) bool {
	m := map[int32]bool{}
	for _, id := range ids {
		m[id] = true
	}
	return func(id int32) bool { return m[id] }
}

func TestInitialState(t *testing.T) {
	st, ok := initialState([]int32{3, 1, 2}, liveSet(1, 2, 3), 7)
	assert.True(t, ok)
	assert.Equal(t, store.PartitionState{Leader: 3, LeaderEpoch: 0, ISR: []int32{3, 1, 2}, ControllerEpoch: 7}, st)

	st, ok = initialState([]int32{3, 1, 2}, liveSet(1, 2), 7)
	assert.True(t, ok)
	assert.Equal(t, store.PartitionState{Leader: 1, ISR: []int32{1, 2}, ControllerEpoch: 7}, st, "first live replica leads")

	_, ok = initialState([]int32{3}, liveSet(1), 7)
	assert.False(t, ok)
}

func TestNextState(t *testing.T) {
	const ce = 9 // controller epoch
	state := func(leader int32, epoch int32, isr ...int32) store.PartitionState {
		return store.PartitionState{Leader: leader, LeaderEpoch: epoch, ISR: isr, ControllerEpoch: 1, Version: 4}
	}
	bumped := func(leader int32, epoch int32, isr ...int32) store.PartitionState {
		s := state(leader, epoch, isr...)
		s.ControllerEpoch = ce
		return s
	}
	replicas := []int32{1, 2, 3}
	tests := []struct {
		name     string
		cur      store.PartitionState
		live     []int32
		unclean  bool
		want     store.PartitionState
		election Election
		changed  bool
	}{
		{"all live: nothing to do", state(1, 5, 1, 2, 3), []int32{1, 2, 3}, false, state(1, 5, 1, 2, 3), ElectionNone, false},
		{"follower dies: ISR shrinks", state(1, 5, 1, 2, 3), []int32{1, 3}, false, bumped(1, 6, 1, 3), ElectionNone, true},
		{"leader dies: next in assignment order from ISR", state(1, 5, 3, 1, 2), []int32{2, 3}, false, bumped(2, 6, 3, 2), ElectionClean, true},
		{"leader dies: skips live replica outside ISR", state(1, 5, 1, 3), []int32{2, 3}, false, bumped(3, 6, 3), ElectionClean, true},
		{"leader dies, no live ISR: offline, ISR keeps the old leader", state(1, 5, 1, 2), []int32{3}, false, bumped(store.NoLeader, 6, 1), ElectionOffline, true},
		{"offline stays offline while only non-ISR replicas live", state(store.NoLeader, 6, 1), []int32{2, 3}, false, state(store.NoLeader, 6, 1), ElectionNone, false},
		{"offline: unclean picks first live replica", state(store.NoLeader, 6, 1), []int32{3, 2}, true, bumped(2, 7, 2), ElectionUnclean, true},
		{"leader dies, unclean enabled but ISR live: clean", state(1, 5, 1, 3), []int32{2, 3}, true, bumped(3, 6, 3), ElectionClean, true},
		{"offline: ISR member returns, clean election", state(store.NoLeader, 6, 1), []int32{1}, false, bumped(1, 7, 1), ElectionClean, true},
		{"everything dead: offline", state(2, 3, 2, 3), nil, false, bumped(store.NoLeader, 4, 2), ElectionOffline, true},
		{"everything dead, unclean: still offline", state(store.NoLeader, 4, 2), nil, true, state(store.NoLeader, 4, 2), ElectionNone, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, election, changed := nextState(replicas, tt.cur, liveSet(tt.live...), tt.unclean, ce)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.election, election)
			assert.Equal(t, tt.changed, changed)
			if tt.changed && !tt.unclean {
				assert.Subset(t, tt.cur.ISR, got.ISR, "a clean transition never adds to the ISR")
			}
		})
	}
}
