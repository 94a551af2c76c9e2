// Package store defines the cluster-metadata Store: the one interface through
// which Strom reads and writes everything Kafka keeps in ZooKeeper.
//
// The interface is shaped after Kafka's znode layout so that the ZooKeeper
// implementation is a thin mapping (paths and JSON codecs live in package
// znode):
//
//	/cluster/id                               GetOrCreateClusterID
//	/brokers/ids/<id>          (ephemeral)    RegisterBroker, UnregisterBroker, Broker, Brokers
//	/controller                (ephemeral)    TryBecomeController, Controller, ResignController
//	/controller_epoch                         bumped by TryBecomeController
//	/brokers/topics/<t>                       CreateTopic, Topic, Topics, SetAssignment
//	/brokers/topics/<t>/partitions/<p>/state  PartitionState(s), SetPartitionState (CAS on version)
//	/config/topics/<t>                        TopicConfig, SetTopicConfig
//	/admin/delete_topics/<t>                  MarkTopicForDeletion, TopicsMarkedForDeletion, DeleteTopic
//	/latest_producer_id_block                 AllocateProducerIDBlock
//	/admin/preferred_replica_election         PreferredReplicaElection, DeletePreferredReplicaElection
//	/admin/reassign_partitions                PartitionReassignments, SetPartitionReassignments
//
// Versions. Every versioned record (topic assignment, partition state) carries
// the version of its znode: 0 when created, +1 on every successful write.
// Writers pass the version they read; a mismatch fails with ErrBadVersion and
// changes nothing. NewVersion as the expected version means "create; fail
// with ErrBadVersion if it already exists".
//
// Controller fencing. Fenced(epoch) returns a view of the store for the
// controller elected with that epoch: each of its writes succeeds only if no
// other election has happened since, checked atomically with the write (in
// ZooKeeper a check of /controller_epoch's znode version in the same multi,
// as Kafka 2.1+ does), and fails with ErrControllerMoved otherwise, changing
// nothing. A deposed controller that has not noticed yet thus cannot
// overwrite its successor's decisions.
//
// Broker epochs. Reads of a registration carry its broker epoch
// (BrokerInfo.Epoch): larger for every later registration, so a broker that
// bounced is told apart from its previous life.
//
// Notifications. Every implementation publishes an Event after each change it
// observes (its own writes and, for ZooKeeper, other processes' writes seen
// through watches). Events say what to re-read, not the new value, exactly
// like ZooKeeper watches; see Notifier.
//
// Concurrency. Implementations are safe for concurrent use.
package store

import "context"

