package server

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/net/apis"
	"github.com/strom-broker/strom/net/fetchwire"
)

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	require.Eventually(t, cond, deadline, time.Millisecond, what)
}

// TestIdleClose: an idle connection is closed after ConnectionsMaxIdle; a
// connection waiting on its own slow handler is not.
func TestIdleClose(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	h := funcHandler{fn: func(ctx context.Context, req *Request) (Response, error) {
		if req.CorrelationID == 1 {
			started <- struct{}{}
			<-release
		}
		return echoMetadata(req), nil
	}}
	s, addr := start(t, Config{ConnectionsMaxIdle: 50 * time.Millisecond}, h)
	busy := dial(t, addr)
	busy.send(metadata(1), 1)
	<-started
	// Two idle connections in sequence: once the second is closed, more
	// than the idle time has passed since the busy one last read.
	for range 2 {
		dial(t, addr).expectClosed()
	}
	close(release)
	corr, _ := busy.recv(3, 1)
	assert.Equal(t, int32(1), corr)
	busy.expectClosed() // and now it idles out too
	waitFor(t, "no open connections", func() bool { return s.Stats().ConnectionsOpen == 0 })
}

// TestMaxConnections: connections beyond the cap are closed at once; a slot
// freed is usable again.
func TestMaxConnections(t *testing.T) {
	h := funcHandler{fn: func(_ context.Context, req *Request) (Response, error) { return echoMetadata(req), nil }}
	s, addr := start(t, Config{MaxConnections: 2}, h)
	a, b := dial(t, addr), dial(t, addr)
	a.roundTrip(1)
	b.roundTrip(2)
	dial(t, addr).expectClosed()
	assert.Equal(t, int64(1), s.Stats().ConnectionsRejected)
	require.NoError(t, a.Close())
	waitFor(t, "slot freed", func() bool { return s.Stats().ConnectionsOpen == 1 })
	dial(t, addr).roundTrip(3)
	b.roundTrip(4)
}

// TestShutdownFinishesInFlight: Shutdown waits for a slow in-flight request,
// delivers its response, then closes the connection and returns.
func TestShutdownFinishesInFlight(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	h := funcHandler{fn: func(ctx context.Context, req *Request) (Response, error) {
		if req.CorrelationID == 1 {
			started <- struct{}{}
			select {
			case <-release:
			case <-ctx.Done():
				return nil, ctx.Err() // would mean Shutdown cancelled us
			}
		}
		return echoMetadata(req), nil
	}}
	s, err := New(Config{}, h)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()

	c := dial(t, ln.Addr().String())
	c.send(metadata(4), 1)
	<-started
	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(context.Background()) }()
	require.ErrorIs(t, <-served, ErrServerClosed)
	_, err = net.Dial("tcp", ln.Addr().String())
	require.Error(t, err, "listener closed")
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v with a request in flight", err)
	default:
	}
	close(release)
	corr, resp := c.recv(3, 4)
	assert.Equal(t, int32(1), corr)
	assert.Equal(t, int32(1), resp.(*kmsg.MetadataResponse).Brokers[0].NodeID)
	require.NoError(t, <-shut)
	c.expectClosed()
	assert.ErrorIs(t, s.Serve(ln), ErrServerClosed)
}

// TestShutdownDeadline: when ctx ends first, Shutdown force-closes and the
// stuck handler's context is cancelled.
func TestShutdownDeadline(t *testing.T) {
	cancelled := make(chan struct{})
	started := make(chan struct{}, 1)
	h := funcHandler{fn: func(ctx context.Context, _ *Request) (Response, error) {
		started <- struct{}{}
		<-ctx.Done()
		close(cancelled)
		return nil, ctx.Err()
	}}
	s, addr := start(t, Config{}, h)
	c := dial(t, addr)
	c.send(metadata(1), 1)
	<-started
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, s.Shutdown(ctx), context.Canceled)
	<-cancelled
	c.expectClosed()
}

