package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"golang.org/x/sys/unix"

	"github.com/strom-broker/strom/net/apis"
)

// TestPipelinedInOrder: three pipelined requests on one connection are
// handled one at a time in request order (the first blocks the others),
// while another connection is served meanwhile; responses arrive in order.
func TestPipelinedInOrder(t *testing.T) {
	release := make(chan struct{})
	started := make(chan int32, 10)
	h := funcHandler{fn: func(ctx context.Context, req *Request) (Response, error) {
		started <- req.CorrelationID
		if req.CorrelationID == 1 {
			select {
			case <-release:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		return echoMetadata(req), nil
	}}
	_, addr := start(t, Config{}, h)
	c := dial(t, addr)
	for corr := int32(1); corr <= 3; corr++ {
		c.send(metadata(4), corr)
	}
	require.Equal(t, int32(1), <-started)
	// While 1 blocks, a second connection is answered; 2 and 3 wait.
	other := dial(t, addr)
	other.send(metadata(4), 7)
	require.Equal(t, int32(7), <-started)
	corr, _ := other.recv(3, 4)
	assert.Equal(t, int32(7), corr)
	assert.Empty(t, started, "requests behind a running one on the same connection must wait")
	close(release)
	for want := int32(1); want <= 3; want++ {
		corr, resp := c.recv(3, 4)
		assert.Equal(t, want, corr)
		assert.Equal(t, want, resp.(*kmsg.MetadataResponse).Brokers[0].NodeID)
	}
	assert.Equal(t, []int32{2, 3}, []int32{<-started, <-started}, "handled in request order")
}

// TestNoResponse: a nil response (Produce acks=0) writes nothing; the next
// response on the connection is the next request's.
func TestNoResponse(t *testing.T) {
	h := funcHandler{fn: func(_ context.Context, req *Request) (Response, error) {
		if req.Key == apis.Produce {
			require.Equal(t, int16(0), req.Body.(*kmsg.ProduceRequest).Acks)
			return nil, nil
		}
		return echoMetadata(req), nil
	}}
	_, addr := start(t, Config{}, h)
	c := dial(t, addr)
	for _, v := range []int16{3, 9} { // non-flexible and flexible Produce
		p := kmsg.NewPtrProduceRequest()
		p.Version, p.Acks = v, 0
		c.send(p, 10+int32(v))
	}
	c.roundTrip(99)
}

// TestFlexibleAndNot: Metadata at every served version, flexible (header v2,
// response header v1) or not, round-trips through kmsg.
func TestFlexibleAndNot(t *testing.T) {
	var seen atomic.Pointer[string]
	h := funcHandler{fn: func(_ context.Context, req *Request) (Response, error) {
		seen.Store(req.ClientID)
		return echoMetadata(req), nil
	}}
	_, addr := start(t, Config{}, h)
	c := dial(t, addr)
	for v := int16(0); v <= 12; v++ {
		c.send(metadata(v), int32(100+v))
		corr, resp := c.recv(3, v)
		assert.Equal(t, int32(100+v), corr, "v%d", v)
		assert.Equal(t, int32(100+v), resp.(*kmsg.MetadataResponse).Brokers[0].NodeID, "v%d", v)
		require.NotNil(t, seen.Load())
		assert.Equal(t, "test", *seen.Load())
	}
}

// TestApiVersions: v0-v4 answered with the table; v127 answered as v0 with
// UNSUPPORTED_VERSION and the table.
func TestApiVersions(t *testing.T) {
	s, addr := start(t, Config{}, funcHandler{fn: func(_ context.Context, req *Request) (Response, error) {
		if req.Key == apis.ApiVersions {
			return nil, errors.New("ApiVersions reached the handler")
		}
		return echoMetadata(req), nil
	}})
	want := map[int16][2]int16{}
	for _, r := range s.Table().Ranges() {
		want[r.Key] = [2]int16{r.Min, r.Max}
	}
	check := func(resp *kmsg.ApiVersionsResponse) {
		got := map[int16][2]int16{}
		for _, k := range resp.ApiKeys {
			got[k.ApiKey] = [2]int16{k.MinVersion, k.MaxVersion}
		}
		assert.Equal(t, want, got)
	}
	c := dial(t, addr)
	for v := int16(0); v <= 4; v++ {
		req := kmsg.NewPtrApiVersionsRequest()
		req.Version = v
		req.ClientSoftwareName, req.ClientSoftwareVersion = "strom-test", "1.0"
		c.send(req, int32(v))
		corr, resp := c.recv(apis.ApiVersions, v)
		assert.Equal(t, int32(v), corr)
		av := resp.(*kmsg.ApiVersionsResponse)
		assert.Zero(t, av.ErrorCode, "v%d", v)
		check(av)
	}
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = 127
	c.send(req, 555)
	corr, resp := c.recv(apis.ApiVersions, 0) // decoded as v0, header v0
	assert.Equal(t, int32(555), corr)
	av := resp.(*kmsg.ApiVersionsResponse)
	assert.Equal(t, int16(35), av.ErrorCode)
	check(av)
	c.roundTrip(7) // the connection stays usable, as with Kafka
}

// TestKgoClient: franz-go's client negotiates versions with ApiVersions and
// issues Metadata against the test handler.
func TestKgoClient(t *testing.T) {
	var port int32
	h := funcHandler{fn: func(_ context.Context, req *Request) (Response, error) {
		if req.Key != apis.Metadata {
			return nil, fmt.Errorf("unexpected key %d", req.Key)
		}
		resp := kmsg.NewPtrMetadataResponse()
		b := kmsg.NewMetadataResponseBroker()
		b.NodeID, b.Host, b.Port = 0, "127.0.0.1", port
		resp.Brokers = []kmsg.MetadataResponseBroker{b}
		resp.ControllerID = 0
		topic := kmsg.NewMetadataResponseTopic()
		name := "kgo-topic"
		topic.Topic = &name
		resp.Topics = []kmsg.MetadataResponseTopic{topic}
		return resp, nil
	}}
	_, addr := start(t, Config{}, h)
	_, err := fmt.Sscanf(addr, "127.0.0.1:%d", &port)
	require.NoError(t, err)
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	require.NoError(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	resp, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl)
	require.NoError(t, err)
	require.Len(t, resp.Topics, 1)
	assert.Equal(t, "kgo-topic", *resp.Topics[0].Topic)
	assert.GreaterOrEqual(t, resp.Version, int16(9), "kgo negotiated a flexible version")
}

// TestProduceFramesRecycled: large Produce frames are read into recycled
// buffers (the handler sees the same backing array again), and every
// request still carries exactly the records its client sent.
func TestProduceFramesRecycled(t *testing.T) {
	const n, size = 40, 200 << 10
	type seen struct {
		first *byte
		sum   [32]byte
	}
	got := make(chan seen, n)
	h := funcHandler{fn: func(_ context.Context, req *Request) (Response, error) {
		if req.Key != apis.Produce {
			return echoMetadata(req), nil
		}
		recs := req.Body.(*kmsg.ProduceRequest).Topics[0].Partitions[0].Records
		got <- seen{&recs[0], sha256.Sum256(recs)} // the pointer only identifies the buffer
		resp := kmsg.NewPtrProduceResponse()
		return resp, nil
	}}
	_, addr := start(t, Config{}, h)
	c := dial(t, addr)
	firsts := map[*byte]bool{}
	for i := range n {
		recs := bytes.Repeat([]byte{byte(i)}, size)
		req := kmsg.NewPtrProduceRequest()
		req.Version, req.Acks, req.TimeoutMillis = 7, 1, 1000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = "t"
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Records = recs
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		c.send(req, int32(i))
		corr, _ := c.recv(apis.Produce, 7)
		require.Equal(t, int32(i), corr)
		s := <-got
		require.Equal(t, sha256.Sum256(recs), s.sum, "request %d saw other bytes than were sent", i)
		firsts[s.first] = true
	}
	// sync.Pool may drop buffers (often under -race), but not 40 in a row.
	assert.Less(t, len(firsts), n, "no Produce frame buffer was ever reused")
}

// recordingListener remembers the connections it accepts.
type recordingListener struct {
	net.Listener
	accepted chan net.Conn
}

func (l recordingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.accepted <- c
	}
	return c, err
}

// TestSocketBuffers: SendBufferBytes and ReceiveBufferBytes reach
// SO_SNDBUF and SO_RCVBUF of accepted connections (Linux reports twice the
// value set); zero leaves the OS default.
func TestSocketBuffers(t *testing.T) {
	const snd, rcv = 96 << 10, 112 << 10
	sockopts := func(cfg Config) (int, int) {
		s, err := New(cfg, funcHandler{fn: func(_ context.Context, req *Request) (Response, error) {
			return echoMetadata(req), nil
		}})
		require.NoError(t, err)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		rl := recordingListener{ln, make(chan net.Conn, 1)}
		served := make(chan error, 1)
		go func() { served <- s.Serve(rl) }()
		defer func() {
			s.Close()
			require.ErrorIs(t, <-served, ErrServerClosed)
		}()
		c := dial(t, ln.Addr().String())
		c.send(metadata(4), 1)
		c.recv(apis.Metadata, 4) // the server has set the connection up
		raw, err := (<-rl.accepted).(*net.TCPConn).SyscallConn()
		require.NoError(t, err)
		var gotSnd, gotRcv int
		require.NoError(t, raw.Control(func(fd uintptr) {
			gotSnd, _ = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF)
			gotRcv, _ = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF)
		}))
		return gotSnd, gotRcv
	}
	gotSnd, gotRcv := sockopts(Config{SendBufferBytes: snd, ReceiveBufferBytes: rcv})
	assert.Equal(t, 2*snd, gotSnd)
	assert.Equal(t, 2*rcv, gotRcv)
	gotSnd, gotRcv = sockopts(Config{})
	assert.NotEqual(t, 2*snd, gotSnd)
	assert.NotEqual(t, 2*rcv, gotRcv)
}
