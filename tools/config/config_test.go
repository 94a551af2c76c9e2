package config

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// load parses text, fills defaults and validates.
func load(t *testing.T, text string, overrides ...string) (*Config, error) {
	t.Helper()
	c, err := Parse(strings.NewReader(text), "test.properties")
	if err != nil {
		return nil, err
	}
	if err := c.ApplyOverrides(overrides); err != nil {
		return nil, err
	}
	c.EnsureDefaults()
	return c, c.Validate()
}

func TestDefaults(t *testing.T) {
	c := Default()
	require.NoError(t, c.Validate())
	assert.Equal(t, int32(0), c.BrokerID)
	assert.Equal(t, []Listener{{Name: "PLAINTEXT", SecurityProtocol: "PLAINTEXT", Port: 9092}}, c.Listeners)
	assert.Equal(t, c.Listeners, c.AdvertisedListeners)
	assert.Equal(t, []string{"/tmp/strom-logs"}, c.LogDirs)
	assert.Equal(t, int32(1), c.NumPartitions)
	assert.Equal(t, int16(1), c.DefaultReplicationFactor)
	assert.True(t, c.AutoCreateTopicsEnable)
	assert.Equal(t, int64(7*24*3600*1000), c.LogRetentionMs)
	assert.Equal(t, int64(-1), c.LogRetentionBytes)
	assert.Equal(t, int32(1<<30), c.LogSegmentBytes)
	assert.Equal(t, int64(7*24*3600*1000), c.LogRollMs)
	assert.Equal(t, int32(4096), c.LogIndexIntervalBytes)
	assert.Equal(t, int32(10<<20), c.LogIndexSizeMaxBytes)
	assert.Equal(t, int64(math.MaxInt64), c.LogFlushIntervalMessages)
	assert.Equal(t, int64(math.MaxInt64), c.LogFlushIntervalMs)
	assert.Equal(t, int32(1<<20+12), c.MessageMaxBytes)
	assert.Equal(t, int64(86400000), c.LogCleanerDeleteRetentionMs)
	assert.Equal(t, 0.5, c.LogCleanerMinCleanableRatio)
	assert.Equal(t, []string{"delete"}, c.LogCleanupPolicy)
	assert.Equal(t, int32(100<<20), c.SocketRequestMaxBytes)
	assert.Equal(t, int64(-1), c.QueuedMaxRequestBytes)
	assert.Equal(t, int64(30000), c.ReplicaLagTimeMaxMs)
	assert.Equal(t, int32(1), c.MinInsyncReplicas)
	assert.False(t, c.UncleanLeaderElectionEnable)
	assert.Equal(t, int32(50), c.OffsetsTopicNumPartitions)
	assert.Equal(t, int16(1), c.OffsetsTopicReplicationFactor, "embedded mode")
	assert.Equal(t, "CreateTime", c.LogMessageTimestampType)
	assert.True(t, c.Embedded())
	assert.Equal(t, "18000", c.Values()["zookeeper.connection.timeout.ms"])
	for _, s := range specs {
		_, ok := c.Values()[s.name]
		assert.True(t, ok, "Values lacks %s", s.name)
	}
}

func TestZooKeeperModeDefaults(t *testing.T) {
	c, err := load(t, "zookeeper.connect=zk1:2181,zk2:2181/strom\nzookeeper.session.timeout.ms=9000")
	require.NoError(t, err)
	assert.Equal(t, int32(-1), c.BrokerID)
	assert.Equal(t, int16(3), c.OffsetsTopicReplicationFactor)
	assert.Equal(t, int16(3), c.TransactionStateLogReplicationFactor)
	assert.Equal(t, int32(2), c.TransactionStateLogMinISR)
	assert.Equal(t, int32(9000), c.ZookeeperConnectionTimeoutMs)
	assert.False(t, c.Embedded())
}

