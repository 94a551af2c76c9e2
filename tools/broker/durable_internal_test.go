package broker

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/net/client"
	"github.com/strom-broker/strom/replication"
)

// TestDurableAcksTopicConfig: durable.acks.enable as a topic config
// reaches the partition's replica at creation and on a config change:
// with it, an acks=all answer means the record is fsynced (below the
// log's recovery point); switched off, acks=all answers with nothing
// fsynced. A value that is not a boolean is INVALID_CONFIG.
func TestDurableAcksTopicConfig(t *testing.T) {
	b := startInternal(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, b.Addr(), "durable-test")
	require.NoError(t, err)
	defer c.Close()

	create := func(name, value string) int16 {
		req := kmsg.NewPtrCreateTopicsRequest()
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, 1, 1
		cfg := kmsg.NewCreateTopicsRequestTopicConfig()
		cfg.Name, cfg.Value = durableAcksKey, &value
		rt.Configs = append(rt.Configs, cfg)
		req.Topics, req.TimeoutMillis = append(req.Topics, rt), 30000
		return send[*kmsg.CreateTopicsResponse](t, c, req, 5).Topics[0].ErrorCode
	}
	assert.Equal(t, kerr.InvalidConfig.Code, create("bad", "maybe"))
	require.Zero(t, create("durable", "true"))

	var r *replication.Partition
	eventually(t, "the replica exists and leads", func() bool {
		var ok bool
		r, ok = b.parts.get("durable", 0)
		return ok && r.IsLeader()
	})
	assert.True(t, r.DurableAcks())

	produce := func() int64 {
		preq := kmsg.NewPtrProduceRequest()
		preq.Acks, preq.TimeoutMillis = -1, 30000
		pt := kmsg.NewProduceRequestTopic()
		pt.Topic = "durable"
		pp := kmsg.NewProduceRequestTopicPartition()
		pp.Partition, pp.Records = 0, testBatch("v")
		pt.Partitions = append(pt.Partitions, pp)
		preq.Topics = append(preq.Topics, pt)
		sp := send[*kmsg.ProduceResponse](t, c, preq, 9).Topics[0].Partitions[0]
		require.Zero(t, sp.ErrorCode)
		return sp.BaseOffset
	}
	for range 3 {
		off := produce()
		assert.Greater(t, r.Log().RecoveryPoint(), off, "acknowledged only once fsynced")
	}

	alter := kmsg.NewPtrIncrementalAlterConfigsRequest()
	res := kmsg.NewIncrementalAlterConfigsRequestResource()
	res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeTopic, "durable"
	cfg := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
	cfg.Name, cfg.Op, cfg.Value = durableAcksKey, kmsg.IncrementalAlterConfigOpSet, kmsg.StringPtr("false")
	res.Configs = append(res.Configs, cfg)
	alter.Resources = append(alter.Resources, res)
	require.Zero(t, send[*kmsg.IncrementalAlterConfigsResponse](t, c, alter, 1).Resources[0].ErrorCode)
	eventually(t, "durable acks switched off", func() bool { return !r.DurableAcks() })
	synced := r.Log().RecoveryPoint()
	off := produce()
	assert.Equal(t, synced, r.Log().RecoveryPoint(), "Kafka's default: acknowledged with nothing fsynced")
	assert.GreaterOrEqual(t, off, synced)
}
