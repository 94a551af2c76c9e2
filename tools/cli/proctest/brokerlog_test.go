package proctest

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// startServer starts `strom server` as a process with a properties file
// for addr and dir, env added; it returns the process once the broker
// answers.
func startServer(t *testing.T, addr, dir string, env ...string) *proc {
	t.Helper()
	props := filepath.Join(dir, "server.properties")
	require.NoError(t, os.WriteFile(props, fmt.Appendf(nil, "listeners=PLAINTEXT://%s\nlog.dirs=%s\ngroup.initial.rebalance.delay.ms=0\n",
		addr, filepath.Join(dir, "data")), 0o644))
	cmd := exec.Command(strom, "server", props)
	cmd.Env = append(os.Environ(), env...)
	p := startCmd(t, cmd)
	eventually(t, "the broker to answer", func() bool {
		require.False(t, p.exited(), "the broker exited: %s", p.stderr.String())
		return run(t, "", "topics", "--bootstrap-server", addr, "--list").Code == 0
	})
	return p
}

// TestBrokerLog: the broker logs through slog only, as text by default and
// JSON with STROM_LOG_FORMAT=json; creating and loading __consumer_offsets
// is one line each; a client killed mid-fetch is not an ERROR; "shutting
// down" is logged when SIGTERM arrives, before the broker stops.
func TestBrokerLog(t *testing.T) {
	dir := t.TempDir()
	addr := deadPort(t)
	srv := startServer(t, addr, dir)
	requireOK(t, run(t, "a\nb\n", "console-producer", "--bootstrap-server", addr, "--topic", "t"))
	requireOK(t, run(t, "", "console-consumer", "--bootstrap-server", addr, "--topic", "t", "--group", "g", "--from-beginning", "--max-messages", "2"))
	// A consumer killed in the middle of a long poll.
	c := start(t, "console-consumer", "--bootstrap-server", addr, "--topic", "t", "--from-beginning")
	eventually(t, "the consumer to print", func() bool { return strings.Count(c.stdout.String(), "\n") == 2 })
	require.NoError(t, c.cmd.Process.Kill())
	c.wait()
	srv.signal(syscall.SIGTERM)
	r := srv.wait()
	requireOK(t, r)
	assert.Empty(t, r.Stdout)

	lines := strings.Split(strings.TrimSuffix(r.Stderr, "\n"), "\n")
	shutting, stopped := -1, -1
	for i, l := range lines {
		assert.Regexp(t, `^time=\S+ level=(DEBUG|INFO|WARN|ERROR) msg=`, l, "one format: slog text")
		assert.NotContains(t, l, "level=ERROR")
		switch {
		case strings.Contains(l, `msg="shutting down"`):
			shutting = i
		case strings.Contains(l, `msg="strom broker stopped"`):
			stopped = i
		}
	}
	require.GreaterOrEqual(t, shutting, 0, r.Stderr)
	assert.Less(t, shutting, stopped, "shutting down is logged before the shutdown's work")
	assert.Equal(t, 1, strings.Count(r.Stderr, `msg="created __consumer_offsets" partitions=50`), r.Stderr)
	assert.NotContains(t, r.Stderr, "partition=__consumer_offsets-")

	// Restarted with JSON logs: loading the offsets topic is one line.
	srv = startServer(t, addr, dir, "STROM_LOG_FORMAT=json")
	srv.signal(syscall.SIGINT)
	r = srv.wait()
	requireOK(t, r)
	loaded := 0
	for _, l := range strings.Split(strings.TrimSuffix(r.Stderr, "\n"), "\n") {
		var rec map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &rec), "not JSON: %q", l)
		assert.Contains(t, rec, "time")
		assert.Contains(t, rec, "level")
		if rec["msg"] == "group coordinator: loaded __consumer_offsets" {
			loaded++
			assert.EqualValues(t, 50, rec["partitions"])
			assert.EqualValues(t, 1, rec["groups"])
		}
		assert.NotEqual(t, "group coordinator: loaded offsets partition", rec["msg"])
	}
	assert.Equal(t, 1, loaded, r.Stderr)
	assert.Contains(t, r.Stderr, `"msg":"shutting down"`)
}