func TestParseValues(t *testing.T) {
	tests := []struct {
		name  string
		text  string
		check func(t *testing.T, c *Config)
	}{
		{"broker id", "broker.id=7", func(t *testing.T, c *Config) { assert.Equal(t, int32(7), c.BrokerID) }},
		{"node.id alias", "node.id=4", func(t *testing.T, c *Config) { assert.Equal(t, int32(4), c.BrokerID) }},
		{"colon separator and spaces", "num.partitions :  6  ", func(t *testing.T, c *Config) { assert.Equal(t, int32(6), c.NumPartitions) }},
		{"listeners", "listeners=PLAINTEXT://127.0.0.1:9093,INTERNAL://[::1]:0\nlistener.security.protocol.map=PLAINTEXT:PLAINTEXT,INTERNAL:PLAINTEXT\nadvertised.listeners=PLAINTEXT://h:1,INTERNAL://i:2",
			func(t *testing.T, c *Config) {
				assert.Equal(t, []Listener{{"PLAINTEXT", "PLAINTEXT", "127.0.0.1", 9093}, {"INTERNAL", "PLAINTEXT", "::1", 0}}, c.Listeners)
				assert.Equal(t, "[::1]:0", c.Listeners[1].Addr())
				assert.Equal(t, "INTERNAL://i:2", c.AdvertisedListeners[1].String())
			}},
		{"legacy host.name and port", "host.name=127.0.0.1\nport=9999\nadvertised.host.name=example", func(t *testing.T, c *Config) {
			assert.Equal(t, "127.0.0.1:9999", c.Listeners[0].Addr())
			assert.Equal(t, "example:9999", c.AdvertisedListeners[0].Addr())
		}},
		{"log.dirs continuation", "log.dirs=/a,\\\n   /b , /c", func(t *testing.T, c *Config) { assert.Equal(t, []string{"/a", "/b", "/c"}, c.LogDirs) }},
		{"log.dir fallback", "log.dir=/data", func(t *testing.T, c *Config) { assert.Equal(t, []string{"/data"}, c.LogDirs) }},
		{"log.dirs beats log.dir", "log.dir=/data\nlog.dirs=/x", func(t *testing.T, c *Config) { assert.Equal(t, []string{"/x"}, c.LogDirs) }},
		{"bools any case", "auto.create.topics.enable=FALSE\nunclean.leader.election.enable=True", func(t *testing.T, c *Config) {
			assert.False(t, c.AutoCreateTopicsEnable)
			assert.True(t, c.UncleanLeaderElectionEnable)
		}},
		{"cleanup policy list", "log.cleanup.policy=compact,delete", func(t *testing.T, c *Config) {
			assert.Equal(t, []string{"compact", "delete"}, c.LogCleanupPolicy)
		}},
		{"ratio", "log.cleaner.min.cleanable.ratio=0.25", func(t *testing.T, c *Config) { assert.Equal(t, 0.25, c.LogCleanerMinCleanableRatio) }},
		{"flush ms from scheduler", "log.flush.scheduler.interval.ms=2000", func(t *testing.T, c *Config) { assert.Equal(t, int64(2000), c.LogFlushIntervalMs) }},
		{"flush explicit", "log.flush.interval.messages=1\nlog.flush.interval.ms=5", func(t *testing.T, c *Config) {
			assert.Equal(t, int64(1), c.LogFlushIntervalMessages)
			assert.Equal(t, int64(5), c.LogFlushIntervalMs)
		}},
		{"roll hours", "log.roll.hours=2", func(t *testing.T, c *Config) { assert.Equal(t, int64(7200000), c.LogRollMs) }},
		{"roll ms wins", "log.roll.hours=2\nlog.roll.ms=10", func(t *testing.T, c *Config) { assert.Equal(t, int64(10), c.LogRollMs) }},
		{"last duplicate wins", "num.partitions=2\nnum.partitions=3", func(t *testing.T, c *Config) { assert.Equal(t, int32(3), c.NumPartitions) }},
		{"controller listener dropped", "listeners=PLAINTEXT://:9092,CONTROLLER://:9093\ncontroller.listener.names=CONTROLLER\nlistener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
			func(t *testing.T, c *Config) {
				assert.Equal(t, []Listener{{"PLAINTEXT", "PLAINTEXT", "", 9092}}, c.Listeners)
			}},
		{"ignored keys reported", "num.io.threads=16\nnum.partitions=2\nlog.preallocate=true", func(t *testing.T, c *Config) {
			assert.Equal(t, []string{"log.preallocate", "num.io.threads"}, c.Ignored())
			assert.Equal(t, int32(16), c.NumIOThreads)
			assert.True(t, c.IsSet("num.partitions"))
			assert.False(t, c.IsSet("num.network.threads"))
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := load(t, tc.text)
			require.NoError(t, err)
			tc.check(t, c)
		})
	}
}

