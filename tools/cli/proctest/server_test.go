package proctest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// runScript runs one of Kafka's script names with env added.
func runScript(t *testing.T, env []string, name string, args ...string) result {
	t.Helper()
	cmd := exec.Command(script(name), args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader("")
	p := startCmd(t, cmd)
	return p.wait()
}

// TestServerStartUsageDaemonAndStop: kafka-server-start.sh without an
// argument prints Kafka's usage and exits 1; -daemon returns at once with
// the broker running in the background; kafka-server-stop.sh stops it
// cleanly.
func TestServerStartUsageDaemonAndStop(t *testing.T) {
	r := runScript(t, nil, "kafka-server-start.sh")
	assert.Equal(t, 1, r.Code)
	assert.Regexp(t, `^USAGE: \S*kafka-server-start.sh \[-daemon\] server.properties \[--override property=value\]\*\n$`, r.Stdout)
	assert.Empty(t, r.Stderr)

	dir := t.TempDir()
	addr := deadPort(t)
	props := filepath.Join(dir, "server.properties")
	require.NoError(t, os.WriteFile(props, fmt.Appendf(nil, "listeners=PLAINTEXT://%s\nlog.dirs=%s\n", addr, filepath.Join(dir, "data")), 0o644))
	env := []string{"LOG_DIR=" + filepath.Join(dir, "logs")}
	pidFile := filepath.Join(dir, "logs", "strom-server.pid")

	r = runScript(t, env, "kafka-server-start.sh", "-daemon", props, "--override", "num.partitions=2")
	requireOK(t, r)
	assert.Empty(t, r.Stdout)
	assert.Empty(t, r.Stderr)
	b, err := os.ReadFile(pidFile)
	require.NoError(t, err)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	require.NoError(t, err)
	alive := func() bool { return syscall.Kill(pid, 0) == nil }
	t.Cleanup(func() {
		if alive() {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})

	eventually(t, "the daemon broker to answer", func() bool {
		require.True(t, alive(), "the daemon exited: %s", readFile(filepath.Join(dir, "logs", "strom-server.out")))
		return run(t, "", "topics", "--bootstrap-server", addr, "--create", "--topic", "d").Code == 0
	})
	r = run(t, "", "topics", "--bootstrap-server", addr, "--describe", "--topic", "d")
	requireOK(t, r)
	assert.Contains(t, r.Stdout, "PartitionCount: 2\t", "--override reached the daemon")

	r = runScript(t, env, "kafka-server-stop.sh")
	requireOK(t, r)
	assert.False(t, alive(), "the broker is gone once the stop script returns")
	assert.NoFileExists(t, pidFile)
	out := readFile(filepath.Join(dir, "logs", "strom-server.out"))
	assert.Contains(t, out, "strom broker started")

	r = runScript(t, env, "kafka-server-stop.sh")
	assert.Equal(t, 1, r.Code)
	assert.Equal(t, "No kafka server to stop\n", r.Stdout)
}

func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

// TestVersionAndDidYouMean: --version on the command and on every tool;
// an unknown flag close to a known one gets a suggestion.
func TestVersionAndDidYouMean(t *testing.T) {
	r := run(t, "", "--version")
	requireOK(t, r)
	assert.Regexp(t, `^strom \S+`, r.Stdout)
	version := r.Stdout
	for _, tool := range []string{"kafka-topics.sh", "kafka-console-producer.sh", "kafka-console-consumer.sh", "kafka-consumer-groups.sh",
		"kafka-producer-perf-test.sh", "kafka-consumer-perf-test.sh"} {
		r := runScript(t, nil, tool, "--version")
		requireOK(t, r)
		assert.Equal(t, version, r.Stdout, tool)
		assert.Empty(t, r.Stderr, tool)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"topics", "--bootstrap-server", "x:1", "--lsit"}, "unknown option --lsit (did you mean --list? see --help)"},
		{[]string{"console-consumer", "--bootstrap-servers", "x:1"}, "unknown option --bootstrap-servers (did you mean --bootstrap-server? see --help)"},
		{[]string{"console-consumer", "--from-begining"}, "did you mean --from-beginning?"},
		{[]string{"topics", "--zzzzzzzz"}, "unknown option --zzzzzzzz (see --help)"},
	} {
		r := run(t, "", tc.args...)
		assert.Empty(t, r.Stdout)
		requireError(t, r, tc.want)
	}
}

// TestRunClassAndUnknownCommand: kafka-run-class.sh with the Java class
// names of older runbooks runs the matching tool; an unknown class or
// command is one clear error line, with a suggestion when one is close.
func TestRunClassAndUnknownCommand(t *testing.T) {
	bs := startBroker(t)
	requireOK(t, run(t, "a\nb\n", "console-producer", "--bootstrap-server", bs, "--topic", "rc"))
	r := runScript(t, nil, "kafka-run-class.sh", "kafka.tools.GetOffsetShell", "--broker-list", bs, "--topic", "rc", "--time", "-1")
	requireOK(t, r)
	assert.Equal(t, "rc:0:2\n", r.Stdout)
	r = runScript(t, nil, "kafka-run-class.sh", "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand", "--bootstrap-server", bs, "--list")
	requireOK(t, r)
	r = runScript(t, nil, "kafka-run-class.sh", "kafka.tools.DumpLogSegments")
	requireError(t, r, "missing required option --files")
	r = runScript(t, nil, "kafka-run-class.sh", "kafka.tools.MirrorMaker")
	requireError(t, r, "kafka-run-class.sh: kafka.tools.MirrorMaker is not a class Strom has a tool for")
	r = runScript(t, nil, "kafka-run-class.sh", "--help")
	requireOK(t, r)
	assert.Contains(t, r.Stdout, "  kafka.tools.DumpLogSegments -> strom dump-log\n")

	r = run(t, "", "topic", "--list")
	assert.Empty(t, r.Stdout)
	requireError(t, r, `unknown command "topic" (did you mean "topics"? see strom --help)`)
	r = run(t, "", "consumer-group")
	requireError(t, r, `did you mean "consumer-groups"?`)
}
