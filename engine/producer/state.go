// Package producer keeps the idempotent-producer state of one partition:
// for every producer id, its current epoch and the metadata of its last
// NumBatchesToRetain appended batches, so the leader can tell a retried
// batch (a duplicate, answered with the original offsets without a second
// append) from a new one, and a gap in sequence numbers from a valid next
// batch. The rules follow Kafka's ProducerStateManager.
//
// # Rules (Check)
//
// For a batch of an idempotent producer (ProducerID >= 0):
//
//   - Unknown producer id: accepted whatever its first sequence. Clients
//     (franz-go, librdkafka, the Java client) start a new producer at
//     sequence 0, but since Kafka 2.5 (KIP-360) a broker that has no state
//     for a producer, because expiry removed it (or TruncateHead, which
//     the partition log no longer calls when its start moves, as Kafka
//     keeps the state since KAFKA-7190), accepts any sequence rather than answering UNKNOWN_PRODUCER_ID; Strom
//     does the same, so a long-idle producer keeps working.
//   - Same epoch and exactly the sequence range of one of the retained
//     batches: Duplicate, with that batch's offsets and timestamp.
//   - Epoch below the current one: ErrInvalidProducerEpoch (Kafka >= 2.7
//     answers INVALID_PRODUCER_EPOCH rather than PRODUCER_FENCED).
//   - Epoch above the current one (a bump): the first sequence must be 0,
//     else ErrOutOfOrderSequence.
//   - Same epoch: the first sequence must follow the last retained one
//     (last+1, or 0 after math.MaxInt32), else ErrOutOfOrderSequence. With
//     no retained batch the expected first sequence is 0.
//   - A non-transactional batch while the producer has an open transaction:
//     ErrInvalidTxnState.
//
// Check does not change the state; Update records a batch once appended.
// Replicas and log recovery call Update without Check, as Kafka does.
//
// # Snapshots
//
// "<20-digit offset>.snapshot" files in the partition directory hold the
// state as of that offset in Kafka's layout (version 1), all big-endian:
//
//	version            int16  = 1
//	crc                uint32 CRC-32C (Castagnoli) of every byte after it
//	count              int32  number of entries
//	count x entry (46 bytes):
//	  producerId            int64
//	  epoch                 int16
//	  lastSequence          int32  (-1: no batch retained)
//	  lastOffset            int64  (-1: no batch retained)
//	  offsetDelta           int32  lastOffset - first offset of the last batch
//	  timestamp             int64  max timestamp of the last batch
//	  coordinatorEpoch      int32
//	  currentTxnFirstOffset int64  (-1: no open transaction)
//
// Like Kafka's, a snapshot keeps only the LAST batch of each producer: after
// a reload, a retry of one of the older retained batches is not recognised
// as a duplicate (it fails the sequence check with OUT_OF_ORDER_SEQUENCE
// instead). Replaying the log after the snapshot offset restores the full
// window for batches appended since. Snapshots are written crash-safely
// (tmp file, fsync, rename, fsync dir); LoadLatestSnapshot deletes a corrupt
// snapshot and falls back to the next older one.
//
// # Truncation
//
// The exact way to truncate the log's end to offset o is Kafka's reload:
// DeleteSnapshotsAfter(dir, o), LoadLatestSnapshot(dir), then Update with
// every batch from the snapshot offset up to o. TruncateTo(o) is a cheaper
// in-memory alternative: it forgets batches with LastOffset >= o and
// producers left with none, which is sound (it never invents state) but may
// remember fewer batches than a replay would.
//
// # Concurrency
//
// A State is safe for concurrent use; one mutex guards it. The partition
// log still must serialise Check+append+Update per partition so that no
// other batch slips in between a Check and its Update.
package producer

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"sync"
	"time"
)

// Constants of the protocol and of Kafka's behaviour.
const (
	// NumBatchesToRetain is how many of a producer's latest batches are
	// remembered for duplicate detection (Kafka's value; clients keep at
	// most 5 requests in flight for this reason).
	NumBatchesToRetain = 5
	// NoProducerID marks a batch of a non-idempotent producer.
	NoProducerID int64 = -1
	// NoProducerEpoch is the epoch of a producer never seen.
	NoProducerEpoch int16 = -1
	// NoSequence is the sequence of a producer with no retained batch.
	NoSequence int32 = -1
	// DefaultProducerIDExpiration is Kafka's producer.id.expiration.ms
	// (and transactional.id.expiration.ms) default: one day.
	DefaultProducerIDExpiration = 24 * time.Hour
)

// Errors returned by Check; the comment names the Kafka error code.
var (
	// ErrOutOfOrderSequence is OUT_OF_ORDER_SEQUENCE_NUMBER (45).
	ErrOutOfOrderSequence = errors.New("producer: out of order sequence number")
	// ErrInvalidProducerEpoch is INVALID_PRODUCER_EPOCH (47).
	ErrInvalidProducerEpoch = errors.New("producer: invalid producer epoch")
	// ErrInvalidTxnState is INVALID_TXN_STATE (48).
	ErrInvalidTxnState = errors.New("producer: invalid transaction state")
)