func TestRetentionPrecedence(t *testing.T) {
	tests := []struct {
		text string
		want int64
	}{
		{"", 168 * 3600000},
		{"log.retention.hours=1", 3600000},
		{"log.retention.hours=1\nlog.retention.minutes=2", 120000},
		{"log.retention.minutes=2\nlog.retention.ms=5\nlog.retention.hours=1", 5},
		{"log.retention.ms=-1\nlog.retention.hours=1", -1},
		{"log.retention.hours=-1", -1},
		{"log.retention.minutes=-1", -1},
	}
	for _, tc := range tests {
		t.Run(tc.text, func(t *testing.T) {
			c, err := load(t, tc.text)
			require.NoError(t, err)
			assert.Equal(t, tc.want, c.LogRetentionMs)
		})
	}
}

func TestOverridesWin(t *testing.T) {
	c, err := load(t, "num.partitions=2\nbroker.id=1", "num.partitions=8", "log.dirs=/o1,/o2", "broker.id= 3")
	require.NoError(t, err)
	assert.Equal(t, int32(8), c.NumPartitions)
	assert.Equal(t, int32(3), c.BrokerID)
	assert.Equal(t, []string{"/o1", "/o2"}, c.LogDirs)
}

func TestUnknownKey(t *testing.T) {
	_, err := load(t, "num.partitions=1\nlog.retension.hours=5")
	require.ErrorIs(t, err, ErrUnknownKey)
	var ke *KeyError
	require.ErrorAs(t, err, &ke)
	assert.Equal(t, "log.retension.hours", ke.Key)
	assert.Equal(t, "log.retention.hours", ke.Suggestion)
	assert.Equal(t, `test.properties:2: unknown config key "log.retension.hours" (did you mean "log.retention.hours"?)`, err.Error())

	_, err = load(t, "completely.different.thing=1")
	require.ErrorIs(t, err, ErrUnknownKey)
	assert.NotContains(t, err.Error(), "did you mean")

	_, err = load(t, "", "nmu.partitions=3")
	require.ErrorIs(t, err, ErrUnknownKey)
	assert.Contains(t, err.Error(), `--override: unknown config key "nmu.partitions" (did you mean "num.partitions"?)`)
}

func TestMalformedValues(t *testing.T) {
	tests := []struct{ key, value, reason string }{
		{"num.partitions", "many", "not a 32-bit integer"},
		{"num.partitions", "99999999999", "out of range"},
		{"default.replication.factor", "70000", "out of range for a 16-bit integer"},
		{"log.retention.ms", "1.5", "not a 64-bit integer"},
		{"auto.create.topics.enable", "yes", "not true or false"},
		{"log.cleaner.min.cleanable.ratio", "half", "not a number"},
		{"listeners", "localhost:9092", "not NAME://host:port"},
		{"listeners", "PLAINTEXT://localhost", "missing port"},
		{"listeners", "PLAINTEXT://:70000", "not 0-65535"},
		{"listener.security.protocol.map", "PLAINTEXT", "NAME:PROTOCOL"},
		{"num.io.threads", "x", "not a 32-bit integer"},
		{"log.preallocate", "maybe", "not true or false"},
	}
	for _, tc := range tests {
		t.Run(tc.key+"="+tc.value, func(t *testing.T) {
			_, err := load(t, tc.key+"="+tc.value)
			require.ErrorIs(t, err, ErrBadValue)
			var ke *KeyError
			require.ErrorAs(t, err, &ke)
			assert.Equal(t, tc.key, ke.Key)
			assert.Contains(t, err.Error(), tc.key)
			assert.Contains(t, err.Error(), `"`+tc.value+`"`)
			assert.Contains(t, err.Error(), tc.reason)
			assert.Contains(t, err.Error(), "test.properties:1")
		})
	}
}

