package broker

import (
	"context"
	"errors"

	"github.com/strom-broker/strom/coord/controller"
	"github.com/strom-broker/strom/coord/store"
	"github.com/strom-broker/strom/engine/partlog"
	"github.com/strom-broker/strom/engine/producer"
	"github.com/strom-broker/strom/engine/record"
	"github.com/strom-broker/strom/net/kerr"
	"github.com/strom-broker/strom/replication"
)

// errorCode maps an error from the engine, replication or coord to the
// Kafka error code a client should see. This is the one place where that
// mapping lives; unknown errors become UNKNOWN_SERVER_ERROR.
func errorCode(err error) int16 {
	if err == nil {
		return 0
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Code
	}
	for _, m := range errorCodes {
		if errors.Is(err, m.err) {
			return m.code.Code
		}
	}
	return kerr.UnknownServerError.Code
}

var errorCodes = []struct {
	err  error
	code *kerr.Error
}{
	{record.ErrBatchTooLarge, kerr.MessageTooLarge},
	{record.ErrCorrupt, kerr.CorruptMessage},
	{partlog.ErrOffsetOutOfRange, kerr.OffsetOutOfRange},
	{partlog.ErrEmptyAppend, kerr.CorruptMessage},
	// A log closed under a request: its topic was deleted or the broker is
	// stopping. Retriable, so clients refresh their metadata.
	{partlog.ErrClosed, kerr.NotLeaderForPartition},
	// The partition's log dir went offline after an I/O error (the
	// engine's rule, logmgr/offline.go): Kafka's answer, retriable.
	{partlog.ErrStorage, kerr.KafkaStorageError},
	{producer.ErrOutOfOrderSequence, kerr.OutOfOrderSequenceNumber},
	{producer.ErrInvalidProducerEpoch, kerr.InvalidProducerEpoch},
	{producer.ErrInvalidTxnState, kerr.InvalidTxnState},
	{replication.ErrNotLeader, kerr.NotLeaderForPartition},
	{replication.ErrNotEnoughReplicas, kerr.NotEnoughReplicas},
	{replication.ErrNotEnoughReplicasAfterAppend, kerr.NotEnoughReplicasAfterAppend},
	{replication.ErrFencedLeaderEpoch, kerr.FencedLeaderEpoch},
	{replication.ErrUnknownLeaderEpoch, kerr.UnknownLeaderEpoch},
	{controller.ErrTopicNameCollision, kerr.InvalidTopicException},
	{controller.ErrInvalidTopicName, kerr.InvalidTopicException},
	{controller.ErrTopicMarkedForDeletion, kerr.TopicDeletionDisabled},
	{controller.ErrInvalidPartitions, kerr.InvalidPartitions},
	{controller.ErrInvalidReplicationFactor, kerr.InvalidReplicationFactor},
	{controller.ErrInvalidReplicaAssignment, kerr.InvalidReplicaAssignment},
	{controller.ErrInvalidConfig, kerr.InvalidConfig},
	{controller.ErrInvalidRequest, kerr.InvalidRequest},
	{store.ErrNotController, kerr.NotController},
	{controller.ErrElectionNotNeeded, kerr.ElectionNotNeeded},
	{controller.ErrPreferredLeaderNotAvailable, kerr.PreferredLeaderNotAvailable},
	{controller.ErrEligibleLeadersNotAvailable, kerr.EligibleLeadersNotAvailable},
	{controller.ErrTopicBeingDeleted, kerr.InvalidTopicException},
	{store.ErrTopicExists, kerr.TopicAlreadyExists},
	{store.ErrUnknownTopic, kerr.UnknownTopicOrPartition},
	{store.ErrUnknownPartition, kerr.UnknownTopicOrPartition},
	{context.DeadlineExceeded, kerr.RequestTimedOut},
}

// errorMessage returns a pointer to msg, for responses' nullable messages.
func errorMessage(msg string) *string { return &msg }
