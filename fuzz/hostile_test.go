package fuzz

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/net/apis"
	"github.com/strom-broker/strom/net/wire"
	"github.com/strom-broker/strom/tools/broker/brokertest"
)

// Bounds of the hostile-client tests.
const (
	hostileTopic = "hostile"
	// maxHeapGrowth is how much the in-process heap (broker and test) may
	// grow over the whole attack.
	maxHeapGrowth = 256 << 20
	// idleConns is how many idle connections one attack opens.
	idleConns = 2000
	// deadline bounds every wait on the broker (never a timing assertion).
	deadline = 60 * time.Second
)

// TestHostileClients attacks a running broker with malformed and abusive
// clients, one attack after another. After each: the broker is still up, a
// well-behaved kgo client completes a produce and consume round trip, every
// record written before is still there, and the process heap has not grown
// by more than maxHeapGrowth.
func TestHostileClients(t *testing.T) {
	b := brokertest.Start(t)
	addr := b.Addr()
	h := &hostile{t: t, addr: addr}
	h.roundTrip("before")
	base := heapInuse()

	attacks := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"negative length", func(t *testing.T) {
			c := h.dial(t)
			h.send(t, c, []byte{0x80, 0, 0, 0, 1, 2, 3})
			h.expectClosed(t, c)
		}},
		{"huge length", func(t *testing.T) {
			c := h.dial(t)
			h.send(t, c, []byte{0x7f, 0xff, 0xff, 0xff, 0, 18, 0, 0})
			h.expectClosed(t, c)
		}},
		{"length larger than what follows then close", func(t *testing.T) {
			c := h.dial(t)
			h.send(t, c, []byte{0, 0x10, 0, 0, 0, 18, 0, 0, 0, 0, 0, 1})
			require.NoError(t, c.(*net.TCPConn).CloseWrite())
			h.expectClosed(t, c)
		}},
		{"half a frame then silence", func(t *testing.T) {
			c := h.dial(t)
			h.send(t, c, []byte{0, 0x10, 0, 0, 0, 3, 0, 1, 0, 0, 0, 1}) // claims 1 MiB, sends 8
			h.roundTrip("while a client is silent mid-frame")
			_ = c.Close()
		}},
		{"array count in the billions", func(t *testing.T) {
			c := h.dial(t)
			h.send(t, c, frame(hugeArrayFrame(1<<31-1)))
			h.expectClosed(t, c)
		}},
		{"huge header tag count", func(t *testing.T) {
			c := h.dial(t)
			f := wire.AppendRequestHeader(nil, apis.Metadata, 12, 1, nil)
			f = f[:len(f)-1]                           // drop the empty tag section
			f = binary.AppendUvarint(f, 2_000_000_000) // tag count
			f = append(f, 0, 0)
			h.send(t, c, frame(f))
			h.expectClosed(t, c)
		}},
		{"tagged field larger than the frame", func(t *testing.T) {
			c := h.dial(t)
			f := wire.AppendRequestHeader(nil, apis.Metadata, 12, 1, nil)
			f = f[:len(f)-1]
			f = append(f, 1, 7)                // one tag, number 7
			f = binary.AppendUvarint(f, 1<<30) // of 1 GiB
			f = append(f, bytes.Repeat([]byte{0xee}, 64)...)
			h.send(t, c, frame(f))
			h.expectClosed(t, c)
		}},
		{"many large unknown tagged fields", func(t *testing.T) {
			// Valid but heavy: 500 unknown tags of 8 KiB in every topic of
			// a Metadata v12 request; the broker must answer it.
			req := kmsg.NewPtrMetadataRequest()
			req.Version = 12
			for i := range 4 {
				rt := kmsg.NewMetadataRequestTopic()
				name := fmt.Sprintf("tagged-%d", i)
				rt.Topic = &name
				for tag := range 500 {
					rt.UnknownTags.Set(uint32(100+tag), bytes.Repeat([]byte{byte(tag)}, 8<<10))
				}
				req.Topics = append(req.Topics, rt)
			}
			c := h.dial(t)
			f := wire.AppendRequestHeader(nil, apis.Metadata, 12, 42, nil)
			h.send(t, c, frame(req.AppendTo(f)))
			corr, _ := h.readResponse(t, c)
			assert.EqualValues(t, 42, corr)
			_ = c.Close()
		}},
		{"key not served", func(t *testing.T) {
			c := h.dial(t)
			h.send(t, c, frame(wire.AppendRequestHeader(nil, 17, 0, 1, nil))) // SaslHandshake
			h.expectClosed(t, c)
		}},
		{"unknown key", func(t *testing.T) {
			c := h.dial(t)
			h.send(t, c, frame([]byte{0x27, 0x0f, 0, 0, 0, 0, 0, 2, 0xff, 0xff})) // key 9999
			h.expectClosed(t, c)
		}},
		{"unknown version", func(t *testing.T) {
			c := h.dial(t)
			h.send(t, c, frame(wire.AppendRequestHeader(nil, apis.Produce, 99, 1, nil)))
			h.expectClosed(t, c)
		}},
		{"unknown ApiVersions version gets a v0 answer", func(t *testing.T) {
			c := h.dial(t)
			f := binary.BigEndian.AppendUint16(nil, uint16(apis.ApiVersions))
			f = binary.BigEndian.AppendUint16(f, 99)
			f = binary.BigEndian.AppendUint32(f, 77)
			f = append(f, 0xff, 0xff, 0, 0xde, 0xad) // client id null, then anything
			h.send(t, c, frame(f))
			corr, body := h.readResponse(t, c)
			require.EqualValues(t, 77, corr)
			resp := kmsg.NewPtrApiVersionsResponse()
			resp.Version = 0
			require.NoError(t, resp.ReadFrom(body))
			assert.EqualValues(t, 35, resp.ErrorCode) // UNSUPPORTED_VERSION
			assert.NotEmpty(t, resp.ApiKeys)
			_ = c.Close()
		}},
		{"garbage after a valid request", func(t *testing.T) {
			c := h.dial(t)
			req := kmsg.NewPtrApiVersionsRequest()
			req.Version = 3
			req.ClientSoftwareName, req.ClientSoftwareVersion = "hostile", "1"
			f := wire.AppendRequestHeader(nil, apis.ApiVersions, 3, 5, nil)
			h.send(t, c, append(frame(req.AppendTo(f)), bytes.Repeat([]byte{0xff}, 100)...))
			corr, _ := h.readResponse(t, c)
			assert.EqualValues(t, 5, corr)
			h.expectClosed(t, c)
		}},
		{"2000 idle connections", func(t *testing.T) {
			raiseFileLimit(t, 2*idleConns+1024)
			conns := make([]net.Conn, 0, idleConns)
			defer func() {
				for _, c := range conns {
					_ = c.Close()
				}
			}()
			for range idleConns {
				conns = append(conns, h.dial(t))
			}
			h.roundTrip("with 2000 idle connections open")
			t.Logf("heap with %d idle connections: %d MiB in use", idleConns, heapInuse()>>20)
		}},
		{"client that never reads its responses", func(t *testing.T) {
			h.neverReads(t)
		}},
	}
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			a.run(t)
			h.roundTrip("after " + a.name)
			grown := int64(heapInuse()) - int64(base)
			t.Logf("heap growth %d MiB, peak RSS %d MiB", grown>>20, peakRSS(t)>>20)
			assert.Less(t, grown, int64(maxHeapGrowth), "heap grew by %d bytes", grown)
		})
	}
	t.Logf("peak RSS of the test process (broker in-process): %d MiB", peakRSS(t)>>20)
}

