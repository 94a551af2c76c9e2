package group

import (
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// State is a classic group's state, named as Kafka names it.
type State int8

// Group states. Transitions (Kafka's):
//
//	Empty -> PreparingRebalance (a member joins) | Dead (deleted/expired)
//	PreparingRebalance -> CompletingRebalance (join done, members) | Empty (join done, none)
//	CompletingRebalance -> Stable (leader synced) | PreparingRebalance
//	Stable -> PreparingRebalance
const (
	Empty State = iota
	PreparingRebalance
	CompletingRebalance
	Stable
	Dead
)

// String returns Kafka's name of the state ("PreparingRebalance").
func (s State) String() string {
	switch s {
	case Empty:
		return "Empty"
	case PreparingRebalance:
		return "PreparingRebalance"
	case CompletingRebalance:
		return "CompletingRebalance"
	case Stable:
		return "Stable"
	default:
		return "Dead"
	}
}

type topicPartition struct {
	topic     string
	partition int32
}

// group is one classic group. Every field is guarded by its shard's mutex.
//
// Invariants:
//
//	leader == "" iff members is empty, else members[leader] exists;
//	static[i] == id iff members[id].instanceID == i;
//	pendingSync ⊆ keys(members), non-empty only in CompletingRebalance/Stable;
//	protocol != "" iff state is CompletingRebalance or Stable (or Empty/
//	Stable after a load);
//	a member's join (sync) waiter is set only in PreparingRebalance
//	(CompletingRebalance), while the response is being delivered, or (join,
//	Stable) while a static member's replacement record is being committed.
type group struct {
	id         string
	state      State
	stateTime  time.Time // when state was entered (currentStateTimestamp)
	generation int32
	// protocolType is "" for groups that only store offsets (simple
	// consumers), else the type all members share.
	protocolType string
	protocol     string // selected protocol of the generation
	leader       string
	members      map[string]*member
	static       map[string]string    // group.instance.id -> member id
	pending      map[string]time.Time // MEMBER_ID_REQUIRED ids -> session deadline
	pendingSync  map[string]bool      // members of the generation yet to sync
	syncDeadline time.Time            // zero when no sync deadline runs
	seq          uint64               // join order of the next member

	// Rebalance timers (PreparingRebalance only).
	joinDeadline     time.Time
	initialDelay     bool          // the join waits out group.initial.rebalance.delay.ms
	initialRemaining time.Duration // what the initial delay may still extend by
	newMemberAdded   bool

	// subscribed holds the topics of the consumer members' subscriptions
	// for the generation; subscribedKnown is false when the group is not a
	// consumer group or a subscription did not parse.
	subscribed      map[string]bool
	subscribedKnown bool

	offsets map[topicPartition]OffsetValue
	// offsetPos is the __consumer_offsets offset of the last record
	// applied to each partition's committed offset (a commit or a
	// tombstone), for records appended since the partition was loaded.
	// A commit whose append completes after a later record for the same
	// partition was applied is not applied (the log's order wins), as
	// Kafka's GroupMetadata.onOffsetCommitAppend.
	offsetPos map[topicPartition]int64
	// commitsInFlight counts OffsetCommits appended and waiting to be
	// committed (without the shard's lock); such a group is not unused.
	commitsInFlight int
}

// applyOffset sets tp's committed offset to v, written at log offset pos,
// unless a later record for tp was applied already.
func (g *group) applyOffset(tp topicPartition, v OffsetValue, pos int64) {
	if last, ok := g.offsetPos[tp]; ok && last > pos {
		return
	}
	if g.offsetPos == nil {
		g.offsetPos = make(map[topicPartition]int64)
	}
	g.offsets[tp] = v
	g.offsetPos[tp] = pos
}

// removeOffset deletes tp's committed offset, tombstoned at log offset pos.
func (g *group) removeOffset(tp topicPartition, pos int64) {
	delete(g.offsets, tp)
	if g.offsetPos == nil {
		g.offsetPos = make(map[topicPartition]int64)
	}
	g.offsetPos[tp] = max(g.offsetPos[tp], pos)
}

// member is one member of a group.
type member struct {
	id               string
	instanceID       *string
	clientID         string
	clientHost       string
	protocols        []kmsg.JoinGroupRequestProtocol // in preference order
	rebalanceTimeout time.Duration
	sessionTimeout   time.Duration
	assignment       []byte
	lastHeartbeat    time.Time
	isNew            bool // joined in the rebalance now running
	seq              uint64

	join *joinWait // set while the member awaits the join response
	sync *syncWait // set while the member awaits the sync response
}

type joinWait struct {
	ch      chan *kmsg.JoinGroupResponse // buffered 1
	version int16
}

type syncWait struct {
	ch      chan *kmsg.SyncGroupResponse // buffered 1
	version int16
}

func newGroup(id string, now time.Time) *group {
	return &group{
		id:          id,
		state:       Empty,
		stateTime:   now,
		members:     make(map[string]*member),
		static:      make(map[string]string),
		pending:     make(map[string]time.Time),
		pendingSync: make(map[string]bool),
		offsets:     make(map[topicPartition]OffsetValue),
	}
}

func (g *group) transition(s State, now time.Time) {
	g.state = s
	g.stateTime = now
}

// sortedMembers returns the members in join order.
func (g *group) sortedMembers() []*member {
	out := make([]*member, 0, len(g.members))
	for _, m := range g.members {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].seq < out[j].seq })
	return out
}

