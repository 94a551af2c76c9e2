// Package clitest runs strom tools in-process against a franz-go kfake
// cluster, for tests only.
package clitest

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/strom-broker/strom/tools/cli/clitool"
)

// Cluster starts a one-broker kfake cluster on 127.0.0.1 with seed topics
// of the given partition count, closed when the test ends; it returns the
// bootstrap address.
func Cluster(t testing.TB, partitions int32, topics ...string) string {
	t.Helper()
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.DefaultNumPartitions(1)}
	if len(topics) > 0 {
		opts = append(opts, kfake.SeedTopics(partitions, topics...))
	}
	c, err := kfake.NewCluster(opts...)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return strings.Join(c.ListenAddrs(), ",")
}

// Result is what a tool printed and returned.
type Result struct {
	Stdout string
	// Stderr leaves out the warning a client tool prints when no broker
	// answered within a second (see WithoutDialWarning); RawStderr has it.
	Stderr, RawStderr string
	Code              int
}

// DialWarning starts the line clitool.Dial prints when no broker has
// answered within clitool.WarnAfter.
const DialWarning = "WARN: no answer yet from "

// WithoutDialWarning drops DialWarning lines from s: on a stalled machine
// the warning can appear before any broker's first answer, so only tests
// about it should look for it.
func WithoutDialWarning(s string) string {
	var out []string
	for _, l := range strings.SplitAfter(s, "\n") {
		if !strings.HasPrefix(l, DialWarning) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "")
}

// Run runs tool with args and stdin, with a generous deadline so a hung
// tool fails the test instead of the whole run.
func Run(t testing.TB, tool clitool.RunFunc, stdin string, args ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	code := tool(ctx, args, strings.NewReader(stdin), &out, &errOut)
	return Result{Stdout: out.String(), Stderr: WithoutDialWarning(errOut.String()), RawStderr: errOut.String(), Code: code}
}

// RequireOK fails the test unless r exited 0.
func RequireOK(t testing.TB, r Result) {
	t.Helper()
	require.Equal(t, 0, r.Code, "stdout: %s\nstderr: %s", r.Stdout, r.Stderr)
}

// RequireOneLineError fails the test unless r exited non-zero with exactly
// one "Error: " line on stderr containing want.
func RequireOneLineError(t testing.TB, r Result, want string) {
	t.Helper()
	require.NotEqual(t, 0, r.Code, "stdout: %s\nstderr: %s", r.Stdout, r.Stderr)
	lines := strings.Split(strings.TrimRight(r.Stderr, "\n"), "\n")
	require.Len(t, lines, 1, "stderr: %q", r.Stderr)
	require.True(t, strings.HasPrefix(lines[0], "Error: "), "stderr: %q", r.Stderr)
	require.Contains(t, lines[0], want)
}
