package faultbed

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
)

func newSchedule(seed uint64, cover bool) *nemesis {
	return &nemesis{opts: Options{Kinds: Kinds, CoverAll: cover}, rng: rand.New(rand.NewPCG(seed, 0x6e656d)),
		covered: map[Kind]bool{}}
}

// TestScheduleIsSeeded: the same seed gives the same steps, another seed
// other steps; about one step in five injects nothing.
func TestScheduleIsSeeded(t *testing.T) {
	a, b, c := newSchedule(7, false), newSchedule(7, false), newSchedule(8, false)
	same, empty := true, 0
	for range 1000 {
		ka, kb, kc := a.pick(), b.pick(), c.pick()
		assert.Equal(t, ka, kb)
		same = same && assert.ObjectsAreEqual(ka, kc)
		if len(ka) == 0 {
			empty++
		}
	}
	assert.False(t, same, "seeds 7 and 8 give different schedules")
	// P(empty) = 1/5 + 4/5 * (3/5)^len(Kinds) ≈ 0.20 (0.22 with 7 kinds).
	assert.InDelta(t, 210, empty, 60, "steps with no fault")
}

// TestScheduleCoversEveryKind: with CoverAll, every kind is in the first
// len(Kinds)/2 steps, rounded up (two new kinds per step), as long as each
// one starts.
func TestScheduleCoversEveryKind(t *testing.T) {
	n := newSchedule(1, true)
	seen := map[Kind]bool{}
	for range (len(Kinds) + 1) / 2 {
		for _, k := range n.pick() {
			seen[k] = true
			n.covered[k] = true // what start does once the fault is on
		}
	}
	for _, k := range Kinds {
		assert.True(t, seen[k], "%s in the first four steps", k)
	}
}
