package fuzz

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/net/apis"
	"github.com/strom-broker/strom/net/fetchwire"
	"github.com/strom-broker/strom/net/server"
	"github.com/strom-broker/strom/tools/broker/brokertest"
)

// handleTimeout bounds one handler call (long polls, acks=all waits and
// rebalances end with it); it is a limit, never asserted on.
const handleTimeout = 200 * time.Millisecond

// FuzzHandle feeds every request that decodes through the running
// broker's own handler (the code a hostile client reaches after decoding):
// the handler must not panic (the server would recover it, so this target
// calls Handle directly to see it), must answer with a response of the
// request's key that encodes at the request's version, or with no response
// only for acks=0 produce. Seeds are FuzzDecodeRequest's corpus.
//
// To keep one input from consuming the machine, long waits are shortened
// and resource counts clamped before handling: Fetch max wait 0, Produce
// timeout <= 10 ms, at most 4 topics of at most 8 partitions created.
func FuzzHandle(f *testing.F) {
	for _, frame := range loadCorpus(f, "FuzzDecodeRequest") {
		f.Add(frame)
	}
	b := brokertest.Start(f)
	table, err := apis.NewTable(b.APIVersions())
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, frame []byte) {
		req, err := server.DecodeRequest(frame, table)
		if err != nil || req.Key == apis.ApiVersions {
			return // answered by the server itself
		}
		clamp(req.Body)
		ctx, cancel := context.WithTimeout(context.Background(), handleTimeout)
		defer cancel()
		resp, err := b.Handle(ctx, req)
		require.NoError(t, err, "%s v%d", kmsg.NameForKey(req.Key), req.Version)
		switch r := resp.(type) {
		case nil:
			p, ok := req.Body.(*kmsg.ProduceRequest)
			require.True(t, ok && p.Acks == 0, "no response to %s v%d", kmsg.NameForKey(req.Key), req.Version)
		case *fetchwire.FetchResponse:
			defer func() {
				if r.Release != nil {
					r.Release()
				}
			}()
			require.Equal(t, apis.Fetch, req.Key)
			r.Version = req.Version
			_, err := r.Encode(req.CorrelationID)
			require.NoError(t, err)
		case kmsg.Response:
			require.Equal(t, req.Key, r.Key())
			r.SetVersion(req.Version)
			require.NotEmpty(t, r.AppendTo(nil))
		default:
			t.Fatalf("response of type %T", resp)
		}
	})
}

// clamp shortens waits and bounds resource counts of a decoded request.
func clamp(body kmsg.Request) {
	switch r := body.(type) {
	case *kmsg.FetchRequest:
		r.MaxWaitMillis = 0
	case *kmsg.ProduceRequest:
		r.TimeoutMillis = min(r.TimeoutMillis, 10)
	case *kmsg.CreateTopicsRequest:
		r.Topics = r.Topics[:min(len(r.Topics), 4)]
		for i := range r.Topics {
			t := &r.Topics[i]
			t.NumPartitions = min(t.NumPartitions, 8)
			t.ReplicaAssignment = t.ReplicaAssignment[:min(len(t.ReplicaAssignment), 8)]
		}
	case *kmsg.CreatePartitionsRequest:
		r.Topics = r.Topics[:min(len(r.Topics), 4)]
		for i := range r.Topics {
			t := &r.Topics[i]
			t.Count = min(t.Count, 8)
			t.Assignment = t.Assignment[:min(len(t.Assignment), 8)]
		}
	}
}

// loadCorpus reads the single []byte argument of every corpus file of
// target (Go's "go test fuzz v1" format).
func loadCorpus(tb testing.TB, target string) [][]byte {
	tb.Helper()
	dir := filepath.Join("testdata", "fuzz", target)
	entries, err := os.ReadDir(dir)
	require.NoError(tb, err)
	var out [][]byte
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(tb, err)
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		require.Len(tb, lines, 2, e.Name())
		arg, ok := strings.CutPrefix(lines[1], "[]byte(")
		require.True(tb, ok, e.Name())
		s, err := strconv.Unquote(strings.TrimSuffix(arg, ")"))
		require.NoError(tb, err, e.Name())
		out = append(out, []byte(s))
	}
	return out
}
