package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/net/apis"
	"github.com/strom-broker/strom/net/kerr"
	"github.com/strom-broker/strom/net/server"
)

const deadline = 20 * time.Second // hang guard only

type handler struct {
	table []apis.Range
	fn    func(ctx context.Context, req *server.Request) (server.Response, error)
}

func (h handler) Handle(ctx context.Context, req *server.Request) (server.Response, error) {
	return h.fn(ctx, req)
}
func (h handler) APIVersions() []apis.Range { return h.table }

// echo answers Metadata with one topic named after the first requested one.
func echo(_ context.Context, req *server.Request) (server.Response, error) {
	switch body := req.Body.(type) {
	case *kmsg.MetadataRequest:
		resp := kmsg.NewPtrMetadataResponse()
		for _, rt := range body.Topics {
			t := kmsg.NewMetadataResponseTopic()
			t.Topic = rt.Topic
			resp.Topics = append(resp.Topics, t)
		}
		return resp, nil
	case *kmsg.ProduceRequest:
		if body.Acks == 0 {
			return nil, nil
		}
		return body.ResponseKind(), nil
	}
	return nil, fmt.Errorf("unexpected %T", req.Body)
}

func startServer(t *testing.T, h server.Handler) string {
	t.Helper()
	s, err := server.New(server.Config{}, h)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(s.Close)
	return ln.Addr().String()
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), deadline)
	t.Cleanup(cancel)
	return c
}

func metadataFor(topic string) *kmsg.MetadataRequest {
	r := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = &topic
	r.Topics = []kmsg.MetadataRequestTopic{rt}
	return r
}

func TestNegotiatedAndPipelined(t *testing.T) {
	addr := startServer(t, handler{table: apis.Default(), fn: echo})
	c, err := Dial(ctx(t), addr, "replica-1")
	require.NoError(t, err)
	defer c.Close()
	lo, hi, ok := c.Versions(apis.Metadata)
	require.True(t, ok)
	assert.Equal(t, [2]int16{0, 12}, [2]int16{lo, hi})

	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			topic := fmt.Sprintf("topic-%d", i)
			req := metadataFor(topic)
			resp, err := c.Request(ctx(t), req)
			if !assert.NoError(t, err) {
				return
			}
			assert.Equal(t, int16(12), req.GetVersion(), "min(kmsg max, broker max)")
			m := resp.(*kmsg.MetadataResponse)
			if assert.Len(t, m.Topics, 1) {
				assert.Equal(t, topic, *m.Topics[0].Topic)
			}
		})
	}
	wg.Wait()

	// An exact, old, non-flexible version.
	req := metadataFor("old")
	req.Version = 1
	resp, err := c.RequestVersion(ctx(t), req)
	require.NoError(t, err)
	assert.Equal(t, "old", *resp.(*kmsg.MetadataResponse).Topics[0].Topic)

	// acks=0 produce: no response, and the stream stays in sync.
	p := kmsg.NewPtrProduceRequest()
	p.Acks = 0
	resp, err = c.Request(ctx(t), p)
	require.NoError(t, err)
	assert.Nil(t, resp)
	_, err = c.Request(ctx(t), metadataFor("after"))
	require.NoError(t, err)

	// A key the broker does not serve fails without being sent.
	_, err = c.Request(ctx(t), kmsg.NewPtrDescribeClusterRequest())
	require.ErrorIs(t, err, kerr.UnsupportedVersion)
}

// TestNegotiateDown: a broker serving only ApiVersions 0-2 answers the
// client's v4 with UNSUPPORTED_VERSION; the client retries at v2.
func TestNegotiateDown(t *testing.T) {
	table := []apis.Range{{Key: apis.ApiVersions, Min: 0, Max: 2}, {Key: apis.Metadata, Min: 0, Max: 5}}
	addr := startServer(t, handler{table: table, fn: echo})
	c, err := Dial(ctx(t), addr, "replica-1")
	require.NoError(t, err)
	defer c.Close()
	req := metadataFor("x")
	_, err = c.Request(ctx(t), req)
	require.NoError(t, err)
	assert.Equal(t, int16(5), req.GetVersion())
}

// TestCancelCloses: a call whose ctx ends closes the connection; later
// calls fail with ErrClosed.
func TestCancelCloses(t *testing.T) {
	started := make(chan struct{})
	h := handler{table: apis.Default(), fn: func(ctx context.Context, req *server.Request) (server.Response, error) {
		close(started)
		<-ctx.Done()
		return nil, ctx.Err()
	}}
	addr := startServer(t, h)
	c, err := Dial(ctx(t), addr, "replica-1")
	require.NoError(t, err)
	defer c.Close()
	cctx, cancel := context.WithCancel(context.Background())
	go func() { <-started; cancel() }()
	_, err = c.Request(cctx, metadataFor("slow"))
	require.ErrorIs(t, err, context.Canceled)
	_, err = c.Request(ctx(t), metadataFor("next"))
	require.ErrorIs(t, err, ErrClosed)
	require.True(t, errors.Is(err, context.Canceled), "cause kept: %v", err)
}

func TestDialFails(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	_, err = Dial(ctx(t), addr, "x")
	require.Error(t, err)
}