// TestHostileFloodIsBudgeted: many connections pipeline large requests at
// once; queued.max.request.bytes bounds the request bytes the broker holds
// over all of them (it stops reading until handled requests give bytes
// back), every request is still answered, and well-behaved clients are
// served meanwhile.
func TestHostileFloodIsBudgeted(t *testing.T) {
	const (
		budget    = 4 << 20
		conns     = 16
		perConn   = 4
		tagged    = 1 << 20 // an unknown tagged field of 1 MiB per request
		metadataV = 12
	)
	b := brokertest.Start(t, fmt.Sprintf("queued.max.request.bytes=%d", budget))
	h := &hostile{t: t, addr: b.Addr()}
	h.roundTrip("before")

	req := kmsg.NewPtrMetadataRequest()
	req.Version = metadataV
	req.Topics = []kmsg.MetadataRequestTopic{} // none: a small answer
	req.UnknownTags.Set(1000, bytes.Repeat([]byte{0xab}, tagged))

	var peak atomic.Int64
	sampled := make(chan struct{})
	stopSampling := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			peak.Store(max(peak.Load(), b.Stats().QueuedRequestBytes))
			select {
			case <-stopSampling:
				return
			default:
				runtime.Gosched()
			}
		}
	}()

	var wg sync.WaitGroup
	for i := range conns {
		c := h.dial(t)
		defer c.Close()
		wg.Add(1)
		go func() {
			defer wg.Done()
			var all []byte
			for j := range perConn {
				f := wire.AppendRequestHeader(nil, apis.Metadata, metadataV, int32(i*perConn+j), nil)
				all = append(all, frame(req.AppendTo(f))...)
			}
			h.send(t, c, all)
			for j := range perConn {
				corr, _ := h.readResponse(t, c)
				assert.EqualValues(t, i*perConn+j, corr)
			}
		}()
	}
	h.roundTrip("during the flood")
	wg.Wait()
	close(stopSampling)
	<-sampled
	h.roundTrip("after the flood")
	t.Logf("peak request bytes held: %d KiB of a %d KiB budget (%d KiB sent)", peak.Load()>>10, budget>>10, conns*perConn*tagged>>10)
	assert.LessOrEqual(t, peak.Load(), int64(budget))
	assert.Positive(t, peak.Load())
	require.Eventually(t, func() bool { return b.Stats().QueuedRequestBytes == 0 }, deadline, time.Millisecond)
}

