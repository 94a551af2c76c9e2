package group

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
