package compat

// Shared pieces of the consumer group tests: a broker whose rebalances
// start at once and which accepts short sessions, waiting on a group's
// described state, and reading committed offsets.

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strom-broker/strom/tools/broker/brokertest"
)

// groupBrokerOverrides: no initial rebalance delay (Kafka's 3 s would only
// slow the tests), sessions down to 1 s, and a small __consumer_offsets.
var groupBrokerOverrides = []string{
	"group.initial.rebalance.delay.ms=0",
	"group.min.session.timeout.ms=1000",
	"offsets.topic.num.partitions=5",
}

// startGroupBroker starts a broker configured for group tests.
func startGroupBroker(t testing.TB, extra ...string) *brokertest.Broker {
	t.Helper()
	return brokertest.Start(t, append(append([]string(nil), groupBrokerOverrides...), extra...)...)
}

// groupView is a described group reduced to what the tests check.
type groupView struct {
	State string
	// Owners maps each assigned partition of the topic to the client ids
	// of the members assigned it.
	Owners map[int32][]string
	// Clients are the members' client ids, sorted.
	Clients []string
}

// describeGroup returns group g's view for topic.
func describeGroup(ctx context.Context, adm *kadm.Client, g, topic string) (groupView, error) {
	d, err := adm.DescribeGroups(ctx, g)
	if err != nil {
		return groupView{}, err
	}
	dg := d[g]
	if dg.Err != nil {
		return groupView{}, dg.Err
	}
	v := groupView{State: dg.State, Owners: map[int32][]string{}}
	for _, m := range dg.Members {
		v.Clients = append(v.Clients, m.ClientID)
		a, ok := m.Assigned.AsConsumer()
		if !ok {
			continue
		}
		for _, at := range a.Topics {
			if at.Topic != topic {
				continue
			}
			for _, p := range at.Partitions {
				v.Owners[p] = append(v.Owners[p], m.ClientID)
			}
		}
	}
	sort.Strings(v.Clients)
	return v, nil
}

// exactlyOneOwner returns an error unless each of partitions 0..n-1 has
// exactly one owner and no other partition is assigned.
func (v groupView) exactlyOneOwner(n int32) error {
	if int32(len(v.Owners)) != n {
		return fmt.Errorf("%d partitions assigned, want %d: %v", len(v.Owners), n, v.Owners)
	}
	for p := range n {
		if len(v.Owners[p]) != 1 {
			return fmt.Errorf("partition %d has owners %v", p, v.Owners[p])
		}
	}
	return nil
}

// waitGroup polls DescribeGroups until ok accepts the view, failing t
// after a generous deadline. It returns the accepted view.
func waitGroup(t *testing.T, adm *kadm.Client, g, topic string, what string, ok func(groupView) bool) groupView {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var last groupView
	var lastErr error
	for {
		v, err := describeGroup(ctx, adm, g, topic)
		if err == nil && ok(v) {
			return v
		}
		last, lastErr = v, err
		select {
		case <-ctx.Done():
			t.Fatalf("group %s never reached %s; last view %+v, err %v", g, what, last, lastErr)
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// stableWith accepts a Stable group whose members are exactly clients and
// whose assignment gives each of the n partitions exactly one owner.
func stableWith(n int32, clients ...string) func(groupView) bool {
	want := append([]string(nil), clients...)
	sort.Strings(want)
	return func(v groupView) bool {
		return v.State == "Stable" && strings.Join(v.Clients, ",") == strings.Join(want, ",") && v.exactlyOneOwner(n) == nil
	}
}

// committedOffsets returns group g's committed offset per partition of
// topic (partitions without one are absent).
func committedOffsets(t *testing.T, adm *kadm.Client, g, topic string) map[int32]int64 {
	t.Helper()
	resp, err := adm.FetchOffsets(caseContext(t), g)
	require.NoError(t, err)
	require.NoError(t, resp.Error())
	out := map[int32]int64{}
	resp.Each(func(o kadm.OffsetResponse) {
		if o.Topic == topic && o.At >= 0 {
			out[o.Partition] = o.At
		}
	})
	return out
}

// produceValues produces records with values prefix+i, i in [from, to),
// keyed by value so that they spread over the topic's partitions, and
// waits for them.
func produceValues(t *testing.T, cl *kgo.Client, topic, prefix string, from, to int) {
	t.Helper()
	recs := make([]*kgo.Record, 0, to-from)
	for i := from; i < to; i++ {
		v := fmt.Appendf(nil, "%s%d", prefix, i)
		recs = append(recs, &kgo.Record{Topic: topic, Key: v, Value: v})
	}
	require.NoError(t, cl.ProduceSync(caseContext(t), recs...).FirstErr())
}

// valueSet returns the values prefix+i for i in [from, to).
func valueSet(prefix string, from, to int) []string {
	out := make([]string, 0, to-from)
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("%s%d", prefix, i))
	}
	return out
}
