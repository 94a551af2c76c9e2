package compat

// Each real client consumes as a consumer group: kcat's balanced consumer
// (-G), kafka-python's KafkaConsumer(group_id=...), sarama's ConsumerGroup,
// kafkajs' consumer and segmentio/kafka-go's Reader with a GroupID. Every
// client reads a 3-partition topic through its group, must commit what it
// read (the committed offsets equal the end offsets afterwards), and a
// second run with the same group must resume: it gets exactly the records
// produced since, none of the old ones.

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// groupConsume has a client join group, read n records of topic and leave;
// it returns the values read.
type groupConsume func(t *testing.T, bootstrap, topic, group string, n int) []string

// runGroupClient checks that consume reads, commits and resumes, on a
// broker of its own.
func runGroupClient(t *testing.T, consume groupConsume) {
	t.Helper()
	runGroupClientOn(t, startGroupBroker(t).Addr(), consume)
}

// runGroupClientOn is runGroupClient against bootstrap bs.
func runGroupClientOn(t *testing.T, bs string, consume groupConsume) {
	t.Helper()
	topic := topicFor(t) + ".grouped"
	createTopic(t, bs, topic, 3)
	// Uncompressed, so that clients without optional codec modules can
	// read it.
	prod := newKgo(t, bs, kgo.ProducerBatchCompression(kgo.NoCompression()))
	adm := kadm.NewClient(newKgo(t, bs))
	group := topic + ".group"

	produceValues(t, prod, topic, "a", 0, 300)
	assert.ElementsMatch(t, valueSet("a", 0, 300), consume(t, bs, topic, group, 300), "first run")
	assert.Equal(t, endOffsets(t, bs, topic), committedOffsets(t, adm, group, topic), "committed after the first run")

	produceValues(t, prod, topic, "b", 0, 90)
	assert.ElementsMatch(t, valueSet("b", 0, 90), consume(t, bs, topic, group, 90), "second run resumes")
	assert.Equal(t, endOffsets(t, bs, topic), committedOffsets(t, adm, group, topic), "committed after the second run")
}

// lines splits a client's stdout into values.
func lines(out []byte) []string {
	return strings.Fields(string(out))
}

// runScript runs a client command and returns its stdout lines.
func runScript(t *testing.T, cmd *exec.Cmd) []string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "%s; stderr:\n%s", cmd, tail(stderr.String(), 4000))
	if s := strings.TrimSpace(stderr.String()); s != "" {
		t.Logf("%s stderr:\n%s", cmd.Path, tail(s, 2000))
	}
	return lines(stdout.Bytes())
}

func TestKcatGroup(t *testing.T) {
	requireCommand(t, "kcat")
	runGroupClient(t, kcatGroup)
}

// kcatGroup is kcat's balanced consumer (-G).
func kcatGroup(t *testing.T, bs, topic, group string, n int) []string {
	return runScript(t, exec.CommandContext(caseContext(t), "kcat", "-b", bs, "-G", group,
		"-X", "auto.offset.reset=earliest", "-c", strconv.Itoa(n), "-q", "-f", `%s\n`, topic))
}

func TestKafkaPythonGroup(t *testing.T) {
	runGroupClient(t, kafkaPythonGroup(requirePythonKafka(t), testdataPath(t, "kafka_python_group.py")))
}

// kafkaPythonGroup is kafka-python's KafkaConsumer with a group_id.
func kafkaPythonGroup(python, script string) groupConsume {
	return func(t *testing.T, bs, topic, group string, n int) []string {
		return runScript(t, exec.CommandContext(caseContext(t), python, script, bs, topic, group, strconv.Itoa(n)))
	}
}

func TestKafkaJSGroup(t *testing.T) {
	node, modules := requireKafkaJS(t)
	runGroupClient(t, kafkaJSGroup(node, modules, testdataPath(t, "kafkajs_group.js")))
}

// kafkaJSGroup is a kafkajs consumer in a group.
func kafkaJSGroup(node, modules, script string) groupConsume {
	return func(t *testing.T, bs, topic, group string, n int) []string {
		cmd := exec.CommandContext(caseContext(t), node, script, bs, topic, group, strconv.Itoa(n))
		cmd.Env = append(os.Environ(), "NODE_PATH="+modules)
		return runScript(t, cmd)
	}
}

// saramaHandler collects values until it has n, marking each message.
type saramaHandler struct {
	mu     sync.Mutex
	values []string
	n      int
	done   chan struct{}
}

func (h *saramaHandler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (h *saramaHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }

func (h *saramaHandler) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	for m := range c.Messages() {
		h.mu.Lock()
		h.values = append(h.values, string(m.Value))
		if len(h.values) == h.n {
			close(h.done)
		}
		h.mu.Unlock()
		s.MarkMessage(m, "")
	}
	return nil
}

func TestSaramaGroup(t *testing.T) { runGroupClient(t, saramaGroup) }

// saramaGroup is sarama's ConsumerGroup.
func saramaGroup(t *testing.T, bs, topic, group string, n int) []string {
	cfg := sarama.NewConfig()
	cfg.ClientID = "sarama-group"
	cfg.Version = sarama.V2_8_0_0
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.MaxWaitTime = 200 * time.Millisecond
	cg, err := sarama.NewConsumerGroup([]string{bs}, group, cfg)
	require.NoError(t, err)
	h := &saramaHandler{n: n, done: make(chan struct{})}
	ctx, cancel := context.WithCancel(caseContext(t))
	consumed := make(chan error, 1)
	go func() {
		var err error
		for ctx.Err() == nil && err == nil {
			err = cg.Consume(ctx, []string{topic}, h)
		}
		consumed <- err
	}()
	select {
	case <-h.done:
	case <-ctx.Done():
	}
	cancel()
	if err := <-consumed; err != nil && !errors.Is(err, context.Canceled) {
		require.NoError(t, err)
	}
	require.NoError(t, cg.Close()) // commits the marked offsets
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.values
}

func TestKafkaGoGroup(t *testing.T) { runGroupClient(t, kafkaGoGroup) }

// kafkaGoGroup is segmentio/kafka-go's Reader with a GroupID.
func kafkaGoGroup(t *testing.T, bs, topic, group string, n int) []string {
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers: []string{bs}, Topic: topic, GroupID: group,
		StartOffset: kafka.FirstOffset, MaxWait: 200 * time.Millisecond,
	})
	ctx := caseContext(t)
	var values []string
	for len(values) < n {
		m, err := r.ReadMessage(ctx) // commits synchronously (CommitInterval 0)
		require.NoError(t, err, "after %d of %d records", len(values), n)
		values = append(values, string(m.Value))
	}
	require.NoError(t, r.Close())
	return values
}
