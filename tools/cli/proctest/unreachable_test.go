package proctest

import (
	"net"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestUnreachableBrokerWarnsThenFails: against a port nothing listens on,
// the producers, the consumer and both perf tools print a warning that the
// broker may not be available, then give up after their bound with exit 1
// (an empty topic is not what they report).
func TestUnreachableBrokerWarnsThenFails(t *testing.T) {
	dead := deadPort(t)
	tests := []struct {
		name  string
		args  []string
		bound string
	}{
		{"console-producer", []string{"console-producer", "--bootstrap-server", dead, "--topic", "t", "--producer-property", "max.block.ms=2500"}, "2500 ms (max.block.ms)"},
		{"console-producer --max-block-ms", []string{"console-producer", "--bootstrap-server", dead, "--topic", "t", "--max-block-ms", "2500"}, "2500 ms (max.block.ms)"},
		{"console-consumer", []string{"console-consumer", "--bootstrap-server", dead, "--topic", "t", "--consumer-property", "default.api.timeout.ms=2500"}, "2500 ms (default.api.timeout.ms)"},
		{"console-consumer --timeout-ms", []string{"console-consumer", "--bootstrap-server", dead, "--topic", "t", "--timeout-ms", "2500"}, "2500 ms (--timeout-ms)"},
		{"producer-perf-test", []string{"producer-perf-test", "--bootstrap-server", dead, "--topic", "t", "--num-records", "10", "--record-size", "10", "--throughput", "-1", "--producer-props", "max.block.ms=2500"}, "2500 ms (max.block.ms)"},
		{"consumer-perf-test", []string{"consumer-perf-test", "--bootstrap-server", dead, "--topic", "t", "--messages", "10", "--timeout", "2500"}, "2500 ms (--timeout)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, "x\n", tc.args...)
			assert.Empty(t, r.Stdout)
			requireError(t, r, "no broker at "+dead+" answered within "+tc.bound)
			assert.Contains(t, r.RawStderr, "connection refused")
			errLines := strings.Split(strings.TrimRight(r.RawStderr, "\n"), "\n")
			require.Len(t, errLines, 2, r.RawStderr)
			assert.True(t, strings.HasPrefix(errLines[0], "WARN: no answer yet from "+dead), r.RawStderr)
			assert.Contains(t, errLines[0], "the broker may not be available")
		})
	}
}

// TestUnreachableBrokerWarnsBeforeTheBound: with Kafka's default 60 s
// bound, the warning is printed while the tool is still waiting; an
// interrupt then ends it with exit 1.
func TestUnreachableBrokerWarnsBeforeTheBound(t *testing.T) {
	dead := deadPort(t)
	p := start(t, "console-producer", "--bootstrap-server", dead, "--topic", "t")
	eventually(t, "the warning", func() bool { return strings.Contains(p.stderr.String(), "WARN: ") || p.exited() })
	require.False(t, p.exited(), "stderr: %s", p.stderr.String())
	assert.Contains(t, p.stderr.String(), "giving up after 60000 ms, max.block.ms")
	p.signal(syscall.SIGTERM)
	r := p.wait()
	requireError(t, r, "interrupted before a broker at "+dead+" answered")
	assert.Empty(t, r.Stdout)
}

// TestSilentBrokerWarnsThenFails: a port that accepts connections but
// never answers (a hung broker, or not Kafka at all) gets the same warning
// and bounded failure.
func TestSilentBrokerWarnsThenFails(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		var held []net.Conn // accepted and never answered
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	addr := ln.Addr().String()
	r := run(t, "x\n", "console-producer", "--bootstrap-server", addr, "--topic", "t", "--max-block-ms", "2500")
	assert.Empty(t, r.Stdout)
	requireError(t, r, "no broker at "+addr+" answered within 2500 ms (max.block.ms)")
	assert.True(t, strings.HasPrefix(r.RawStderr, "WARN: no answer yet from "+addr+"; the broker may not be available"), r.RawStderr)
}
