package controller

import (
	"fmt"
	"maps"
	"slices"
)

// AssignReplicas spreads n partitions with rf replicas each over brokers the
// way Kafka does without racks (AdminUtils.assignReplicasToBrokers):
//
//   - brokers are taken in increasing id order;
//   - partition p's first replica (its preferred leader) is broker
//     (p + startIndex) mod B, so leaders go round-robin;
//   - its other replicas follow the first at a distance of
//     1 + (shift + j) mod (B-1) for j = 0..rf-2, where shift starts at
//     replicaShift and grows by one each time p passes a multiple of B, so
//     followers of consecutive rounds land on different brokers.
//
// Partitions are numbered from firstPartition (non-zero when adding
// partitions). Kafka picks startIndex and replicaShift at random for a new
// topic; for added partitions startIndex is the position of partition 0's
// first replica. With n a multiple of B every broker leads n/B partitions and
// holds n*rf/B replicas.
//
// REQUIRES: 1 <= rf <= len(brokers); 0 <= startIndex, replicaShift.
func AssignReplicas(brokers []int32, n int32, rf int, startIndex, replicaShift int, firstPartition int32) map[int32][]int32 {
	bs := slices.Sorted(slices.Values(brokers))
	nb := len(bs)
	out := make(map[int32][]int32, n)
	shift := replicaShift
	for i := range n {
		p := firstPartition + i
		if p > 0 && int(p)%nb == 0 {
			shift++
		}
		first := (int(p) + startIndex) % nb
		replicas := make([]int32, 0, rf)
		replicas = append(replicas, bs[first])
		for j := range rf - 1 {
			replicas = append(replicas, bs[(first+1+(shift+j)%(nb-1))%nb])
		}
		out[p] = replicas
	}
	return out
}

// validateAssignment checks an explicit assignment of partitions
// firstPartition..firstPartition+len(parts)-1: each list non-empty, no
// duplicate brokers, all lists of length rf (any length if rf is 0, then
// the first list's), every broker registered.
func validateAssignment(parts map[int32][]int32, firstPartition int32, rf int, registered map[int32]bool) error {
	if len(parts) == 0 {
		return fmt.Errorf("empty assignment: %w", ErrInvalidReplicaAssignment)
	}
	for i := range int32(len(parts)) {
		p := firstPartition + i
		replicas, ok := parts[p]
		if !ok {
			return fmt.Errorf("partitions must be numbered %d..%d, %d is missing: %w",
				firstPartition, firstPartition+int32(len(parts))-1, p, ErrInvalidReplicaAssignment)
		}
		if len(replicas) == 0 {
			return fmt.Errorf("partition %d has no replicas: %w", p, ErrInvalidReplicaAssignment)
		}
		if rf == 0 {
			rf = len(replicas)
		}
		if len(replicas) != rf {
			return fmt.Errorf("partition %d has %d replicas, expected %d like the others: %w",
				p, len(replicas), rf, ErrInvalidReplicaAssignment)
		}
		seen := make(map[int32]bool, len(replicas))
		for _, b := range replicas {
			if seen[b] {
				return fmt.Errorf("partition %d lists broker %d twice: %w", p, b, ErrInvalidReplicaAssignment)
			}
			seen[b] = true
			if !registered[b] {
				return fmt.Errorf("partition %d: unknown broker %d: %w", p, b, ErrInvalidReplicaAssignment)
			}
		}
	}
	return nil
}

// RackAlternated orders brokers so that consecutive ones are in different
// racks where possible (Kafka's AdminUtils.getRackAlternatedBrokerList):
// racks in name order, brokers of a rack in id order, one broker from each
// rack in turn. racks maps broker id -> rack.
func RackAlternated(racks map[int32]string) []int32 {
	byRack := map[string][]int32{}
	for id, r := range racks {
		byRack[r] = append(byRack[r], id)
	}
	names := slices.Sorted(maps.Keys(byRack))
	for _, r := range names {
		slices.Sort(byRack[r])
	}
	out := make([]int32, 0, len(racks))
	for i := 0; len(out) < len(racks); i = (i + 1) % len(names) {
		if ids := byRack[names[i]]; len(ids) > 0 {
			out = append(out, ids[0])
			byRack[names[i]] = ids[1:]
		}
	}
	return out
}

// AssignReplicasRackAware is AssignReplicas for brokers that all have a
// rack (Kafka's AdminUtils.assignReplicasToBrokersRackAware): leaders go
// round-robin over the rack-alternated broker list, and each further
// replica is the next broker at the shifting distance that is in a rack
// without a replica yet (once every rack has one, any broker without one).
// A partition's replicas thus span min(rf, racks) racks.
//
// REQUIRES: 1 <= rf <= len(racks); 0 <= startIndex, replicaShift.
func AssignReplicasRackAware(racks map[int32]string, n int32, rf int, startIndex, replicaShift int, firstPartition int32) map[int32][]int32 {
	list := RackAlternated(racks)
	nb := len(list)
	numRacks := len(slices.Compact(slices.Sorted(maps.Values(racks))))
	out := make(map[int32][]int32, n)
	shift := replicaShift
	for i := range n {
		p := firstPartition + i
		if p > 0 && int(p)%nb == 0 {
			shift++
		}
		first := (int(p) + startIndex) % nb
		leader := list[first]
		replicas := []int32{leader}
		racksUsed := map[string]bool{racks[leader]: true}
		used := map[int32]bool{leader: true}
		k := 0
		for range rf - 1 {
			for {
				b := list[(first+1+(shift*numRacks+k)%(nb-1))%nb]
				k++
				if (!racksUsed[racks[b]] || len(racksUsed) == numRacks) && (!used[b] || len(used) == nb) {
					replicas = append(replicas, b)
					racksUsed[racks[b]] = true
					used[b] = true
					break
				}
			}
		}
		out[p] = replicas
	}
	return out
}
