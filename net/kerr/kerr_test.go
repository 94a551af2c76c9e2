package kerr

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	fk "github.com/twmb/franz-go/pkg/kerr"
)

func TestCode(t *testing.T) {
	assert.Zero(t, Code(nil))
	assert.Equal(t, int16(35), Code(UnsupportedVersion))
	assert.Equal(t, int16(6), Code(fmt.Errorf("partition 3: %w", NotLeaderForPartition)))
	assert.Equal(t, int16(-1), Code(errors.New("disk on fire")))
	for _, c := range []int16{1, 3, 6, 19, 20, 35, 43, 45, 74, 100} {
		assert.Equal(t, c, Code(ForCode(c)))
	}
	assert.Nil(t, ForCode(0))
	assert.Equal(t, UnknownServerError, ForCode(30000))
	assert.ErrorIs(t, fmt.Errorf("x: %w", OffsetOutOfRange), fk.OffsetOutOfRange, "same values as franz-go")
	assert.True(t, IsRetriable(NotLeaderForPartition))
	assert.False(t, IsRetriable(InvalidRequest))
}

// TestSentinelsMatchTheirCodes guards the re-exported names against drift.
func TestSentinelsMatchTheirCodes(t *testing.T) {
	for want, e := range map[int16]*Error{
		-1: UnknownServerError, 1: OffsetOutOfRange, 2: CorruptMessage, 3: UnknownTopicOrPartition,
		6: NotLeaderForPartition, 7: RequestTimedOut, 10: MessageTooLarge, 15: CoordinatorNotAvailable,
		16: NotCoordinator, 19: NotEnoughReplicas, 20: NotEnoughReplicasAfterAppend, 27: RebalanceInProgress,
		35: UnsupportedVersion, 36: TopicAlreadyExists, 42: InvalidRequest, 43: UnsupportedForMessageFormat,
		45: OutOfOrderSequenceNumber, 46: DuplicateSequenceNumber, 47: InvalidProducerEpoch,
		74: FencedLeaderEpoch, 75: UnknownLeaderEpoch, 100: UnknownTopicID,
	} {
		assert.Equal(t, want, e.Code, e.Message)
	}
}
