package server

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strom-broker/strom/tools/cli/clitest"
	"github.com/strom-broker/strom/tools/config"
)

func TestServerPassesValidatedConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "server.properties")
	require.NoError(t, os.WriteFile(path, []byte("broker.id=3\nnum.partitions=2\nnum.io.threads=4\n"), 0o644))
	var got *config.Config
	run := New(func(_ context.Context, cfg *config.Config, _ *slog.Logger) error { got = cfg; return nil })

	r := clitest.Run(t, run, "", path, "--override", "num.partitions=6", "--override", "log.dirs=/tmp/x")
	clitest.RequireOK(t, r)
	require.NotNil(t, got)
	assert.Equal(t, int32(3), got.BrokerID)
	assert.Equal(t, int32(6), got.NumPartitions)
	assert.Equal(t, []string{"/tmp/x"}, got.LogDirs)
	assert.Contains(t, r.Stderr, "num.io.threads", "ignored keys are reported")

	got = nil
	r = clitest.Run(t, run, "")
	clitest.RequireOK(t, r)
	require.NotNil(t, got, "no file: all defaults")
	assert.Equal(t, int32(1), got.NumPartitions)
}

func TestServerShippedConfig(t *testing.T) {
	var got *config.Config
	r := clitest.Run(t, New(func(_ context.Context, c *config.Config, _ *slog.Logger) error { got = c; return errors.New("boom") }), "", "../../../config/server.properties")
	clitest.RequireOneLineError(t, r, "server: boom")
	require.NotNil(t, got)
	assert.Equal(t, []string{"/tmp/strom-logs"}, got.LogDirs)
}

func TestServerErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.properties")
	require.NoError(t, os.WriteFile(bad, []byte("num.partitions=0\nlog.segment.bytes=1\n"), 0o644))
	typo := filepath.Join(dir, "typo.properties")
	require.NoError(t, os.WriteFile(typo, []byte("# c\nlog.dirz=/x\n"), 0o644))
	called := false
	run := New(func(context.Context, *config.Config, *slog.Logger) error { called = true; return nil })
	tests := []struct {
		args []string
		want string
	}{
		{[]string{bad}, "num.partitions"},
		{[]string{typo}, `typo.properties:2: unknown config key "log.dirz" (did you mean "log.dirs"?)`},
		{[]string{filepath.Join(dir, "missing")}, "no such file"},
		{[]string{"--override", "broker.id"}, "malformed override"},
		{[]string{"--override", "num.partitions=abc"}, `--override: invalid value "abc" for num.partitions`},
		{[]string{bad, "extra"}, `unexpected argument "extra"`},
		{[]string{"--nope"}, "unknown option --nope"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			clitest.RequireOneLineError(t, clitest.Run(t, run, "", tc.args...), tc.want)
		})
	}
	r := clitest.Run(t, run, "", bad)
	assert.Contains(t, r.Stderr, "log.segment.bytes", "every violation in the one line")
	assert.False(t, called)
}