func TestBadOverride(t *testing.T) {
	for _, o := range []string{"novalue", "=x", ""} {
		_, err := load(t, "", o)
		require.ErrorIs(t, err, ErrBadOverride, o)
	}
	_, err := load(t, "", "num.partitions=x")
	require.ErrorIs(t, err, ErrBadValue)
	assert.Contains(t, err.Error(), "--override")
}

func TestSyntaxError(t *testing.T) {
	_, err := load(t, "a=\\u00")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "test.properties: line 1")
}

func TestValidateReportsEverything(t *testing.T) {
	text := strings.Join([]string{
		"broker.id=-2",
		"num.partitions=0",
		"default.replication.factor=0",
		"log.segment.bytes=10",
		"log.cleanup.policy=delete,shred",
		"log.cleaner.min.cleanable.ratio=1.5",
		"log.message.timestamp.type=WallClock",
		"min.insync.replicas=0",
		"group.min.session.timeout.ms=100",
		"group.max.session.timeout.ms=50",
		"listeners=SSL://:9093,PLAINTEXT://:9093",
		"advertised.listeners=PLAINTEXT://h:0,PLAINTEXT://h:1,OTHER://h:2",
		"log.dirs=/a,/a",
		"replica.fetch.wait.max.ms=60000",
		"inter.broker.listener.name=NOPE",
		"log.index.size.max.bytes=2",
		"log.flush.interval.messages=0",
		"node.id=9",
		"socket.request.max.bytes=0",
		"queued.max.request.bytes=0",
		"offsets.topic.num.partitions=0",
	}, "\n")
	c, err := Parse(strings.NewReader(text), "t")
	require.NoError(t, err)
	c.EnsureDefaults()
	before := c.Values()
	err = c.Validate()
	assert.Equal(t, before, c.Values(), "Validate must not change the config")
	require.ErrorIs(t, err, ErrInvalid)
	var ve *ValidationError
	require.ErrorAs(t, err, &ve)
	keys := map[string]int{}
	for _, p := range ve.Problems {
		keys[p.Key]++
		assert.ErrorIs(t, p, ErrInvalid)
	}
	for _, k := range []string{"broker.id", "num.partitions", "default.replication.factor", "log.segment.bytes",
		"log.cleanup.policy", "log.cleaner.min.cleanable.ratio", "log.message.timestamp.type", "min.insync.replicas",
		"group.max.session.timeout.ms", "listeners", "log.dirs", "replica.fetch.wait.max.ms",
		"inter.broker.listener.name", "log.index.size.max.bytes", "log.flush.interval.messages", "node.id",
		"socket.request.max.bytes", "queued.max.request.bytes", "offsets.topic.num.partitions"} {
		assert.Contains(t, keys, k)
	}
	assert.Equal(t, 3, keys["advertised.listeners"], "port 0, duplicate name, unmapped name")
	assert.Equal(t, 2, keys["listeners"], "SSL, same address twice")
	assert.NotContains(t, err.Error(), "\n", "one line")
	assert.Contains(t, err.Error(), `invalid value "delete,shred" for log.cleanup.policy: unknown policy "shred"`)
}

