package group

import (
	"context"
	"errors"
	"fmt"
)

// Kafka error codes this package answers with. These constants are part of
// the wire protocol and must not be changed.
const (
	errNone                      int16 = 0
	errUnknownServerError        int16 = -1
	errUnknownTopicOrPartition   int16 = 3
	errRequestTimedOut           int16 = 7
	errOffsetMetadataTooLarge    int16 = 12
	errCoordinatorLoadInProgress int16 = 14
	errCoordinatorNotAvailable   int16 = 15
	errNotCoordinator            int16 = 16
	errIllegalGeneration         int16 = 22
	errInconsistentGroupProtocol int16 = 23
	errInvalidGroupID            int16 = 24
	errUnknownMemberID           int16 = 25
	errInvalidSessionTimeout     int16 = 26
	errRebalanceInProgress       int16 = 27
	errInvalidCommitOffsetSize   int16 = 28
	errInvalidRequest            int16 = 42
	errNonEmptyGroup             int16 = 68
	errGroupIDNotFound           int16 = 69
	errMemberIDRequired          int16 = 79
	errFencedInstanceID          int16 = 82
	errGroupMaxSizeReached       int16 = 81
	errGroupSubscribedToTopic    int16 = 86
	errUnsupportedVersion        int16 = 35
	errInvalidCoordinatorKeyType int16 = errInvalidRequest
	errUnknownTopicID            int16 = 100
)

// errorNames maps the codes above to Kafka's names, for messages and tests.
var errorNames = map[int16]string{
	errNone:                      "NONE",
	errUnknownServerError:        "UNKNOWN_SERVER_ERROR",
	errUnknownTopicOrPartition:   "UNKNOWN_TOPIC_OR_PARTITION",
	errRequestTimedOut:           "REQUEST_TIMED_OUT",
	errOffsetMetadataTooLarge:    "OFFSET_METADATA_TOO_LARGE",
	errCoordinatorLoadInProgress: "COORDINATOR_LOAD_IN_PROGRESS",
	errCoordinatorNotAvailable:   "COORDINATOR_NOT_AVAILABLE",
	errNotCoordinator:            "NOT_COORDINATOR",
	errIllegalGeneration:         "ILLEGAL_GENERATION",
	errInconsistentGroupProtocol: "INCONSISTENT_GROUP_PROTOCOL",
	errInvalidGroupID:            "INVALID_GROUP_ID",
	errUnknownMemberID:           "UNKNOWN_MEMBER_ID",
	errInvalidSessionTimeout:     "INVALID_SESSION_TIMEOUT",
	errRebalanceInProgress:       "REBALANCE_IN_PROGRESS",
	errInvalidCommitOffsetSize:   "INVALID_COMMIT_OFFSET_SIZE",
	errUnsupportedVersion:        "UNSUPPORTED_VERSION",
	errInvalidRequest:            "INVALID_REQUEST",
	errNonEmptyGroup:             "NON_EMPTY_GROUP",
	errGroupIDNotFound:           "GROUP_ID_NOT_FOUND",
	errMemberIDRequired:          "MEMBER_ID_REQUIRED",
	errGroupMaxSizeReached:       "GROUP_MAX_SIZE_REACHED",
	errFencedInstanceID:          "FENCED_INSTANCE_ID",
	errGroupSubscribedToTopic:    "GROUP_SUBSCRIBED_TO_TOPIC",
	errUnknownTopicID:            "UNKNOWN_TOPIC_ID",
}

// ErrorName returns Kafka's name for an error code this package answers
// with ("NOT_COORDINATOR"), or "ERROR(<code>)".
func ErrorName(code int16) string {
	if n, ok := errorNames[code]; ok {
		return n
	}
	return fmt.Sprintf("ERROR(%d)", code)
}

var (
	// ErrNotLeader is what an OffsetsLog returns (or wraps) when this broker
	// is no longer the leader of the __consumer_offsets partition. Requests
	// whose write failed with it are answered NOT_COORDINATOR.
	ErrNotLeader = errors.New("group: not the leader of the offsets partition")
	// ErrBadRecord wraps every decoding error of a __consumer_offsets key or
	// value.
	ErrBadRecord = errors.New("group: malformed __consumer_offsets record")
	// ErrInvalidConfig wraps every Config.Validate error.
	ErrInvalidConfig = errors.New("group: invalid config")
	// ErrNotLoaded is returned by LoadPartition when the partition was
	// unloaded (or reloaded) while it was being loaded.
	ErrNotLoaded = errors.New("group: partition unloaded during load")
)

// appendErrorCode maps an OffsetsLog.Append error to the code Kafka's
// coordinator answers: losing leadership is NOT_COORDINATOR, a timeout
// (the append's context ending, or an OffsetsLog's wait reporting its
// deadline) REQUEST_TIMED_OUT, anything else COORDINATOR_NOT_AVAILABLE (retriable:
// the client looks the coordinator up again).
func appendErrorCode(err error) int16 {
	switch {
	case err == nil:
		return errNone
	case errors.Is(err, ErrNotLeader):
		return errNotCoordinator
	case errors.Is(err, errContextDone), errors.Is(err, context.DeadlineExceeded):
		return errRequestTimedOut
	default:
		return errCoordinatorNotAvailable
	}
}

// errContextDone wraps context errors of appends so they map to
// REQUEST_TIMED_OUT.
var errContextDone = errors.New("group: append context done")
