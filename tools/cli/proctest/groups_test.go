package proctest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestConsumerGroupsRunbookFlags: --offsets, --list --state [filter],
// --members --verbose, --reset-offsets --export and --from-file, and
// Kafka's warning when neither --execute nor --dry-run is given.
func TestConsumerGroupsRunbookFlags(t *testing.T) {
	bs := startBroker(t, "num.partitions=1")
	groups := func(args ...string) result {
		return run(t, "", append([]string{"consumer-groups", "--bootstrap-server", bs}, args...)...)
	}
	requireOK(t, run(t, "1\n2\n3\n4\n5\n", "console-producer", "--bootstrap-server", bs, "--topic", "cg"))
	requireOK(t, run(t, "", "console-consumer", "--bootstrap-server", bs, "--topic", "cg", "--group", "g1", "--from-beginning", "--max-messages", "5"))
	requireOK(t, run(t, "", "console-consumer", "--bootstrap-server", bs, "--topic", "cg", "--group", "g2", "--from-beginning", "--max-messages", "2"))

	r := groups("--describe", "--group", "g1", "--offsets")
	requireOK(t, r)
	assert.Regexp(t, `\nGROUP\s+TOPIC\s+PARTITION\s+CURRENT-OFFSET\s+LOG-END-OFFSET\s+LAG\s+CONSUMER-ID\s+HOST\s+CLIENT-ID\ng1\s+cg\s+0\s+5\s+5\s+0\s+-\s+-\s+-\n$`, r.Stdout)
	assert.Contains(t, r.Stderr, "Consumer group 'g1' has no active members.")

	r = groups("--list", "--state")
	requireOK(t, r)
	assert.Regexp(t, `^GROUP\s+STATE\ng1\s+Empty\ng2\s+Empty\n$`, r.Stdout)
	r = groups("--list", "--state", "Stable")
	requireOK(t, r)
	assert.Regexp(t, `^GROUP\s+STATE\n$`, r.Stdout, "no group is Stable")
	r = groups("--list", "--state", "empty,Dead")
	requireOK(t, r)
	assert.Regexp(t, `^GROUP\s+STATE\ng1\s+Empty\ng2\s+Empty\n$`, r.Stdout)

	// An active member, with its assignment.
	p := start(t, "console-consumer", "--bootstrap-server", bs, "--topic", "cg", "--group", "live", "--consumer-property", "client.id=watcher")
	eventually(t, "the member to be assigned", func() bool {
		require.False(t, p.exited(), "stderr: %s", p.stderr.String())
		r := groups("--describe", "--group", "live", "--members", "--verbose")
		return r.Code == 0 && strings.Contains(r.Stdout, "cg(0)")
	})
	r = groups("--describe", "--group", "live", "--members", "--verbose")
	assert.Regexp(t, `\nGROUP\s+CONSUMER-ID\s+HOST\s+CLIENT-ID\s+#PARTITIONS\s+ASSIGNMENT\nlive\s+\S+\s+/127.0.0.1\s+watcher\s+1\s+cg\(0\)\n$`, r.Stdout)
	r = groups("--list", "--state", "Stable")
	requireOK(t, r)
	assert.Regexp(t, `^GROUP\s+STATE\nlive\s+Stable\n$`, r.Stdout)
	p.signal(sigint)
	requireOK(t, p.wait())

	// Export a plan without --execute: Kafka's warning, nothing changes.
	r = groups("--reset-offsets", "--group", "g1", "--topic", "cg", "--to-earliest", "--export")
	requireOK(t, r)
	assert.Equal(t, "cg,0,0\n", r.Stdout)
	assert.True(t, strings.HasPrefix(r.Stderr, "WARN: No action will be performed as the --execute option is missing."), r.Stderr)
	plan := filepath.Join(t.TempDir(), "plan.csv")
	require.NoError(t, os.WriteFile(plan, []byte(r.Stdout), 0o644))
	r = groups("--describe", "--group", "g1")
	assert.Regexp(t, `g1\s+cg\s+0\s+5\s+5\s+0`, r.Stdout, "the dry run changed nothing")

	r = groups("--reset-offsets", "--group", "g1", "--from-file", plan, "--execute")
	requireOK(t, r)
	assert.Regexp(t, `\nGROUP\s+TOPIC\s+PARTITION\s+NEW-OFFSET\ng1\s+cg\s+0\s+0\n$`, r.Stdout)
	assert.Empty(t, r.Stderr)
	r = groups("--describe", "--group", "g1")
	assert.Regexp(t, `g1\s+cg\s+0\s+0\s+5\s+5`, r.Stdout, "--from-file --execute committed the file's offsets")

	r = groups("--reset-offsets", "--group", "g1", "--group", "g2", "--all-topics", "--to-latest", "--export", "--dry-run")
	requireOK(t, r)
	assert.Equal(t, "g1,cg,0,5\ng2,cg,0,5\n", r.Stdout)
	assert.Empty(t, r.Stderr)

	bad := filepath.Join(t.TempDir(), "bad.csv")
	require.NoError(t, os.WriteFile(bad, []byte("cg,zero,1\n"), 0o644))
	r = groups("--reset-offsets", "--group", "g1", "--from-file", bad, "--dry-run")
	requireError(t, r, "bad partition or offset")
}
