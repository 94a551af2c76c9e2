package election

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func live(ids ...int32) func(int32) bool {
	m := map[int32]bool{}
	for _, id := range ids {
		m[id] = true
	}
	return func(id int32) bool { return m[id] }
}

func TestInitial(t *testing.T) {
	st, ok := Initial([]int32{3, 1, 2}, live(1, 2))
	assert.True(t, ok)
	assert.Equal(t, State{Leader: 1, ISR: []int32{1, 2}}, st, "the first live replica leads; the live ones are the ISR")
	_, ok = Initial([]int32{3}, live(1))
	assert.False(t, ok, "no live replica: no state")
}

func TestNext(t *testing.T) {
	replicas := []int32{1, 2, 3}
	tests := []struct {
		name    string
		cur     State
		live    []int32
		unclean bool
		want    State
		kind    Kind
		changed bool
	}{
		{"nothing changed", State{1, 4, []int32{1, 2, 3}}, []int32{1, 2, 3}, false, State{1, 4, []int32{1, 2, 3}}, None, false},
		{"a follower leaves the ISR, epoch bumped", State{1, 4, []int32{1, 2, 3}}, []int32{1, 2}, false, State{1, 5, []int32{1, 2}}, None, true},
		{"clean: first live ISR member in assignment order", State{1, 4, []int32{3, 2, 1}}, []int32{2, 3}, false, State{2, 5, []int32{3, 2}}, Clean, true},
		{"no live ISR member: offline, the old leader kept", State{1, 4, []int32{1, 2}}, []int32{3}, false, State{NoLeader, 5, []int32{1}}, Offline, true},
		{"unclean: first live replica, alone in the ISR", State{NoLeader, 5, []int32{1}}, []int32{3, 2}, true, State{2, 6, []int32{2}}, Unclean, true},
		{"unclean enabled, ISR member live: clean", State{1, 4, []int32{1, 3}}, []int32{2, 3}, true, State{3, 5, []int32{3}}, Clean, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, kind, changed := Next(replicas, tt.cur, live(tt.live...), tt.unclean)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.kind, kind)
			assert.Equal(t, tt.changed, changed)
		})
	}
}

func TestCheckISRChange(t *testing.T) {
	cur := State{Leader: 1, LeaderEpoch: 5, ISR: []int32{1, 2, 3}}
	const version = 7
	replicas := []int32{1, 2, 3}
	tests := []struct {
		name    string
		ch      ISRChange
		live    []int32
		already bool
		err     error
	}{
		{"shrink stored", ISRChange{1, 5, 7, []int32{1, 2}}, []int32{1, 2, 3}, false, nil},
		{"not the leader", ISRChange{2, 5, 7, []int32{1, 2}}, []int32{1, 2, 3}, false, ErrNotLeader},
		{"newer leader epoch: the controller is behind", ISRChange{1, 6, 7, []int32{1, 2}}, []int32{1, 2, 3}, false, ErrNewerState},
		{"newer partition epoch", ISRChange{1, 5, 8, []int32{1, 2}}, []int32{1, 2, 3}, false, ErrNewerState},
		{"older leader epoch", ISRChange{1, 4, 7, []int32{1, 2}}, []int32{1, 2, 3}, false, ErrFencedLeaderEpoch},
		{"a retried change already stored", ISRChange{1, 5, 6, []int32{3, 2, 1}}, []int32{1, 2, 3}, true, nil},
		{"older partition epoch", ISRChange{1, 5, 6, []int32{1, 2}}, []int32{1, 2, 3}, false, ErrInvalidUpdateVersion},
		{"without the leader", ISRChange{1, 5, 7, []int32{2, 3}}, []int32{1, 2, 3}, false, ErrIneligibleReplica},
		{"an unassigned replica", ISRChange{1, 5, 7, []int32{1, 2, 3, 4}}, []int32{1, 2, 3, 4}, false, ErrIneligibleReplica},
		{"a dead broker", ISRChange{1, 5, 7, []int32{1, 2, 3}}, []int32{1, 2}, true, nil},
		{"a dead broker added", ISRChange{1, 5, 7, []int32{1, 3}}, []int32{1, 2}, false, ErrIneligibleReplica},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			already, err := CheckISRChange(tt.ch, cur, version, replicas, live(tt.live...))
			assert.ErrorIs(t, err, tt.err) // a nil tt.err asks for no error
			assert.Equal(t, tt.already, already)
		})
	}
}
