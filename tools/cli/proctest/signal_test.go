//go:build linux

package proctest

import (
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// TestConsoleProducerSignalFlushesReadLines: SIGINT (Ctrl-C) and SIGTERM
// in the middle of a stream: every line the tool has read is produced
// before it exits (Kafka closes its producer in a shutdown hook), even
// though each was lingering for 60 s.
func TestConsoleProducerSignalFlushesReadLines(t *testing.T) {
	bs := startBroker(t)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			topic := "sig-" + strings.ReplaceAll(sig.String(), " ", "-")
			pr, pw, err := os.Pipe()
			require.NoError(t, err)
			defer pw.Close()
			cmd := exec.Command(strom, append([]string{"console-producer", "--bootstrap-server", bs, "--topic", topic}, linger60s...)...)
			cmd.Stdin = pr
			p := startCmd(t, cmd)
			require.NoError(t, pr.Close())

			want := lines("line-", 200)
			_, err = pw.WriteString(strings.Join(want, "\n") + "\n")
			require.NoError(t, err)
			// The tool has read every line once the pipe is empty (TIOCINQ is
			// FIONREAD); the
			// stream is still open (mid-stream) when the signal comes.
			eventually(t, "the tool to read its input", func() bool {
				n, err := unix.IoctlGetInt(int(pw.Fd()), unix.TIOCINQ)
				require.NoError(t, err)
				return n == 0
			})
			require.False(t, p.exited(), "stderr: %s", p.stderr.String())
			p.signal(sig)
			r := p.wait()
			requireOK(t, r)
			assert.Empty(t, r.Stdout)
			assert.Empty(t, r.Stderr)
			assert.Equal(t, want, readAll(t, bs, topic))
		})
	}
}