func TestValidateZooKeeperTimeouts(t *testing.T) {
	_, err := load(t, "zookeeper.connect=zk:2181\nzookeeper.session.timeout.ms=0\nzookeeper.connection.timeout.ms=0")
	var ve *ValidationError
	require.ErrorAs(t, err, &ve)
	assert.Len(t, ve.Problems, 2)
}

func TestEnsureDefaultsIdempotent(t *testing.T) {
	c, err := load(t, "log.retention.minutes=3\nlisteners=PLAINTEXT://127.0.0.1:0")
	require.NoError(t, err)
	first := c.Values()
	c.EnsureDefaults()
	assert.Equal(t, first, c.Values())
	assert.Equal(t, int64(180000), c.LogRetentionMs)
	require.NoError(t, c.Validate())
}

func TestStockFilesParse(t *testing.T) {
	tests := []struct {
		file  string
		check func(t *testing.T, c *Config)
	}{
		{"../../config/server.properties", func(t *testing.T, c *Config) {
			assert.Equal(t, "127.0.0.1:9092", c.Listeners[0].Addr())
			assert.Equal(t, "localhost:9092", c.AdvertisedListeners[0].Addr())
			assert.Equal(t, []string{"/tmp/strom-logs"}, c.LogDirs)
			assert.True(t, c.Embedded())
			assert.Equal(t, int32(0), c.BrokerID)
		}},
		{"testdata/kafka-zk-server.properties", func(t *testing.T, c *Config) {
			assert.Equal(t, "localhost:2181", c.ZookeeperConnect)
			assert.Equal(t, []string{"/tmp/kafka-logs"}, c.LogDirs)
			assert.Equal(t, int16(1), c.OffsetsTopicReplicationFactor)
			assert.Equal(t, ":9092", c.Listeners[0].Addr())
		}},
		{"testdata/kafka-kraft-server.properties", func(t *testing.T, c *Config) {
			assert.Equal(t, int32(1), c.BrokerID)
			assert.Len(t, c.Listeners, 1)
			assert.Equal(t, "localhost:9092", c.AdvertisedListeners[0].Addr())
		}},
		{"testdata/kafka-08-server.properties", func(t *testing.T, c *Config) {
			assert.Equal(t, ":9092", c.Listeners[0].Addr())
			assert.False(t, c.LogCleanerEnable)
			assert.Equal(t, int32(2), c.NumPartitions)
		}},
	}
	for _, tc := range tests {
		t.Run(filepath.Base(tc.file), func(t *testing.T) {
			c, err := Load(tc.file, nil)
			require.NoError(t, err)
			tc.check(t, c)
		})
	}
}

func TestLoadErrors(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "missing.properties"), nil)
	require.ErrorIs(t, err, os.ErrNotExist)

	path := filepath.Join(t.TempDir(), "s.properties")
	require.NoError(t, os.WriteFile(path, []byte("num.partitions=0\n"), 0o644))
	_, err = Load(path, nil)
	require.ErrorIs(t, err, ErrInvalid)
	_, err = Load(path, []string{"num.partitions=4"})
	require.NoError(t, err)
	_, err = Load(path, []string{"bogus"})
	require.True(t, errors.Is(err, ErrBadOverride))

	c, err := Load("", []string{"broker.id=5"})
	require.NoError(t, err)
	assert.Equal(t, int32(5), c.BrokerID)
}

func TestSuggest(t *testing.T) {
	assert.Equal(t, "log.dirs", suggest("log.dir5"))
	assert.Equal(t, "zookeeper.connect", suggest("zookeper.connect"))
	assert.Equal(t, "", suggest("xyz"))
	assert.Equal(t, 3, editDistance("kitten", "sitting"))
}

func TestKeysDocumented(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	for _, k := range Keys() {
		if k.Default == "" && specByName[k.Name].def == derived {
			t.Errorf("derived key %s has no description", k.Name)
		}
		assert.Contains(t, string(readme), "`"+k.Name+"`", "README lacks %s", k.Name)
	}
}