// hostile holds the target broker and what the well-behaved client wrote.
type hostile struct {
	t       *testing.T
	addr    string
	written []string // values produced so far, in order
}

// roundTrip produces one record with a well-behaved kgo client, then
// consumes the topic from the start and checks every record written so far
// is there, in order.
func (h *hostile) roundTrip(when string) {
	t := h.t
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(h.addr), kgo.AllowAutoTopicCreation(),
		kgo.DefaultProduceTopic(hostileTopic),
		kgo.ConsumeTopics(hostileTopic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	require.NoError(t, err)
	defer cl.Close()
	value := fmt.Sprintf("record %d (%s)", len(h.written), when)
	require.NoError(t, cl.ProduceSync(ctx, &kgo.Record{Value: []byte(value)}).FirstErr(), when)
	h.written = append(h.written, value)
	var got []string
	for len(got) < len(h.written) {
		fs := cl.PollFetches(ctx)
		require.NoError(t, ctx.Err(), "%s: consumed %d of %d records", when, len(got), len(h.written))
		for _, e := range fs.Errors() {
			require.NoError(t, e.Err, when)
		}
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	require.Equal(t, h.written, got, when)
}

func (h *hostile) dial(t *testing.T) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", h.addr, deadline)
	require.NoError(t, err)
	return c
}

func (h *hostile) send(t *testing.T, c net.Conn, b []byte) {
	t.Helper()
	require.NoError(t, c.SetWriteDeadline(time.Now().Add(deadline)))
	_, err := c.Write(b)
	require.NoError(t, err)
}

// readResponse reads one response frame and returns its correlation id and
// the rest (the body after a v0 header).
func (h *hostile) readResponse(t *testing.T, c net.Conn) (int32, []byte) {
	t.Helper()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(deadline)))
	f, err := wire.ReadFrame(c, wire.DefaultMaxFrameBytes)
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(f), 4)
	return int32(binary.BigEndian.Uint32(f)), f[4:]
}

