package e2elatency

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strom-broker/strom/tools/cli/clitest"
)

func TestE2ELatency(t *testing.T) {
	bs := clitest.Cluster(t, 2, "lat")
	// Later runs find earlier runs' records in "lat"; they must not be taken for their own.
	props := filepath.Join(t.TempDir(), "p.properties")
	require.NoError(t, os.WriteFile(props, []byte("compression.type=lz4\n"), 0o644))
	for _, args := range [][]string{
		{bs, "lat", "25", "all", "64"},
		{bs, "lat", "10", "1", "0", props},
		{bs, "created-on-demand", "3", "all", "10"},
	} {
		r := clitest.Run(t, Run, "", args...)
		clitest.RequireOK(t, r)
		lines := strings.Split(strings.TrimSuffix(r.Stdout, "\n"), "\n")
		require.Len(t, lines, 2, r.Stdout)
		assert.Regexp(t, regexp.MustCompile(`^Avg latency: \d+\.\d{4} ms$`), lines[0])
		assert.Regexp(t, regexp.MustCompile(`^Percentiles: 50th = \d+, 99th = \d+, 99\.9th = \d+$`), lines[1])
		assert.Regexp(t, regexp.MustCompile(`^0\t\d+\.\d{4}\n$`), r.Stderr, "progress for message 0 only")
	}
}

func TestE2ELatencyUsage(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"x:1", "t", "10", "all"}, "want BOOTSTRAP TOPIC"},
		{[]string{"x:1", "t", "ten", "all", "10"}, `NUM_MESSAGES "ten"`},
		{[]string{"x:1", "t", "10", "0", "10"}, "PRODUCER_ACKS must be 1 or all"},
		{[]string{"x:1", "t", "10", "all", "-5"}, `MESSAGE_SIZE_BYTES "-5"`},
		{[]string{"x:1", "t", "1", "all", "5", "/nonexistent/file"}, "properties file"},
		{[]string{"--bogus"}, "unknown option --bogus"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			clitest.RequireOneLineError(t, clitest.Run(t, Run, "", tc.args...), tc.want)
		})
	}
	r := clitest.Run(t, Run, "", "--help")
	clitest.RequireOK(t, r)
	assert.Contains(t, r.Stdout, "BOOTSTRAP TOPIC NUM_MESSAGES PRODUCER_ACKS MESSAGE_SIZE_BYTES")
}
