package faultbed

import (
	"slices"
	"testing"

	"github.com/strom-broker/strom/tools/clustertest"
	"github.com/strom-broker/strom/tools/faultbed/lazyfs"
)

// onLazyFS prepares c for machine crashes when opts enables them: every
// broker's log dir on a lazyfs mount, and durable acks on (with Kafka's
// default, a machine crash loses acknowledged records by design, which
// the checker would rightly report; see the root README's durability
// section). It skips t when FUSE is missing.
func onLazyFS(t testing.TB, c *clustertest.Cluster, opts Options) {
	if !slices.Contains(opts.Kinds, MachineCrash) {
		return
	}
	if err := lazyfs.Available(); err != nil {
		t.Skipf("skipping: the machine-crash fault needs FUSE: %v", err)
	}
	c.LazyFS = true
	c.Config = append(c.Config, "durable.acks.enable=true")
}
