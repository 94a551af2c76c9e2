package compat

// Consumer groups through franz-go against the real broker: membership
// churn (a member joining late, one leaving, one cut off the network
// without leaving) with every partition owned exactly once, and a 100,000
// record topic consumed by a group of three with nothing missing and
// nothing delivered twice.

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// cutDialer dials real connections until cut, then closes them all and
// refuses new ones: the member it serves falls silent without leaving its
// group, as if its process was killed or its network partitioned.
type cutDialer struct {
	mu    sync.Mutex
	cut   bool
	conns []net.Conn
}

func (d *cutDialer) dial(ctx context.Context, network, host string) (net.Conn, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cut {
		return nil, fmt.Errorf("dial %s: network cut by the test", host)
	}
	c, err := (&net.Dialer{}).DialContext(ctx, network, host)
	if err == nil {
		d.conns = append(d.conns, c)
	}
	return c, err
}

func (d *cutDialer) cutOff() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.cut = true
	for _, c := range d.conns {
		_ = c.Close()
	}
}

// ownership is the assignment as members report it through kgo's
// callbacks. A partition assigned to a member while a live member still
// holds it is a violation (cooperative rebalancing revokes before it
// reassigns). Members cut off the network are dead: they may still believe
// they own partitions until they notice, and are not counted.
type ownership struct {
	mu         sync.Mutex
	owners     map[int32]string
	dead       map[string]bool
	violations []string
}

func newOwnership() *ownership {
	return &ownership{owners: map[int32]string{}, dead: map[string]bool{}}
}

func (o *ownership) assigned(member string, ps []int32) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, p := range ps {
		if cur, ok := o.owners[p]; ok && cur != member && !o.dead[cur] {
			o.violations = append(o.violations, fmt.Sprintf("partition %d assigned to %s while %s holds it", p, member, cur))
		}
		o.owners[p] = member
	}
}

func (o *ownership) released(member string, ps []int32) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, p := range ps {
		if o.owners[p] == member {
			delete(o.owners, p)
		}
	}
}

func (o *ownership) kill(member string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.dead[member] = true
}

// liveOwners returns partition -> owner among live members.
func (o *ownership) liveOwners() map[int32]string {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := map[int32]string{}
	for p, m := range o.owners {
		if !o.dead[m] {
			out[p] = m
		}
	}
	return out
}

// hooks returns the kgo options reporting member's assignment to o.
func (o *ownership) hooks(member, topic string) []kgo.Opt {
	pick := func(m map[string][]int32) []int32 { return m[topic] }
	return []kgo.Opt{
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { o.assigned(member, pick(m)) }),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { o.released(member, pick(m)) }),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { o.released(member, pick(m)) }),
	}
}

// TestFranzGroupMembershipChurn: members a and b share a 6-partition
// topic, c joins late, b leaves cleanly, c is cut off the network; after
// its session times out its partitions move to a. At each step the broker's
// DescribeGroups and the members' own callbacks agree that every partition
// has exactly one owner.
func TestFranzGroupMembershipChurn(t *testing.T) {
	b := startGroupBroker(t)
	bs := b.Addr()
	const parts = 6
	topic := topicFor(t)
	createTopic(t, bs, topic, parts)
	adm := kadm.NewClient(newKgo(t, bs))
	group := "churn"
	own := newOwnership()

	member := func(name string, extra ...kgo.Opt) *kgo.Client {
		opts := append([]kgo.Opt{
			kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.ClientID(name),
			kgo.SessionTimeout(3 * time.Second), kgo.HeartbeatInterval(200 * time.Millisecond),
		}, own.hooks(name, topic)...)
		cl, err := kgo.NewClient(append(append(opts, kgo.SeedBrokers(bs)), extra...)...)
		require.NoError(t, err)
		return cl
	}
	// agree waits until DescribeGroups shows exactly clients, stable, each
	// partition owned once, and the callbacks report the same owners.
	agree := func(what string, clients ...string) {
		t.Helper()
		waitGroup(t, adm, group, topic, what, func(v groupView) bool {
			if !stableWith(parts, clients...)(v) {
				return false
			}
			live := own.liveOwners()
			if len(live) != parts {
				return false
			}
			for p, owners := range v.Owners {
				if live[p] != owners[0] {
					return false
				}
			}
			return true
		})
	}

	a := member("a")
	defer a.Close()
	bm := member("b")
	agree("a and b", "a", "b")

	cut := &cutDialer{}
	c := member("c", kgo.Dialer(cut.dial))
	agree("c joined late", "a", "b", "c")
	v, err := describeGroup(caseContext(t), adm, group, topic)
	require.NoError(t, err)
	perMember := map[string]int{}
	for _, o := range v.Owners {
		perMember[o[0]]++
	}
	assert.Equal(t, map[string]int{"a": 2, "b": 2, "c": 2}, perMember, "balanced over three members")

	bm.Close()
	agree("b left", "a", "c")

	own.kill("c")
	cut.cutOff()
	agree("c timed out", "a")
	for p, m := range own.liveOwners() {
		assert.Equal(t, "a", m, "partition %d", p)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = c.LeaveGroupContext(ctx) // its network is gone: do not wait for a leave
	c.Close()

	own.mu.Lock()
	defer own.mu.Unlock()
	assert.Empty(t, own.violations)
}

// TestFranzGroupConsumesEverythingOnce: three members consume a 100,000
// record, 6-partition topic, processing each polled batch before allowing a
// rebalance and committing what they processed (on revoke and on leave).
// Members join while consumption is under way, so partitions move; still
// every record is delivered exactly once, and the final commits equal the
// end offsets.
func TestFranzGroupConsumesEverythingOnce(t *testing.T) {
	b := startGroupBroker(t)
	bs := b.Addr()
	const (
		parts   = 6
		records = 100_000
	)
	topic := topicFor(t)
	createTopic(t, bs, topic, parts)
	prod := newKgo(t, bs, kgo.ProducerLinger(5*time.Millisecond))
	produceValues(t, prod, topic, "", 0, records)

	group := "once"
	var mu sync.Mutex
	seen := make(map[string]int, records)
	dups := 0
	done := make(chan struct{})
	var doneOnce sync.Once

	ctx := caseContext(t)
	var wg sync.WaitGroup
	for i := range 3 {
		cl, err := kgo.NewClient(kgo.SeedBrokers(bs), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
			kgo.ClientID(fmt.Sprintf("m%d", i)), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
			kgo.BlockRebalanceOnPoll(), kgo.AutoCommitMarks(), kgo.FetchMaxBytes(256<<10))
		require.NoError(t, err)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer cl.CloseAllowingRebalance()
			for {
				select {
				case <-done:
					return
				default:
				}
				pollCtx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
				fs := cl.PollRecords(pollCtx, 1000)
				cancel()
				if ctx.Err() != nil {
					return
				}
				mu.Lock()
				fs.EachRecord(func(r *kgo.Record) {
					k := string(r.Value)
					if seen[k]++; seen[k] > 1 {
						dups++
					}
				})
				if len(seen) == records {
					doneOnce.Do(func() { close(done) })
				}
				mu.Unlock()
				cl.MarkCommitRecords(fs.Records()...)
				cl.AllowRebalance()
			}
		}()
	}
	select {
	case <-done:
	case <-ctx.Done():
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, seen, records, "records delivered")
	assert.Zero(t, dups, "records delivered more than once")
	for _, v := range valueSet("", 0, records) {
		if seen[v] != 1 {
			t.Fatalf("record %s delivered %d times", v, seen[v])
		}
	}
	adm := kadm.NewClient(newKgo(t, bs))
	assert.Equal(t, endOffsets(t, bs, topic), committedOffsets(t, adm, group, topic), "committed offsets after all members left")
}

