package clustertest_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strom-broker/strom/tools/clustertest"
)

// startTwoListenerBroker starts broker id with listeners INTERNAL (the
// harness's port) and EXTERNAL (a second port), and returns the EXTERNAL
// address.
func startTwoListenerBroker(c *clustertest.Cluster, t *testing.T, id int32) (*clustertest.Broker, string) {
	ext, err := clustertest.FreePort()
	require.NoError(t, err)
	b := c.NewBroker(id)
	require.NoError(t, b.AppendConfig(
		fmt.Sprintf("listeners=INTERNAL://127.0.0.1:%d,EXTERNAL://127.0.0.1:%d", b.Port, ext),
		"listener.security.protocol.map=INTERNAL:PLAINTEXT,EXTERNAL:PLAINTEXT",
		"inter.broker.listener.name=INTERNAL",
	))
	require.NoError(t, b.Start())
	b.WaitListening()
	return b, "127.0.0.1:" + strconv.Itoa(ext)
}

// TestTwoListeners: brokers with an INTERNAL listener (between brokers:
// inter.broker.listener.name) and an EXTERNAL one (for clients), as
// deployments behind NAT or in containers have them. Metadata answers with
// the endpoints of the listener the client came in on; the controller's
// requests reach the brokers over INTERNAL; clients produce and consume
// through EXTERNAL only.
func TestTwoListenersPerBroker(t *testing.T) {
	c := clustertest.NewCluster(t, ens)
	var internal, external []string
	for id := int32(1); id <= 3; id++ {
		b, ext := startTwoListenerBroker(c, t, id)
		internal = append(internal, b.Addr())
		external = append(external, ext)
	}
	ctx := context.Background()
	extAdm := kadm.NewClient(client(t, external[:1]))
	clustertest.Eventually(t, "EXTERNAL metadata lists the EXTERNAL endpoints", func(ctx context.Context) error {
		md, err := extAdm.Metadata(ctx)
		if err != nil {
			return err
		}
		var got []string
		for _, b := range md.Brokers {
			got = append(got, fmt.Sprintf("%s:%d", b.Host, b.Port))
		}
		slices.Sort(got)
		want := slices.Sorted(slices.Values(external))
		if !slices.Equal(got, want) {
			return fmt.Errorf("brokers %v, want %v", got, want)
		}
		return nil
	})
	intMD, err := kadm.NewClient(client(t, internal[:1])).Metadata(ctx)
	require.NoError(t, err)
	var got []string
	for _, b := range intMD.Brokers {
		got = append(got, fmt.Sprintf("%s:%d", b.Host, b.Port))
	}
	assert.ElementsMatch(t, internal, got, "INTERNAL metadata lists the INTERNAL endpoints")

	resp, err := extAdm.CreateTopic(ctx, 6, 1, nil, "outside")
	require.NoError(t, err)
	require.NoError(t, resp.Err)
	prod := client(t, external[1:2], kgo.DefaultProduceTopic("outside"))
	for i := 0; i < 60; i++ {
		prod.Produce(ctx, &kgo.Record{Value: []byte(strconv.Itoa(i))}, nil)
	}
	require.NoError(t, prod.Flush(ctx))
	cons := client(t, external[2:], kgo.ConsumeTopics("outside"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	n := 0
	pctx, cancel := context.WithTimeout(ctx, clustertest.Deadline)
	defer cancel()
	for n < 60 {
		fs := cons.PollFetches(pctx)
		require.NoError(t, pctx.Err(), "consumed %d", n)
		n += fs.NumRecords()
	}
}