// BatchMeta describes one record batch as far as producer state cares.
// LastSequence is BaseSequence + lastOffsetDelta, wrapping past
// math.MaxInt32 to 0 as in Kafka.
type BatchMeta struct {
	ProducerID    int64
	ProducerEpoch int16
	BaseSequence  int32
	LastSequence  int32
	FirstOffset   int64
	LastOffset    int64
	MaxTimestamp  int64
	Transactional bool
}

// Batch is what is retained of one appended batch.
type Batch struct {
	FirstSequence int32
	LastSequence  int32
	FirstOffset   int64
	LastOffset    int64
	// Timestamp is the batch's max timestamp (ms).
	Timestamp int64
}

// Entry is the state of one producer id.
type Entry struct {
	ProducerID int64
	Epoch      int16
	// Batches are the latest retained batches, oldest first. Invariant: at
	// most NumBatchesToRetain, all appended under Epoch, in log order.
	Batches []Batch
	// CoordinatorEpoch is the epoch of the transaction coordinator that
	// wrote the last end-transaction marker, or -1.
	CoordinatorEpoch int32
	// LastTimestamp is the timestamp of the last batch or marker (ms); it
	// drives expiry.
	LastTimestamp int64
	// CurrentTxnFirstOffset is the first offset of the open transaction,
	// or -1 when none is open.
	CurrentTxnFirstOffset int64
}

// LastSequence returns the last sequence retained, or NoSequence.
func (e *Entry) LastSequence() int32 {
	if len(e.Batches) == 0 {
		return NoSequence
	}
	return e.Batches[len(e.Batches)-1].LastSequence
}

// clone deep-copies e.
func (e *Entry) clone() *Entry {
	c := *e
	c.Batches = slices.Clone(e.Batches)
	return &c
}

// Verdict is the outcome of a successful Check.
type Verdict struct {
	// Duplicate reports that the batch was already appended; the broker
	// answers with Original's offsets and does not append again.
	Duplicate bool
	// Original is the retained batch the duplicate repeats.
	Original Batch
}

// State is the producer state of one partition.
type State struct {
	mu sync.Mutex
	// producers maps a producer id to its entry. Invariant: keys equal the
	// entries' ProducerID and are never NoProducerID. Guarded by mu.
	producers map[int64]*Entry
}

// New returns an empty State.
func New() *State { return &State{producers: map[int64]*Entry{}} }

// inSequence reports whether next directly follows last.
func inSequence(last, next int32) bool {
	return int64(next) == int64(last)+1 || (next == 0 && last == math.MaxInt32)
}

