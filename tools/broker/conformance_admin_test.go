package broker_test

// Regression tests for issue #12's admin items: each sends the exact
// request (kmsg, pinned version) to a real in-process broker and checks
// the answer Kafka gives.

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/strom-broker/strom/tools/broker/brokertest"
)

// TestDeleteRecordsOnCompactedTopic (#12 item 13): DeleteRecords on a
// cleanup.policy=compact topic answers POLICY_VIOLATION and leaves the
// log start where it was; compact,delete allows it.
func TestDeleteRecordsOnCompactedTopic(t *testing.T) {
	b := brokertest.Start(t)
	createTopic(t, b, "compacted", 1, "cleanup.policy=compact")
	createTopic(t, b, "compact-delete", 1, "cleanup.policy=compact,delete")
	c := rawConn(t, b)
	for _, topic := range []string{"compacted", "compact-delete"} {
		for i := range 3 {
			require.Zero(t, produceOne(t, c, topic, 0, 1, rawBatch(1000, value(0, i))).ErrorCode)
		}
	}
	dr := deleteRecords(t, c, "compacted", 2)
	assertCode(t, kerr.PolicyViolation, dr.ErrorCode, "compact only")
	assert.Equal(t, int64(-1), dr.LowWatermark)
	dr = deleteRecords(t, c, "compacted", 100)
	assertCode(t, kerr.PolicyViolation, dr.ErrorCode, "the policy is checked before the offset")
	assert.Equal(t, int64(0), listOffset(t, c, "compacted", -2, -1).Offset, "log start unchanged")

	dr = deleteRecords(t, c, "compact-delete", 2)
	require.Zero(t, dr.ErrorCode, code(dr.ErrorCode))
	assert.Equal(t, int64(2), dr.LowWatermark)
}
