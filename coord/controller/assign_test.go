package controller

import (
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Kafka's documented example (AdminUtils): 5 brokers, 10 partitions,
// replication factor 3, start index 0, shift 0:
//
//	broker-0  broker-1  broker-2  broker-3  broker-4
//	p0        p1        p2        p3        p4       (1st replica)
//	p5        p6        p7        p8        p9       (1st replica)
//	p4        p0        p1        p2        p3       (2nd replica)
//	p8        p9        p5        p6        p7       (2nd replica)
//	p3        p4        p0        p1        p2       (3rd replica)
//	p7        p8        p9        p5        p6       (3rd replica)
func TestAssignReplicasKafkaExample(t *testing.T) {
	got := AssignReplicas([]int32{4, 2, 0, 3, 1}, 10, 3, 0, 0, 0)
	want := map[int32][]int32{
		0: {0, 1, 2}, 1: {1, 2, 3}, 2: {2, 3, 4}, 3: {3, 4, 0}, 4: {4, 0, 1},
		5: {0, 2, 3}, 6: {1, 3, 4}, 7: {2, 4, 0}, 8: {3, 0, 1}, 9: {4, 1, 2},
	}
	assert.Equal(t, want, got)
}

func TestAssignReplicasSpread(t *testing.T) {
	tests := []struct {
		brokers      []int32
		n            int32
		rf           int
		start, shift int
	}{
		{[]int32{1}, 1, 1, 0, 0},
		{[]int32{1}, 8, 1, 0, 0},
		{[]int32{1, 2}, 6, 2, 1, 1},
		{[]int32{1, 2, 3}, 3, 3, 2, 0},
		{[]int32{1, 2, 3}, 12, 2, 1, 2},
		{[]int32{10, 20, 30, 40}, 8, 3, 3, 1},
		{[]int32{10, 20, 30, 40}, 7, 3, 0, 0},
		{[]int32{5, 6, 7, 8, 9, 11}, 50, 3, 4, 5},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("brokers=%d/n=%d/rf=%d", len(tt.brokers), tt.n, tt.rf), func(t *testing.T) {
			got := AssignReplicas(tt.brokers, tt.n, tt.rf, tt.start, tt.shift, 0)
			require.Len(t, got, int(tt.n))
			leaders := map[int32]int{}
			replicas := map[int32]int{}
			for p := range tt.n {
				r := got[p]
				require.Len(t, r, tt.rf, "partition %d", p)
				assert.Equal(t, len(r), len(slices.Compact(slices.Sorted(slices.Values(r)))), "distinct replicas in %v", r)
				for _, b := range r {
					assert.Contains(t, tt.brokers, b)
					replicas[b]++
				}
				leaders[r[0]]++
			}
			assert.LessOrEqual(t, spread(leaders, tt.brokers), 1, "leaders %v", leaders)
			if int(tt.n)%len(tt.brokers) == 0 {
				assert.Equal(t, 0, spread(replicas, tt.brokers), "replicas %v", replicas)
			}
		})
	}
}

// spread is max-min of counts over brokers.
func spread(counts map[int32]int, brokers []int32) int {
	lo, hi := counts[brokers[0]], counts[brokers[0]]
	for _, b := range brokers {
		lo, hi = min(lo, counts[b]), max(hi, counts[b])
	}
	return hi - lo
}

func TestAssignReplicasContinues(t *testing.T) {
	// Adding partitions 10..14 continues the same rotation as if the topic
	// had been created with 15.
	all := AssignReplicas([]int32{0, 1, 2, 3, 4}, 15, 3, 0, 0, 0)
	added := AssignReplicas([]int32{0, 1, 2, 3, 4}, 5, 3, 0, 1, 10)
	for p := int32(10); p < 15; p++ {
		assert.Equal(t, all[p][0], added[p][0], "leader of %d", p)
	}
}

func TestValidateAssignment(t *testing.T) {
	reg := map[int32]bool{1: true, 2: true, 3: true}
	tests := []struct {
		name  string
		parts map[int32][]int32
		first int32
		rf    int
		ok    bool
	}{
		{"good", map[int32][]int32{0: {1, 2}, 1: {2, 3}}, 0, 0, true},
		{"good added", map[int32][]int32{3: {3}}, 3, 1, true},
		{"empty", map[int32][]int32{}, 0, 0, false},
		{"gap", map[int32][]int32{0: {1}, 2: {2}}, 0, 0, false},
		{"not from first", map[int32][]int32{0: {1}}, 3, 1, false},
		{"no replicas", map[int32][]int32{0: {}}, 0, 0, false},
		{"duplicate broker", map[int32][]int32{0: {1, 1}}, 0, 0, false},
		{"uneven", map[int32][]int32{0: {1, 2}, 1: {3}}, 0, 0, false},
		{"wrong rf", map[int32][]int32{3: {1, 2}}, 3, 1, false},
		{"unknown broker", map[int32][]int32{0: {1, 9}}, 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := validateAssignment(tt.parts, tt.first, tt.rf, reg)
			if tt.ok {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, ErrInvalidReplicaAssignment)
			}
		})
	}
}

// TestRackAwareAssignment checks Kafka's own expectations
// (AdminRackAwareTest.testGetRackAlternatedBrokerListAndAssignReplicasToBrokers)
// and that every partition spans min(rf, racks) racks.
func TestRackAwareAssignment(t *testing.T) {
	racks := map[int32]string{0: "rack1", 1: "rack3", 2: "rack3", 3: "rack2", 4: "rack2", 5: "rack1"}
	assert.Equal(t, []int32{0, 3, 1, 5, 4, 2}, RackAlternated(racks))
	without5 := map[int32]string{0: "rack1", 1: "rack3", 2: "rack3", 3: "rack2", 4: "rack2"}
	assert.Equal(t, []int32{0, 3, 1, 4, 2}, RackAlternated(without5))
	assert.Equal(t, map[int32][]int32{
		0: {0, 3, 1}, 1: {3, 1, 5}, 2: {1, 5, 4}, 3: {5, 4, 2}, 4: {4, 2, 0}, 5: {2, 0, 3}, 6: {0, 4, 2},
	}, AssignReplicasRackAware(racks, 7, 3, 0, 0, 0))

	uneven := map[int32]string{0: "rack1", 1: "rack1", 2: "rack2", 3: "rack3", 4: "rack3", 5: "rack1"}
	for start := range 6 {
		for shift := range 6 {
			for p, reps := range AssignReplicasRackAware(uneven, 12, 3, start, shift, 0) {
				seen := map[string]bool{}
				for _, b := range reps {
					seen[uneven[b]] = true
				}
				assert.Len(t, seen, 3, "start %d shift %d partition %d: %v spans every rack", start, shift, p, reps)
				assert.Len(t, slices.Compact(slices.Sorted(slices.Values(reps))), 3, "no broker twice")
			}
		}
	}
}