// unused reports whether the group holds nothing worth keeping (a group
// created by a request that then failed).
func (g *group) unused() bool {
	return g.state == Empty && len(g.members) == 0 && len(g.pending) == 0 &&
		len(g.offsets) == 0 && g.generation == 0 && g.commitsInFlight == 0
}

// rebalanceTimeout is the largest rebalance timeout of the members.
func (g *group) rebalanceTimeout() time.Duration {
	var d time.Duration
	for _, m := range g.members {
		d = max(d, m.rebalanceTimeout)
	}
	return d
}

func (g *group) isStaticFenced(instanceID *string, memberID string) bool {
	if instanceID == nil {
		return false
	}
	id, ok := g.static[*instanceID]
	return ok && id != memberID
}

func (m *member) supports(name string) bool {
	for _, p := range m.protocols {
		if p.Name == name {
			return true
		}
	}
	return false
}

func (m *member) metadata(name string) []byte {
	for _, p := range m.protocols {
		if p.Name == name {
			return p.Metadata
		}
	}
	return nil
}

// matches reports whether protocols equal the member's (names, order and
// metadata).
func (m *member) matches(protocols []kmsg.JoinGroupRequestProtocol) bool {
	if len(protocols) != len(m.protocols) {
		return false
	}
	for i, p := range protocols {
		if p.Name != m.protocols[i].Name || string(p.Metadata) != string(m.protocols[i].Metadata) {
			return false
		}
	}
	return true
}

