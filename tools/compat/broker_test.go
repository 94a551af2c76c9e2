package compat

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// startBroker starts a single broker on a loopback port for the life of t
// and returns its bootstrap address ("127.0.0.1:port").
//
// This is the suite's only seam to the broker under test. Today it starts
// franz-go's in-process kfake cluster; to test Strom, start Strom's broker
// in-process here instead (on 127.0.0.1:0, data dir under t.TempDir(),
// stopped in t.Cleanup) and return its listener address. The broker must
// allow CreateTopics; the suite creates every topic it uses explicitly.
// Everything below this function exists only for kfake and goes with it.
func startBroker(t *testing.T) (bootstrap string) {
	t.Helper()
	// kfake listens on 127.0.0.1 with a port the kernel picks.
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	require.NoError(t, err, "start kfake cluster")
	t.Cleanup(c.Close)
	addrs := c.ListenAddrs()
	require.Len(t, addrs, 1)
	advertiseProduceV0(t, c, addrs[0])
	return addrs[0]
}

// advertiseProduceV0 makes kfake's ApiVersions answer list Produce from
// version 0, as Kafka and Strom do. kfake only accepts Produce v3+, and
// librdkafka quietly turns gzip, snappy and lz4 off when the broker does not
// list Produce v0 (it still sends v3+ here, so kfake never sees v0-2).
func advertiseProduceV0(t *testing.T, c *kfake.Cluster, bootstrap string) {
	t.Helper()
	// Take kfake's own answer once, then serve it with the one change.
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap))
	require.NoError(t, err)
	probe, err := kmsg.NewPtrApiVersionsRequest().RequestWith(t.Context(), cl)
	cl.Close()
	require.NoError(t, err, "kfake ApiVersions")
	keys := slices.Clone(probe.ApiKeys)
	for i := range keys {
		if keys[i].ApiKey == int16(kmsg.Produce) {
			keys[i].MinVersion = 0
		}
	}
	c.ControlKey(int16(kmsg.ApiVersions), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		r := req.(*kmsg.ApiVersionsRequest)
		if r.Version > probe.Version {
			return nil, nil, false // kfake answers versions it lacks itself
		}
		resp := r.ResponseKind().(*kmsg.ApiVersionsResponse)
		resp.ApiKeys = slices.Clone(keys)
		resp.SupportedFeatures = probe.SupportedFeatures
		resp.FinalizedFeaturesEpoch = probe.FinalizedFeaturesEpoch
		resp.FinalizedFeatures = probe.FinalizedFeatures
		return resp, nil, true
	})
}
