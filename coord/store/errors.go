package store

import "errors"

// Errors returned by every Store implementation, wrapped with context; test
// them with errors.Is. The broker maps them to Kafka error codes.
var (
	// ErrTopicExists: CreateTopic of a topic that exists.
	ErrTopicExists = errors.New("topic already exists")
	// ErrUnknownTopic: the topic does not exist.
	ErrUnknownTopic = errors.New("unknown topic")
	// ErrUnknownPartition: the partition is not in the topic's assignment.
	ErrUnknownPartition = errors.New("unknown partition")
	// ErrNoPartitionState: the partition exists but has no state yet.
	ErrNoPartitionState = errors.New("partition has no state")
	// ErrBadVersion: a compare-and-set found another version.
	ErrBadVersion = errors.New("version conflict")
	// ErrBrokerExists: RegisterBroker of an id that is registered.
	ErrBrokerExists = errors.New("broker already registered")
	// ErrUnknownBroker: no broker is registered with that id.
	ErrUnknownBroker = errors.New("unknown broker")
	// ErrControllerExists: TryBecomeController while a controller exists.
	ErrControllerExists = errors.New("controller already elected")
	// ErrNoController: no controller is elected.
	ErrNoController = errors.New("no controller")
	// ErrNotController: ResignController by a broker that is not the
	// controller.
	ErrNotController = errors.New("not the controller")
	// ErrControllerMoved: a write through a fenced view (Store.Fenced)
	// after another controller was elected; nothing was changed. Kafka's
	// ControllerMovedException.
	ErrControllerMoved = errors.New("controller moved: a newer controller epoch exists")
	// ErrUnavailable: the metadata store cannot be reached (ZooKeeper down,
	// no quorum, or the connection lost mid-request). For a write, the
	// outcome is unknown: re-read before retrying.
	ErrUnavailable = errors.New("metadata store unavailable")
	// ErrInvalidArgument: a malformed request (negative block size, empty
	// topic name, ...).
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrCorrupt: stored metadata cannot be decoded.
	ErrCorrupt = errors.New("corrupt metadata")
	// ErrClosed: the store is closed.
	ErrClosed = errors.New("store closed")
)
