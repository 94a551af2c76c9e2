package broker_test

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/net/client"
	"github.com/strom-broker/strom/tools/broker/brokertest"
)

// describeTopic returns a topic's configs by name.
func describeTopic(t *testing.T, c *client.Client, topic string) map[string]kmsg.DescribeConfigsResponseResourceConfig {
	t.Helper()
	req := kmsg.NewPtrDescribeConfigsRequest()
	r := kmsg.NewDescribeConfigsRequestResource()
	r.ResourceType, r.ResourceName = kmsg.ConfigResourceTypeTopic, topic
	req.Resources = append(req.Resources, r)
	resp := request[*kmsg.DescribeConfigsResponse](t, c, req, 4)
	require.Len(t, resp.Resources, 1)
	require.Zero(t, resp.Resources[0].ErrorCode, code(resp.Resources[0].ErrorCode))
	out := map[string]kmsg.DescribeConfigsResponseResourceConfig{}
	for _, cfg := range resp.Resources[0].Configs {
		out[cfg.Name] = cfg
	}
	return out
}

// assertConfig checks one described config's value and source.
func assertConfig(t *testing.T, cfgs map[string]kmsg.DescribeConfigsResponseResourceConfig, name, value string, source kmsg.ConfigSource) {
	t.Helper()
	c, ok := cfgs[name]
	if !assert.True(t, ok, "%s described", name) {
		return
	}
	assert.Equal(t, value, deref(c.Value), name)
	assert.Equal(t, source.String(), c.Source.String(), "%s source", name)
}

// segmentFiles counts a partition's .log files.
func segmentFiles(t *testing.T, b *brokertest.Broker, topic string, p int) int {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(b.Dir, topic+"-"+strconv.Itoa(p), "*.log"))
	require.NoError(t, err)
	return len(m)
}

// TestTopicConfigs: DescribeConfigs shows a topic's overrides (source
// TOPIC) and defaults; AlterConfigs replaces the overrides and
// IncrementalAlterConfigs edits them; the open partition log picks the
// change up (a small segment.bytes rolls segments; a small retention.ms
// deletes old ones).
func TestTopicConfigs(t *testing.T) {
	b := brokertest.Start(t, "log.retention.check.interval.ms=20")
	const topic = "configs"
	createTopic(t, b, topic, 1, "retention.ms=3600000", "cleanup.policy=delete")
	c := rawConn(t, b)

	cfgs := describeTopic(t, c, topic)
	assertConfig(t, cfgs, "retention.ms", "3600000", kmsg.ConfigSourceDynamicTopicConfig)
	assertConfig(t, cfgs, "cleanup.policy", "delete", kmsg.ConfigSourceDynamicTopicConfig)
	assertConfig(t, cfgs, "segment.bytes", "1073741824", kmsg.ConfigSourceDefaultConfig)
	assertConfig(t, cfgs, "max.message.bytes", "1048588", kmsg.ConfigSourceDefaultConfig)

	// AlterConfigs replaces the whole set: retention.ms goes back to the
	// default.
	ac := kmsg.NewPtrAlterConfigsRequest()
	ar := kmsg.NewAlterConfigsRequestResource()
	ar.ResourceType, ar.ResourceName = kmsg.ConfigResourceTypeTopic, topic
	seg := "1024"
	arc := kmsg.NewAlterConfigsRequestResourceConfig()
	arc.Name, arc.Value = "segment.bytes", &seg
	ar.Configs = append(ar.Configs, arc)
	ac.Resources = append(ac.Resources, ar)
	acr := request[*kmsg.AlterConfigsResponse](t, c, ac, 2)
	require.Len(t, acr.Resources, 1)
	require.Zero(t, acr.Resources[0].ErrorCode, deref(acr.Resources[0].ErrorMessage))
	cfgs = describeTopic(t, c, topic)
	assertConfig(t, cfgs, "segment.bytes", "1024", kmsg.ConfigSourceDynamicTopicConfig)
	assertConfig(t, cfgs, "retention.ms", "604800000", kmsg.ConfigSourceDefaultConfig)

	// The log rolls at 1 KiB once the change reaches it (asynchronously):
	// keep producing until there are several segments.
	produced := 0
	waitFor(t, "segments to roll at segment.bytes=1024", func() bool {
		// Current timestamps: the default retention (7 days) keeps them.
		require.Zero(t, produceOne(t, c, topic, 0, 1, rawBatch(time.Now().UnixMilli(), make([]byte, 300))).ErrorCode)
		produced++
		return segmentFiles(t, b, topic, 0) >= 3
	})

	incremental := func(validateOnly bool, ops ...kmsg.IncrementalAlterConfigsRequestResourceConfig) {
		t.Helper()
		req := kmsg.NewPtrIncrementalAlterConfigsRequest()
		req.ValidateOnly = validateOnly
		r := kmsg.NewIncrementalAlterConfigsRequestResource()
		r.ResourceType, r.ResourceName, r.Configs = kmsg.ConfigResourceTypeTopic, topic, ops
		req.Resources = append(req.Resources, r)
		resp := request[*kmsg.IncrementalAlterConfigsResponse](t, c, req, 1)
		require.Len(t, resp.Resources, 1)
		require.Zero(t, resp.Resources[0].ErrorCode, deref(resp.Resources[0].ErrorMessage))
	}
	op := func(name string, op kmsg.IncrementalAlterConfigOp, v string) kmsg.IncrementalAlterConfigsRequestResourceConfig {
		c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		c.Name, c.Op, c.Value = name, op, &v
		return c
	}
	incremental(true, op("retention.ms", kmsg.IncrementalAlterConfigOpSet, "1"))
	cfgs = describeTopic(t, c, topic)
	assertConfig(t, cfgs, "retention.ms", "604800000", kmsg.ConfigSourceDefaultConfig)
	assertConfig(t, cfgs, "segment.bytes", "1024", kmsg.ConfigSourceDynamicTopicConfig)

	incremental(false,
		op("retention.ms", kmsg.IncrementalAlterConfigOpSet, "1"),
		// APPEND to an unset list starts from its default ("delete").
		op("cleanup.policy", kmsg.IncrementalAlterConfigOpAppend, "compact"),
		op("cleanup.policy", kmsg.IncrementalAlterConfigOpSubtract, "compact"),
		op("max.message.bytes", kmsg.IncrementalAlterConfigOpSet, "5000"),
		op("max.message.bytes", kmsg.IncrementalAlterConfigOpDelete, ""),
	)
	cfgs = describeTopic(t, c, topic)
	assertConfig(t, cfgs, "retention.ms", "1", kmsg.ConfigSourceDynamicTopicConfig)
	assertConfig(t, cfgs, "segment.bytes", "1024", kmsg.ConfigSourceDynamicTopicConfig)
	assertConfig(t, cfgs, "cleanup.policy", "delete", kmsg.ConfigSourceDynamicTopicConfig)
	assertConfig(t, cfgs, "max.message.bytes", "1048588", kmsg.ConfigSourceDefaultConfig)

	// With retention.ms=1 every closed segment goes and the log start
	// moves up.
	epoch := leaderEpoch(t, c, topic)
	waitFor(t, "retention to delete old segments", func() bool {
		return listOffset(t, c, topic, -2, epoch).Offset > 0
	})
	assert.Equal(t, int64(produced), listOffset(t, c, topic, -1, epoch).Offset, "the log end stays")
	_, err := os.Stat(filepath.Join(b.Dir, topic+"-0", "00000000000000000000.log"))
	assert.True(t, os.IsNotExist(err), "the first segment was deleted: %v", err)
}