// TestFranzGroupStaticMemberRestart: a static member (group.instance.id)
// that restarts within its session gets its old partitions back without a
// rebalance: the other member sees no revocation or new assignment.
func TestFranzGroupStaticMemberRestart(t *testing.T) {
	b := startGroupBroker(t)
	bs := b.Addr()
	const parts = 4
	topic := topicFor(t)
	createTopic(t, bs, topic, parts)
	adm := kadm.NewClient(newKgo(t, bs))
	group := "static"

	var mu sync.Mutex
	events := map[string][]string{}
	assignedTo := map[string][]int32{}
	member := func(instance string) *kgo.Client {
		rec := func(what string) func(context.Context, *kgo.Client, map[string][]int32) {
			return func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
				mu.Lock()
				defer mu.Unlock()
				events[instance] = append(events[instance], fmt.Sprintf("%s%v", what, m[topic]))
				if what == "assigned" {
					assignedTo[instance] = append([]int32(nil), m[topic]...)
				}
			}
		}
		cl, err := kgo.NewClient(kgo.SeedBrokers(bs), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
			kgo.ClientID(instance), kgo.InstanceID(instance), kgo.Balancers(kgo.RangeBalancer()),
			kgo.SessionTimeout(30*time.Second), kgo.HeartbeatInterval(200*time.Millisecond),
			kgo.OnPartitionsAssigned(rec("assigned")), kgo.OnPartitionsRevoked(rec("revoked")), kgo.OnPartitionsLost(rec("lost")))
		require.NoError(t, err)
		return cl
	}
	s1 := member("s1")
	s2 := member("s2")
	defer s2.Close()
	waitGroup(t, adm, group, topic, "s1 and s2 stable", stableWith(parts, "s1", "s2"))
	// Both have seen their assignment of the final generation.
	waitFor(t, "both members assigned", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(assignedTo["s1"])+len(assignedTo["s2"]) == parts && len(assignedTo["s1"]) > 0 && len(assignedTo["s2"]) > 0
	})
	mu.Lock()
	before := append([]int32(nil), assignedTo["s1"]...)
	s2Events := len(events["s2"])
	delete(assignedTo, "s1")
	mu.Unlock()

	s1.Close() // static: no LeaveGroup, the member stays in the group
	v, err := describeGroup(caseContext(t), adm, group, topic)
	require.NoError(t, err)
	assert.Equal(t, []string{"s1", "s2"}, v.Clients, "a static member that closes stays a member")

	s1 = member("s1")
	defer s1.Close()
	waitFor(t, "restarted s1 assigned", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return assignedTo["s1"] != nil
	})
	waitGroup(t, adm, group, topic, "stable again", stableWith(parts, "s1", "s2"))
	mu.Lock()
	defer mu.Unlock()
	assert.ElementsMatch(t, before, assignedTo["s1"], "restarted static member's partitions")
	assert.Len(t, events["s2"], s2Events, "the other member saw no rebalance: %v", events["s2"])
}

// waitFor polls cond until it holds, failing t after a generous deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
