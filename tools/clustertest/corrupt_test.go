package clustertest_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strom-broker/strom/tools/clustertest"
)

// TestCorruptZnodesAreSkipped: hand-written garbage in one topic's
// assignment znode and in another topic's partition state znode is logged
// with its path and that topic skipped; every other topic is served, also
// by a controller elected afterwards.
func TestCorruptZnodesAreSkipped(t *testing.T) {
	c, bs := startThree(t)
	ctx := context.Background()
	adm := kadm.NewClient(client(t, addrs(bs...)))
	for _, name := range []string{"healthy", "damaged"} {
		resp, err := adm.CreateTopic(ctx, 3, 1, nil, name)
		require.NoError(t, err)
		require.NoError(t, resp.Err)
	}
	zkc := plainZK(t, c.Connect)
	require.NoError(t, zkc.Create("/brokers/topics/garbage", []byte(`{"version":1,"partitions":{"0":[1]`)))
	_, err := zkc.Conn.Set(c.Chroot+"/brokers/topics/damaged/partitions/0/state", []byte("not json"), -1)
	require.NoError(t, err)

	// Force a controller fail-over: the new controller reads everything.
	controller, _ := controllerOf(t, zkc)
	bs[controller-1].Kill()
	survivor := bs[controller%3]
	clustertest.Eventually(t, "a new controller serves the healthy topic", func(ctx context.Context) error {
		id, _ := controllerOf(t, zkc)
		if id < 0 || id == controller {
			return fmt.Errorf("controller %d", id)
		}
		md, err := metadataFrom(ctx, t, survivor)
		if err != nil {
			return err
		}
		if md.Controller != id {
			return fmt.Errorf("metadata names controller %d", md.Controller)
		}
		return nil
	})
	require.NoError(t, bs[controller-1].Start())
	bs[controller-1].WaitListening()
	clustertest.Eventually(t, "every healthy partition has a leader", func(ctx context.Context) error {
		l, err := leaders(ctx, t, survivor, "healthy")
		if err != nil {
			return err
		}
		for p, id := range l {
			if id < 0 {
				return fmt.Errorf("partition %d has no leader", p)
			}
		}
		return nil
	})
	prod := client(t, addrs(bs...), kgo.DefaultProduceTopic("healthy"))
	require.NoError(t, prod.ProduceSync(ctx, &kgo.Record{Value: []byte("still served")}).FirstErr())

	var logs strings.Builder
	for _, b := range bs {
		logs.WriteString(b.Log())
	}
	assert.Contains(t, logs.String(), "/brokers/topics/garbage", "the unreadable znode is named in a log")
	assert.Contains(t, logs.String(), "/brokers/topics/damaged/partitions/0/state")
}