// Check validates a batch about to be appended by the leader; see the
// package documentation for the rules. Non-idempotent batches (ProducerID
// NoProducerID) always pass. Check changes nothing.
func (s *State) Check(m BatchMeta) (Verdict, error) {
	if m.ProducerID == NoProducerID {
		return Verdict{}, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.producers[m.ProducerID]
	if !ok {
		return Verdict{}, nil
	}
	if m.ProducerEpoch == e.Epoch {
		for _, b := range e.Batches {
			if b.FirstSequence == m.BaseSequence && b.LastSequence == m.LastSequence {
				return Verdict{Duplicate: true, Original: b}, nil
			}
		}
	}
	switch {
	case m.ProducerEpoch < e.Epoch:
		return Verdict{}, fmt.Errorf("%w: producer %d epoch %d is older than current epoch %d",
			ErrInvalidProducerEpoch, m.ProducerID, m.ProducerEpoch, e.Epoch)
	case m.ProducerEpoch > e.Epoch:
		if m.BaseSequence != 0 && e.Epoch != NoProducerEpoch {
			return Verdict{}, fmt.Errorf("%w: producer %d new epoch %d must start at sequence 0, not %d",
				ErrOutOfOrderSequence, m.ProducerID, m.ProducerEpoch, m.BaseSequence)
		}
	default:
		if last := e.LastSequence(); !inSequence(last, m.BaseSequence) {
			return Verdict{}, fmt.Errorf("%w: producer %d epoch %d: sequence %d does not follow %d",
				ErrOutOfOrderSequence, m.ProducerID, m.ProducerEpoch, m.BaseSequence, last)
		}
	}
	if e.CurrentTxnFirstOffset >= 0 && !m.Transactional {
		return Verdict{}, fmt.Errorf("%w: producer %d wrote a non-transactional batch inside the transaction open since offset %d",
			ErrInvalidTxnState, m.ProducerID, e.CurrentTxnFirstOffset)
	}
	return Verdict{}, nil
}

// Update records an appended batch (after Check on the leader; directly on
// replicas and during recovery). A batch of a new epoch discards the
// batches of the old one. Non-idempotent batches are ignored.
func (s *State) Update(m BatchMeta) {
	if m.ProducerID == NoProducerID {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.entryLocked(m.ProducerID)
	if e.Epoch != m.ProducerEpoch {
		e.Epoch = m.ProducerEpoch
		e.Batches = e.Batches[:0]
	}
	if len(e.Batches) == NumBatchesToRetain {
		e.Batches = append(e.Batches[:0], e.Batches[1:]...)
	}
	e.Batches = append(e.Batches, Batch{
		FirstSequence: m.BaseSequence,
		LastSequence:  m.LastSequence,
		FirstOffset:   m.FirstOffset,
		LastOffset:    m.LastOffset,
		Timestamp:     m.MaxTimestamp,
	})
	e.LastTimestamp = m.MaxTimestamp
	if m.Transactional && e.CurrentTxnFirstOffset < 0 {
		e.CurrentTxnFirstOffset = m.FirstOffset
	}
}

// entryLocked returns pid's entry, creating an empty one.
// REQUIRES: s.mu is held.
func (s *State) entryLocked(pid int64) *Entry {
	e, ok := s.producers[pid]
	if !ok {
		e = &Entry{ProducerID: pid, Epoch: NoProducerEpoch, CoordinatorEpoch: -1, CurrentTxnFirstOffset: -1}
		s.producers[pid] = e
	}
	return e
}

// EndTxn records a transaction marker (commit or abort) of producer pid at
// markerOffset and returns the first offset of the transaction it closed,
// if one was open. It updates the producer's epoch (discarding batches of
// an older epoch) and coordinator epoch, as Kafka does.
func (s *State) EndTxn(pid int64, epoch int16, coordinatorEpoch int32, timestamp int64) (firstOffset int64, wasOpen bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.entryLocked(pid)
	firstOffset, wasOpen = e.CurrentTxnFirstOffset, e.CurrentTxnFirstOffset >= 0
	if e.Epoch != epoch {
		e.Epoch = epoch
		e.Batches = e.Batches[:0]
	}
	e.CurrentTxnFirstOffset = -1
	e.CoordinatorEpoch = coordinatorEpoch
	e.LastTimestamp = timestamp
	return firstOffset, wasOpen
}

// Entry returns a copy of pid's state.
func (s *State) Entry(pid int64) (Entry, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.producers[pid]
	if !ok {
		return Entry{}, false
	}
	return *e.clone(), true
}

// Entries returns copies of all entries, sorted by producer id.
func (s *State) Entries() []Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Entry, 0, len(s.producers))
	for _, pid := range slices.Sorted(maps.Keys(s.producers)) {
		out = append(out, *s.producers[pid].clone())
	}
	return out
}

// Len returns the number of producers tracked.
func (s *State) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.producers)
}

// Clone returns a deep copy of s.
func (s *State) Clone() *State {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := New()
	for pid, e := range s.producers {
		c.producers[pid] = e.clone()
	}
	return c
}

// RemoveExpired forgets producers with no open transaction whose last
// timestamp is at least expiration before now (Kafka's
// producer.id.expiration.ms, DefaultProducerIDExpiration). It returns how
// many were removed.
func (s *State) RemoveExpired(now time.Time, expiration time.Duration) int {
	nowMs, expMs := now.UnixMilli(), expiration.Milliseconds()
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for pid, e := range s.producers {
		if e.CurrentTxnFirstOffset < 0 && nowMs-e.LastTimestamp >= expMs {
			delete(s.producers, pid)
			n++
		}
	}
	return n
}

// TruncateHead applies a new log start offset: batches ending before it are
// forgotten, and so is every producer whose last batch ends before it
// (Kafka's truncateHead; such a producer is then unknown and accepted with
// any sequence).
func (s *State) TruncateHead(logStartOffset int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for pid, e := range s.producers {
		e.Batches = slices.DeleteFunc(e.Batches, func(b Batch) bool { return b.LastOffset < logStartOffset })
		if len(e.Batches) == 0 {
			delete(s.producers, pid)
		}
	}
}

// TruncateTo applies a truncation of the log's end to offset (offsets >=
// offset are gone): batches with LastOffset >= offset are forgotten,
// producers left with no batch are removed, and a transaction opened at or
// after offset is closed. See the package documentation for how this
// compares with reloading from a snapshot.
func (s *State) TruncateTo(offset int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for pid, e := range s.producers {
		e.Batches = slices.DeleteFunc(e.Batches, func(b Batch) bool { return b.LastOffset >= offset })
		if e.CurrentTxnFirstOffset >= offset {
			e.CurrentTxnFirstOffset = -1
		}
		if len(e.Batches) == 0 && e.CurrentTxnFirstOffset < 0 {
			delete(s.producers, pid)
			continue
		}
		if n := len(e.Batches); n > 0 {
			e.LastTimestamp = e.Batches[n-1].Timestamp
		}
	}
}
