package controller

import (
	"errors"
	"fmt"

	"github.com/strom-broker/strom/coord/store"
)

// Errors the controller returns, wrapped with context; test with errors.Is.
// The broker maps each to its Kafka error code (in parentheses).
var (
	// ErrInvalidTopicName: the name breaks Kafka's naming rules
	// (INVALID_TOPIC_EXCEPTION, 17).
	ErrInvalidTopicName = errors.New("invalid topic name")
	// ErrTopicNameCollision: the name differs from an existing topic's only
	// in '.' versus '_' (metric names would collide). It is also an
	// ErrInvalidTopicName (INVALID_TOPIC_EXCEPTION, 17).
	ErrTopicNameCollision = fmt.Errorf("topic name collides with an existing topic: %w", ErrInvalidTopicName)
	// ErrTopicMarkedForDeletion: the topic is being deleted
	// (INVALID_TOPIC_EXCEPTION, 17, as Kafka answers CreatePartitions).
	ErrTopicMarkedForDeletion = errors.New("topic is marked for deletion")
	// ErrInvalidPartitions: partition count < 1, or not an increase
	// (INVALID_PARTITIONS, 37).
	ErrInvalidPartitions = errors.New("invalid number of partitions")
	// ErrInvalidReplicationFactor: replication factor < 1 or larger than the
	// live brokers (INVALID_REPLICATION_FACTOR, 38).
	ErrInvalidReplicationFactor = errors.New("invalid replication factor")
	// ErrInvalidReplicaAssignment: an explicit assignment is malformed or
	// names unknown brokers (INVALID_REPLICA_ASSIGNMENT, 39).
	ErrInvalidReplicaAssignment = errors.New("invalid replica assignment")
	// ErrInvalidConfig: the config validator rejected the topic configs
	// (INVALID_CONFIG, 40). The validator's error is wrapped too.
	ErrInvalidConfig = errors.New("invalid config")
	// ErrInvalidRequest: contradictory request fields, e.g. an explicit
	// assignment together with a partition count (INVALID_REQUEST, 42).
	ErrInvalidRequest = errors.New("invalid request")
	// ErrNotController: an operation only the active controller may do
	// (NOT_CONTROLLER, 41).
	ErrNotController = store.ErrNotController
	// ErrElectionNotNeeded: the partition already has the leader the
	// election would choose (ELECTION_NOT_NEEDED, 84).
	ErrElectionNotNeeded = errors.New("election not needed")
	// ErrPreferredLeaderNotAvailable: the preferred replica is not live
	// or not in the ISR (PREFERRED_LEADER_NOT_AVAILABLE, 80).
	ErrPreferredLeaderNotAvailable = errors.New("preferred leader not available")
	// ErrEligibleLeadersNotAvailable: no live replica can lead
	// (ELIGIBLE_LEADERS_NOT_AVAILABLE, 83).
	ErrEligibleLeadersNotAvailable = errors.New("eligible leaders not available")
	// ErrTopicBeingDeleted: an election for a topic marked for deletion
	// (INVALID_TOPIC_EXCEPTION, 17, "The topic is being deleted").
	ErrTopicBeingDeleted = errors.New("the topic is being deleted")
)

// Store errors the controller passes through, re-exported so the broker's
// error mapping needs only this package.
var (
	// ErrTopicExists (TOPIC_ALREADY_EXISTS, 36).
	ErrTopicExists = store.ErrTopicExists
	// ErrUnknownTopic (UNKNOWN_TOPIC_OR_PARTITION, 3).
	ErrUnknownTopic = store.ErrUnknownTopic
	// ErrUnknownPartition (UNKNOWN_TOPIC_OR_PARTITION, 3).
	ErrUnknownPartition = store.ErrUnknownPartition
	// ErrBadVersion: a compare-and-set lost; re-read and retry.
	ErrBadVersion = store.ErrBadVersion
)
