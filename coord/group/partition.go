package group

import "unicode/utf16"

// OffsetsTopic is the name of the internal topic holding offsets and group
// metadata.
const OffsetsTopic = "__consumer_offsets"

// javaStringHashCode is Java's String.hashCode: s[0]*31^(n-1) + ... + s[n-1]
// over the UTF-16 code units of s, in int32 arithmetic that wraps. Invalid
// UTF-8 bytes count as U+FFFD, as Java's decoder replaces them (Java may
// fold some malformed sequences into fewer replacement characters; valid
// group ids are unaffected).
func javaStringHashCode(s string) int32 {
	var h int32
	for _, r := range s {
		if r < 0x10000 {
			h = 31*h + int32(r)
			continue
		}
		r1, r2 := utf16.EncodeRune(r)
		h = 31*h + int32(r1)
		h = 31*h + int32(r2)
	}
	return h
}

// kafkaAbs is Kafka's Utils.abs: the absolute value, with MinInt32 mapped
// to 0 instead of itself.
func kafkaAbs(n int32) int32 {
	switch {
	case n == -1<<31:
		return 0
	case n < 0:
		return -n
	default:
		return n
	}
}

// partitionFor is Utils.abs(groupId.hashCode) % n.
func partitionFor(groupID string, n int32) int32 {
	return kafkaAbs(javaStringHashCode(groupID)) % n
}
