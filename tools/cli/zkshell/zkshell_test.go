package zkshell_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strom-broker/strom/coord/zktest"
	"github.com/strom-broker/strom/tools/cli/clitest"
	"github.com/strom-broker/strom/tools/cli/zkshell"
)

var ens *zktest.Ensemble

func TestMain(m *testing.M) {
	zktest.Main(m, zktest.Options{Nodes: 1}, func(e *zktest.Ensemble) { ens = e })
}

// TestRunbookCommands runs the commands operators' runbooks run, one per
// process invocation, under a chroot, then a script on stdin.
func TestRunbookCommands(t *testing.T) {
	connect := ens.Connect() + "/shelltest"
	// The chroot itself is created from the ensemble's root.
	r := clitest.Run(t, zkshell.Run, "", ens.Connect(), "create", "/shelltest")
	clitest.RequireOK(t, r)

	r = clitest.Run(t, zkshell.Run, "", connect, "create", "/brokers")
	clitest.RequireOK(t, r)
	assert.Equal(t, "Created /brokers\n", r.Stdout, "paths are shown relative to the chroot")
	for _, id := range []string{"2", "10", "1"} {
		clitest.RequireOK(t, clitest.Run(t, zkshell.Run, "", connect, "create", "/brokers/"+id, `{"version":5,"host":"h"}`))
	}
	r = clitest.Run(t, zkshell.Run, "", connect, "ls", "/brokers")
	clitest.RequireOK(t, r)
	assert.Equal(t, "[1, 10, 2]\n", r.Stdout, "ZooKeeperMain's list form, sorted")
	assert.Contains(t, r.Stderr, "Connecting to "+connect)

	r = clitest.Run(t, zkshell.Run, "", connect, "get", "/brokers/2")
	clitest.RequireOK(t, r)
	assert.Equal(t, "{\"version\":5,\"host\":\"h\"}\n", r.Stdout)

	r = clitest.Run(t, zkshell.Run, "", connect, "stat", "/brokers")
	clitest.RequireOK(t, r)
	assert.Contains(t, r.Stdout, "numChildren = 3\n")
	assert.Contains(t, r.Stdout, "dataVersion = 0\n")

	r = clitest.Run(t, zkshell.Run, "", connect, "get", "/nope")
	assert.Equal(t, 1, r.Code)
	assert.Contains(t, r.Stderr, "Node does not exist: /nope")

	script := "set /brokers/1 changed\nget /brokers/1\ndeleteall /brokers\nls /\nquit\nls /never-run\n"
	r = clitest.Run(t, zkshell.Run, script, connect)
	require.Equal(t, 0, r.Code, "stderr: %s", r.Stderr)
	assert.Equal(t, "changed\n[]\n", r.Stdout)
}

func TestBadConnectString(t *testing.T) {
	r := clitest.Run(t, zkshell.Run, "", "localhost:2181/bad/", "ls", "/")
	clitest.RequireOneLineError(t, r, "chroot")
}
