package proctest

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTopicsRefusesToDeleteInternalTopics: deleting __consumer_offsets is
// refused with Kafka's message and exit 1, and the group's offsets are
// still there.
func TestTopicsRefusesToDeleteInternalTopics(t *testing.T) {
	bs := startBroker(t)
	requireOK(t, run(t, "a\nb\n", "console-producer", "--bootstrap-server", bs, "--topic", "t"))
	r := run(t, "", "console-consumer", "--bootstrap-server", bs, "--topic", "t", "--group", "g", "--from-beginning", "--max-messages", "2")
	requireOK(t, r)
	require.Equal(t, "a\nb\n", r.Stdout)

	for _, internal := range []string{"__consumer_offsets", "__transaction_state"} {
		r = run(t, "", "topics", "--bootstrap-server", bs, "--delete", "--topic", internal)
		assert.Empty(t, r.Stdout)
		requireError(t, r, "Topic "+internal+" is a kafka internal topic and is not allowed to be marked for deletion.")
	}
	r = run(t, "", "topics", "--bootstrap-server", bs, "--list")
	requireOK(t, r)
	assert.Contains(t, r.Stdout, "__consumer_offsets\n")
	r = run(t, "", "consumer-groups", "--bootstrap-server", bs, "--describe", "--group", "g")
	requireOK(t, r)
	assert.Regexp(t, `g\s+t\s+0\s+2\s+2\s+0`, r.Stdout)
}
