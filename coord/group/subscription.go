package group

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// ConsumerProtocolType is the protocol type of Kafka consumer groups; only
// their protocol metadata is parsed (for OffsetDelete and offset expiry).
const ConsumerProtocolType = "consumer"

// subscribedTopics parses the topics of a consumer protocol subscription
// (ConsumerProtocolSubscription, versions 0-3 and, tolerantly, any later
// one): int16 version, then an array (int32 count) of int16-length topic
// names. What follows the topics (user data, owned partitions, generation,
// rack) is not read, so newer versions with extra fields parse as well.
// ok is false when the bytes do not hold a well-formed topic list.
func subscribedTopics(metadata []byte) (topics []string, ok bool) {
	r := reader{b: metadata}
	if ver := r.int16(); ver < 0 {
		return nil, false
	}
	n := r.arrayLen(false, 2)
	if r.err != nil {
		return nil, false
	}
	topics = make([]string, 0, n)
	for i := 0; i < n; i++ {
		t := r.string(false)
		if r.err != nil {
			return nil, false
		}
		topics = append(topics, t)
	}
	return topics, true
}

// sameSubscription reports whether a rejoining static member's protocols
// subscribe to what its previous ones did: the same protocol names in the
// same order and, for each, the same metadata or, in consumer groups, the
// same set of topics. A consumer's metadata also carries the partitions it
// owns, its generation and user data, which change whenever it restarts
// (franz-go and Java's cooperative consumers fill them in); comparing the
// bytes would make every static restart a rebalance, which is what static
// membership exists to avoid.
func sameSubscription(protocolType string, old, cur []kmsg.JoinGroupRequestProtocol) bool {
	if len(old) != len(cur) {
		return false
	}
	for i := range cur {
		if old[i].Name != cur[i].Name {
			return false
		}
		if string(old[i].Metadata) == string(cur[i].Metadata) {
			continue
		}
		if protocolType != ConsumerProtocolType {
			return false
		}
		was, ok1 := subscribedTopics(old[i].Metadata)
		now, ok2 := subscribedTopics(cur[i].Metadata)
		if !ok1 || !ok2 {
			return false
		}
		slices.Sort(was)
		slices.Sort(now)
		if !slices.Equal(slices.Compact(was), slices.Compact(now)) {
			return false
		}
	}
	return true
}