// supportsProtocols is Kafka's check for a joining member: an empty group
// takes any non-empty type and protocol list; otherwise the type must match
// and one of the protocols must be supported by every current member.
func (g *group) supportsProtocols(protocolType string, protocols []kmsg.JoinGroupRequestProtocol) bool {
	if len(g.members) == 0 {
		return protocolType != "" && len(protocols) > 0
	}
	if protocolType != g.protocolType {
		return false
	}
	for _, p := range protocols {
		all := true
		for _, m := range g.members {
			if !m.supports(p.Name) {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

// selectProtocol picks the protocol of the next generation as Kafka does:
// among the protocols every member supports, each member votes for the
// first one in its own preference order, and the most votes win. Ties go to
// the candidate the earliest-joined member prefers.
func (g *group) selectProtocol() string {
	ms := g.sortedMembers()
	if len(ms) == 0 {
		return ""
	}
	var candidates []string
	for _, p := range ms[0].protocols {
		all := true
		for _, m := range ms[1:] {
			if !m.supports(p.Name) {
				all = false
				break
			}
		}
		if all {
			candidates = append(candidates, p.Name)
		}
	}
	if len(candidates) == 0 {
		return ""
	}
	isCandidate := make(map[string]bool, len(candidates))
	for _, c := range candidates {
		isCandidate[c] = true
	}
	votes := make(map[string]int, len(candidates))
	for _, m := range ms {
		for _, p := range m.protocols {
			if isCandidate[p.Name] {
				votes[p.Name]++
				break
			}
		}
	}
	best := candidates[0]
	for _, c := range candidates[1:] {
		if votes[c] > votes[best] {
			best = c
		}
	}
	return best
}

// computeSubscribed records the consumer members' subscribed topics for the
// selected protocol.
func (g *group) computeSubscribed() {
	g.subscribed, g.subscribedKnown = nil, false
	if g.protocolType != ConsumerProtocolType || g.protocol == "" {
		return
	}
	set := make(map[string]bool)
	for _, m := range g.members {
		topics, ok := subscribedTopics(m.metadata(g.protocol))
		if !ok {
			return
		}
		for _, t := range topics {
			set[t] = true
		}
	}
	g.subscribed, g.subscribedKnown = set, true
}

// isSubscribedTo reports whether a member may consume topic. A consumer
// group whose subscriptions did not parse counts as subscribed to every
// topic (Kafka answers "not subscribed" there; Strom prefers not to delete
// offsets a member may be using).
func (g *group) isSubscribedTo(topic string) bool {
	if g.protocolType != ConsumerProtocolType || len(g.members) == 0 {
		return false
	}
	if !g.subscribedKnown {
		return true
	}
	return g.subscribed[topic]
}

// value returns the group's GroupMetadataValue; with assign set, the
// members' assignments are assign's (none for a member it lacks), as the
// leader's SyncGroup persists them before they apply.
func (g *group) value(assign map[string][]byte) GroupValue {
	v := GroupValue{
		ProtocolType:          g.protocolType,
		Generation:            g.generation,
		CurrentStateTimestamp: g.stateTime.UnixMilli(),
	}
	if g.protocol != "" {
		p := g.protocol
		v.Protocol = &p
	}
	if g.leader != "" {
		l := g.leader
		v.Leader = &l
	}
	for _, m := range g.sortedMembers() {
		v.Members = append(v.Members, MemberValue{
			MemberID:         m.id,
			GroupInstanceID:  m.instanceID,
			ClientID:         m.clientID,
			ClientHost:       m.clientHost,
			RebalanceTimeout: int32(m.rebalanceTimeout / time.Millisecond),
			SessionTimeout:   int32(m.sessionTimeout / time.Millisecond),
			Subscription:     m.metadata(g.protocol),
			Assignment:       m.assignment,
		})
		if assign != nil {
			v.Members[len(v.Members)-1].Assignment = assign[m.id]
		}
	}
	return v
}

// record returns the group's metadata record (see value).
func (g *group) record(assign map[string][]byte) kv {
	return kv{key: EncodeGroupKey(g.id), value: EncodeGroupValue(g.value(assign))}
}

// tombstones returns the records deleting the group and all its offsets.
func (g *group) tombstones() []kv {
	recs := make([]kv, 0, len(g.offsets)+1)
	for _, tp := range sortedTPs(g.offsets) {
		recs = append(recs, kv{key: EncodeOffsetKey(g.id, tp.topic, tp.partition)})
	}
	return append(recs, kv{key: EncodeGroupKey(g.id)})
}

func sortedTPs(m map[topicPartition]OffsetValue) []topicPartition {
	out := make([]topicPartition, 0, len(m))
	for tp := range m {
		out = append(out, tp)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].topic != out[j].topic {
			return out[i].topic < out[j].topic
		}
		return out[i].partition < out[j].partition
	})
	return out
}
