// Package kerr is Strom's one table of Kafka error codes, shared by net,
// replication, coord and tools.
//
// It wraps franz-go's kerr package (github.com/twmb/franz-go/pkg/kerr),
// which is generated from Kafka's own error list and maps every code to a
// *Error with its name, code and retriability. The sentinels below are the
// very same values as franz-go's (so errors.Is works across both), listed
// here for the codes a broker returns; any other code is reachable with
// ForCode. Broker code returns these sentinels (optionally wrapped with
// fmt.Errorf("...: %w", kerr.X)) and turns them into wire codes with Code.
package kerr

import (
	"errors"

	fk "github.com/twmb/franz-go/pkg/kerr"
)

// Error is a Kafka error: name, code, retriability and description.
type Error = fk.Error

// Sentinel errors for the codes a broker commonly returns (Kafka's names).
var (
	UnknownServerError           = fk.UnknownServerError           // -1
	OffsetOutOfRange             = fk.OffsetOutOfRange             // 1
	CorruptMessage               = fk.CorruptMessage               // 2
	UnknownTopicOrPartition      = fk.UnknownTopicOrPartition      // 3
	InvalidFetchSize             = fk.InvalidFetchSize             // 4
	LeaderNotAvailable           = fk.LeaderNotAvailable           // 5
	NotLeaderForPartition        = fk.NotLeaderForPartition        // 6 (NOT_LEADER_OR_FOLLOWER)
	RequestTimedOut              = fk.RequestTimedOut              // 7
	BrokerNotAvailable           = fk.BrokerNotAvailable           // 8
	ReplicaNotAvailable          = fk.ReplicaNotAvailable          // 9
	MessageTooLarge              = fk.MessageTooLarge              // 10
	StaleControllerEpoch         = fk.StaleControllerEpoch         // 11
	OffsetMetadataTooLarge       = fk.OffsetMetadataTooLarge       // 12
	NetworkException             = fk.NetworkException             // 13
	CoordinatorLoadInProgress    = fk.CoordinatorLoadInProgress    // 14
	CoordinatorNotAvailable      = fk.CoordinatorNotAvailable      // 15
	NotCoordinator               = fk.NotCoordinator               // 16
	InvalidTopicException        = fk.InvalidTopicException        // 17
	RecordListTooLarge           = fk.RecordListTooLarge           // 18
	NotEnoughReplicas            = fk.NotEnoughReplicas            // 19
	NotEnoughReplicasAfterAppend = fk.NotEnoughReplicasAfterAppend // 20
	InvalidRequiredAcks          = fk.InvalidRequiredAcks          // 21
	IllegalGeneration            = fk.IllegalGeneration            // 22
	InconsistentGroupProtocol    = fk.InconsistentGroupProtocol    // 23
	InvalidGroupID               = fk.InvalidGroupID               // 24
	UnknownMemberID              = fk.UnknownMemberID              // 25
	InvalidSessionTimeout        = fk.InvalidSessionTimeout        // 26
	RebalanceInProgress          = fk.RebalanceInProgress          // 27
	InvalidCommitOffsetSize      = fk.InvalidCommitOffsetSize      // 28
	UnsupportedVersion           = fk.UnsupportedVersion           // 35
	TopicAlreadyExists           = fk.TopicAlreadyExists           // 36
	InvalidPartitions            = fk.InvalidPartitions            // 37
	InvalidReplicationFactor     = fk.InvalidReplicationFactor     // 38
	NotController                = fk.NotController                // 41
	InvalidRequest               = fk.InvalidRequest               // 42
	UnsupportedForMessageFormat  = fk.UnsupportedForMessageFormat  // 43
	OutOfOrderSequenceNumber     = fk.OutOfOrderSequenceNumber     // 45
	DuplicateSequenceNumber      = fk.DuplicateSequenceNumber      // 46
	InvalidProducerEpoch         = fk.InvalidProducerEpoch         // 47
	InvalidTimestamp             = fk.InvalidTimestamp             // 32
	InvalidConfig                = fk.InvalidConfig                // 40
	UnknownProducerID            = fk.UnknownProducerID            // 59
	KafkaStorageError            = fk.KafkaStorageError            // 56
	FencedLeaderEpoch            = fk.FencedLeaderEpoch            // 74
	UnknownLeaderEpoch           = fk.UnknownLeaderEpoch           // 75
	OffsetNotAvailable           = fk.OffsetNotAvailable           // 78
	MemberIDRequired             = fk.MemberIDRequired             // 79
	PreferredLeaderNotAvailable  = fk.PreferredLeaderNotAvailable  // 80
	GroupIDNotFound              = fk.GroupIDNotFound              // 69
	NonEmptyGroup                = fk.NonEmptyGroup                // 68
	FetchSessionIDNotFound       = fk.FetchSessionIDNotFound       // 70
	InvalidFetchSessionEpoch     = fk.InvalidFetchSessionEpoch     // 71
	FetchSessionTopicIDError     = fk.FetchSessionTopicIDError     // 106
	UnknownTopicID               = fk.UnknownTopicID               // 100
	InconsistentTopicID          = fk.InconsistentTopicID          // 103
	GroupAuthorizationFailed     = fk.GroupAuthorizationFailed     // 30
	TopicAuthorizationFailed     = fk.TopicAuthorizationFailed     // 29
	ClusterAuthorizationFailed   = fk.ClusterAuthorizationFailed   // 31
	GroupMaxSizeReached          = fk.GroupMaxSizeReached          // 81
	ThrottlingQuotaExceeded      = fk.ThrottlingQuotaExceeded      // 89
	ProducerFenced               = fk.ProducerFenced               // 90
	InvalidRecord                = fk.InvalidRecord                // 87
	UnstableOffsetCommit         = fk.UnstableOffsetCommit         // 88
	PolicyViolation              = fk.PolicyViolation              // 44
	InvalidTxnState              = fk.InvalidTxnState              // 48
	ConcurrentTransactions       = fk.ConcurrentTransactions       // 51
	TransactionCoordinatorFenced = fk.TransactionCoordinatorFenced // 52
	InvalidProducerIDMapping     = fk.InvalidProducerIDMapping     // 49
	InvalidTransactionTimeout    = fk.InvalidTransactionTimeout    // 50
	OperationNotAttempted        = fk.OperationNotAttempted        // 55
	TopicDeletionDisabled        = fk.TopicDeletionDisabled        // 73
	ElectionNotNeeded            = fk.ElectionNotNeeded            // 84
	EligibleLeadersNotAvailable  = fk.EligibleLeadersNotAvailable  // 83
	ListenerNotFound             = fk.ListenerNotFound             // 72
	ReassignmentInProgress       = fk.ReassignmentInProgress       // 60
	SecurityDisabled             = fk.SecurityDisabled             // 54
	SaslAuthenticationFailed     = fk.SaslAuthenticationFailed     // 58
	UnsupportedSaslMechanism     = fk.UnsupportedSaslMechanism     // 33
	IllegalSaslState             = fk.IllegalSaslState             // 34
	UnsupportedCompressionType   = fk.UnsupportedCompressionType   // 76
	StaleBrokerEpoch             = fk.StaleBrokerEpoch             // 77
	InvalidUpdateVersion         = fk.InvalidUpdateVersion         // 95
	IneligibleReplica            = fk.IneligibleReplica            // 107
	InvalidReplicaAssignment     = fk.InvalidReplicaAssignment     // 39
	NoReassignmentInProgress     = fk.NoReassignmentInProgress     // 85
)

// ForCode returns the error for a wire code: nil for 0, UnknownServerError
// for a code the table does not know.
func ForCode(code int16) error { return fk.ErrorForCode(code) }

// Code returns the wire code for err: 0 for nil, the code of the first
// *Error in err's chain, and UNKNOWN_SERVER_ERROR (-1) for anything else.
func Code(err error) int16 {
	if err == nil {
		return 0
	}
	if ke, ok := errors.AsType[*Error](err); ok {
		return ke.Code
	}
	return UnknownServerError.Code
}

// IsRetriable reports whether err carries a Kafka error that clients retry.
func IsRetriable(err error) bool { return fk.IsRetriable(err) }