// expectClosed reads (discarding) until the broker closes the connection.
func (h *hostile) expectClosed(t *testing.T, c net.Conn) {
	t.Helper()
	defer c.Close()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(deadline)))
	_, err := io.Copy(io.Discard, c)
	if err != nil {
		var ne net.Error
		require.False(t, errors.As(err, &ne) && ne.Timeout(), "broker did not close the connection: %v", err)
	}
}

// neverReads pipelines Fetch requests on one connection without ever
// reading a response, until the broker stops reading from it (its
// in-flight bound and the socket buffers are full); meanwhile and after,
// well-behaved clients are served and the heap stays bounded.
func (h *hostile) neverReads(t *testing.T) {
	h.produceLarge(t, 32, 64<<10) // 2 MiB, so every response is 1 MiB
	c := h.dial(t)
	req := kmsg.NewPtrFetchRequest()
	req.Version = 11
	req.ReplicaID = -1
	req.MaxBytes = 50 << 20
	req.MinBytes = 1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = hostileTopic
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.PartitionMaxBytes = 1 << 20
	rp.LogStartOffset = -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)

	const requests = 100_000
	var (
		wg   sync.WaitGroup
		sent atomic.Int64
		werr error
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		w := bufio.NewWriter(c)
		for i := range requests {
			f := wire.AppendRequestHeader(nil, apis.Fetch, 11, int32(i), nil)
			if _, werr = w.Write(frame(req.AppendTo(f))); werr != nil {
				return
			}
			sent.Store(int64(i + 1))
		}
		werr = w.Flush()
	}()
	// Once the broker stops reading, our writes block and sent stops
	// moving; until then keep checking that others are served.
	for last := int64(-1); sent.Load() != last && sent.Load() < requests; {
		last = sent.Load()
		h.roundTrip("while a client pipelines fetches without reading")
	}
	inUse := heapInuse()
	_ = c.Close() // unblocks the writer
	wg.Wait()
	t.Logf("pipelined %d of %d fetch requests (1 MiB responses) without reading before the broker stopped reading (writer: %v); heap in use %d MiB",
		sent.Load(), requests, werr, inUse>>20)
	assert.Less(t, sent.Load(), int64(requests), "the broker kept reading a client that never reads")
}

// produceLarge writes n records of size bytes with a well-behaved client.
func (h *hostile) produceLarge(t *testing.T, n, size int) {
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(h.addr), kgo.DefaultProduceTopic(hostileTopic),
		kgo.ProducerBatchMaxBytes(int32(size)*2))
	require.NoError(t, err)
	defer cl.Close()
	for range n {
		v := fmt.Sprintf("large record %d ", len(h.written)) + strings.Repeat("x", size)
		require.NoError(t, cl.ProduceSync(ctx, &kgo.Record{Value: []byte(v)}).FirstErr())
		h.written = append(h.written, v)
	}
}

// frame prefixes b with its size.
func frame(b []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(b))), b...)
}

// heapInuse is the heap in use after a garbage collection.
func heapInuse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// peakRSS is the process's peak resident set size (VmHWM).
func peakRSS(t *testing.T) int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			require.NoError(t, err)
			return kb << 10
		}
	}
	return -1
}

// raiseFileLimit raises the soft open-file limit to at least n (bounded by
// the hard limit), restoring it when the test ends.
func raiseFileLimit(t *testing.T, n uint64) {
	var lim syscall.Rlimit
	require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim))
	if lim.Cur >= n {
		return
	}
	old := lim
	lim.Cur = min(n, lim.Max)
	require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim))
	t.Cleanup(func() { _ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old) })
	if lim.Cur < n {
		t.Logf("open-file limit %d is below the %d wanted", lim.Cur, n)
	}
}