// Store is the cluster metadata store. See the package comment for the znode
// each method corresponds to.
type Store interface {
	// GetOrCreateClusterID returns the stored cluster id, storing candidate
	// first if there is none yet. Concurrent callers all get the same id.
	GetOrCreateClusterID(ctx context.Context, candidate string) (string, error)

	// RegisterBroker publishes a live broker. It fails with ErrBrokerExists
	// if a broker with the same id is registered (by this store or another
	// live one); a registration left by this store's own expired ZooKeeper
	// session is replaced. Registrations are ephemeral: they vanish with the
	// registering session (ZooKeeper) or process (embedded). Each
	// registration gets a new, larger broker epoch (see Broker).
	RegisterBroker(ctx context.Context, b BrokerInfo) error
	// UnregisterBroker removes a registration (a broker's orderly exit or,
	// in tests, a simulated session loss); if that broker is the
	// controller, control goes too, as when its session ends. Fails with
	// ErrUnknownBroker.
	UnregisterBroker(ctx context.Context, id int32) error
	// Broker returns one registration, with its broker epoch, or
	// ErrUnknownBroker.
	Broker(ctx context.Context, id int32) (BrokerInfo, error)
	// Brokers returns every live registration, sorted by id.
	Brokers(ctx context.Context) ([]BrokerInfo, error)

	// TryBecomeController makes brokerID the controller if there is none,
	// bumps the persistent controller epoch and returns it. If a controller
	// exists (including brokerID itself) it fails with ErrControllerExists.
	TryBecomeController(ctx context.Context, brokerID int32) (epoch int32, err error)
	// Controller returns the current controller and epoch, or
	// ErrNoController.
	Controller(ctx context.Context) (ControllerInfo, error)
	// ResignController gives up control if brokerID holds it; otherwise it
	// fails with ErrNotController.
	ResignController(ctx context.Context, brokerID int32) error

	// CreateTopic stores a topic's assignment and configs atomically. It
	// fails with ErrTopicExists if the topic exists (also while it is marked
	// for deletion). The stored assignment has version 0.
	CreateTopic(ctx context.Context, a TopicAssignment, configs map[string]string) error
	// Topic returns a topic's assignment (with its version) or
	// ErrUnknownTopic.
	Topic(ctx context.Context, name string) (TopicAssignment, error)
	// Topics returns every topic name, sorted.
	Topics(ctx context.Context) ([]string, error)
	// SetAssignment replaces a topic's assignment (CreatePartitions adds
	// partitions this way) if its version is expectedVersion, and returns
	// the new version. ErrUnknownTopic, ErrBadVersion.
	SetAssignment(ctx context.Context, a TopicAssignment, expectedVersion int32) (int32, error)
	// MarkTopicForDeletion records a deletion request. Idempotent.
	// ErrUnknownTopic.
	MarkTopicForDeletion(ctx context.Context, name string) error
	// TopicsMarkedForDeletion lists pending deletion requests, sorted.
	TopicsMarkedForDeletion(ctx context.Context) ([]string, error)
	// DeleteTopic removes a topic entirely: assignment, partition states,
	// config and deletion marker. ErrUnknownTopic.
	DeleteTopic(ctx context.Context, name string) error

	// PartitionState returns one partition's state or ErrNoPartitionState
	// (ErrUnknownTopic if the topic does not exist).
	PartitionState(ctx context.Context, tp TopicPartition) (PartitionState, error)
	// PartitionStates returns the states of a topic's partitions that have
	// one, keyed by partition. ErrUnknownTopic.
	PartitionStates(ctx context.Context, topic string) (map[int32]PartitionState, error)
	// SetPartitionState writes st (its Version field is ignored) if the
	// stored version is expectedVersion, or creates it if expectedVersion is
	// NewVersion and none exists; it returns the new version. The partition
	// must be in the topic's assignment (ErrUnknownTopic,
	// ErrUnknownPartition). ErrBadVersion on conflict.
	SetPartitionState(ctx context.Context, tp TopicPartition, st PartitionState, expectedVersion int32) (int32, error)
	// SetPartitionStates applies several SetPartitionState writes
	// atomically (a ZooKeeper multi): all succeed, or none does and the
	// first failure is returned. It returns the new versions in order. A
	// partition may appear only once (ErrInvalidArgument).
	SetPartitionStates(ctx context.Context, updates []PartitionStateUpdate) ([]int32, error)

	// TopicConfig returns a topic's config overrides (empty, not nil, when
	// there are none). ErrUnknownTopic.
	TopicConfig(ctx context.Context, topic string) (map[string]string, error)
	// SetTopicConfig replaces a topic's config overrides. ErrUnknownTopic.
	SetTopicConfig(ctx context.Context, topic string, configs map[string]string) error

	// AllocateProducerIDBlock reserves the next size producer ids for
	// brokerID. Blocks never overlap and increase across restarts.
	AllocateProducerIDBlock(ctx context.Context, brokerID int32, size int64) (ProducerIDBlock, error)

	// PreferredReplicaElection returns the partitions of a pending
	// preferred-leader election request (/admin/preferred_replica_election,
	// written by Kafka's tools), or nil if there is none.
	PreferredReplicaElection(ctx context.Context) ([]TopicPartition, error)
	// DeletePreferredReplicaElection removes the request once handled (no
	// error if there is none).
	DeletePreferredReplicaElection(ctx context.Context) error

	// PartitionReassignments returns the pending reassignment request
	// (/admin/reassign_partitions: partition -> target replicas), or nil
	// if there is none.
	PartitionReassignments(ctx context.Context) (map[TopicPartition][]int32, error)
	// SetPartitionReassignments replaces the request with m, deleting it
	// when m is empty.
	SetPartitionReassignments(ctx context.Context, m map[TopicPartition][]int32) error

	// Fenced returns a view of this store whose writes are fenced by
	// controllerEpoch: every method that writes (RegisterBroker,
	// UnregisterBroker, TryBecomeController, ResignController, CreateTopic,
	// SetAssignment, MarkTopicForDeletion, DeleteTopic, SetPartitionState,
	// SetPartitionStates, SetTopicConfig, AllocateProducerIDBlock,
	// GetOrCreateClusterID when it creates) succeeds only while the stored
	// controller epoch is still controllerEpoch, atomically with the write,
	// and fails with ErrControllerMoved otherwise. Reads and Subscribe are
	// the store's own. The view shares the store's connection: closing the
	// view does nothing, closing the store closes it. Fenced of a view
	// replaces its epoch.
	Fenced(controllerEpoch int32) Store

	// Subscribe returns a subscription to change events of the given kinds
	// (all kinds if none are given). Close it when done.
	Subscribe(kinds ...EventKind) *Subscription

	// Close releases the store. Later calls fail with ErrClosed.
	Close() error
}