// TestHandlerFailures: an error, a panic or a wrong response closes only
// that connection.
func TestHandlerFailures(t *testing.T) {
	h := funcHandler{fn: func(_ context.Context, req *Request) (Response, error) {
		switch req.CorrelationID {
		case -1:
			return nil, errors.New("boom")
		case -2:
			panic("handler bug")
		case -3:
			return kmsg.NewPtrProduceResponse(), nil // wrong key
		case -4:
			return &fetchwire.FetchResponse{}, nil // Fetch answer to Metadata
		}
		return echoMetadata(req), nil
	}}
	_, addr := start(t, Config{}, h)
	good := dial(t, addr)
	for corr := int32(-1); corr >= -4; corr-- {
		bad := dial(t, addr)
		bad.roundTrip(10) // answered before the failure
		bad.send(metadata(1), corr)
		bad.expectClosed()
		good.roundTrip(-corr)
	}
}

// TestFetchZeroCopy: a handler's file-backed Fetch response leaves through
// sendfile: the server's counters show every record byte sent by sendfile
// and none copied.
func TestFetchZeroCopy(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
	path := filepath.Join(t.TempDir(), "00000000000000000000.log")
	require.NoError(t, os.WriteFile(path, data, 0o644))
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()

	h := funcHandler{fn: func(_ context.Context, req *Request) (Response, error) {
		fr := req.Body.(*kmsg.FetchRequest)
		resp := &fetchwire.FetchResponse{}
		for _, rt := range fr.Topics {
			t := fetchwire.Topic{Topic: rt.Topic, TopicID: rt.TopicID}
			for _, rp := range rt.Partitions {
				t.Partitions = append(t.Partitions, fetchwire.Partition{
					Partition: rp.Partition, HighWatermark: 100, LastStableOffset: 100, PreferredReadReplica: -1,
					Records: []fetchwire.Slice{fetchwire.FileSlice(f, rp.FetchOffset, int64(rp.PartitionMaxBytes))},
				})
			}
			resp.Topics = append(resp.Topics, t)
		}
		return resp, nil
	}}
	s, addr := start(t, Config{}, h)
	c := dial(t, addr)
	var want int64
	for _, v := range []int16{4, 11, 12, 13, 17} {
		req := kmsg.NewPtrFetchRequest()
		req.Version = v
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic, rt.TopicID = "t", [16]byte{7}
		for p := range int32(2) {
			rp := kmsg.NewFetchRequestTopicPartition()
			rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = p, int64(p)*1000, 300_000
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = []kmsg.FetchRequestTopic{rt}
		c.send(req, int32(v))
		corr, resp := c.recv(apis.Fetch, v)
		assert.Equal(t, int32(v), corr)
		got := resp.(*kmsg.FetchResponse)
		require.Len(t, got.Topics, 1)
		for _, p := range got.Topics[0].Partitions {
			off := int64(p.Partition) * 1000
			assert.True(t, bytes.Equal(data[off:off+300_000], p.RecordBatches), "v%d p%d", v, p.Partition)
			want += int64(len(p.RecordBatches))
		}
	}
	st := s.Stats()
	assert.Equal(t, want, st.SendfileBytes)
	assert.Zero(t, st.CopiedBytes)
}

// TestClientGoneCancelsHandler: when the client closes its connection, the
// context of its in-flight handler ends (a long poll stops waiting at once).
func TestClientGoneCancelsHandler(t *testing.T) {
	running := make(chan struct{})
	ended := make(chan error, 1)
	h := funcHandler{fn: func(ctx context.Context, req *Request) (Response, error) {
		close(running)
		<-ctx.Done()
		ended <- ctx.Err()
		return nil, ctx.Err()
	}}
	_, addr := start(t, Config{}, h)
	c := dial(t, addr)
	c.send(metadata(4), 1)
	<-running
	require.NoError(t, c.Close())
	assert.ErrorIs(t, <-ended, context.Canceled)
}
