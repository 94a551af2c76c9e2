package main

import (
	"bytes"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBinary builds strom and runs it as a user would.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "strom")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "%s", out)

	run := func(args ...string) (string, string, int) {
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(bin, args...)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			code = exit.ExitCode()
		} else {
			require.NoError(t, err)
		}
		return stdout.String(), stderr.String(), code
	}

	stdout, stderr, code := run("--help")
	assert.Equal(t, 0, code)
	assert.Empty(t, stderr)
	for _, c := range []string{"server", "topics", "console-producer", "console-consumer", "producer-perf-test", "consumer-perf-test", "e2e-latency"} {
		assert.Contains(t, stdout, c)
	}

	stdout, stderr, code = run("topics", "--bootstrap", "x")
	assert.Equal(t, 1, code)
	assert.Empty(t, stdout)
	assert.Equal(t, "Error: unknown option --bootstrap (did you mean --bootstrap-server? see --help)\n", stderr)

	// No ZooKeeper at zookeeper.connect: one clear line after the
	// connection timeout, exit 1.
	_, stderr, code = run("server", "../../../config/server.properties", "--override", "zookeeper.connect=127.0.0.1:1",
		"--override", "zookeeper.connection.timeout.ms=500")
	assert.Equal(t, 1, code)
	assert.Equal(t, 1, strings.Count(stderr, "\n"), stderr)
	assert.Contains(t, stderr, "no ZooKeeper session with 127.0.0.1:1")

	_, stderr, code = run("server", "--override", "num.partitons=3")
	assert.Equal(t, 1, code)
	assert.Equal(t, 1, strings.Count(stderr, "\n"))
	assert.Contains(t, stderr, `did you mean "num.partitions"?`)
}
