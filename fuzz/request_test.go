package fuzz

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/net/apis"
	"github.com/strom-broker/strom/net/kerr"
	"github.com/strom-broker/strom/net/server"
	"github.com/strom-broker/strom/net/wire"
)

// maxDecodeAmplification bounds what decoding a request may allocate per
// frame byte. kmsg refuses an array count larger than the bytes left, but
// each element becomes a Go struct (tens of bytes) decoded from as little
// as one to three wire bytes; TestDecodeRequestAmplification measures the
// worst cases.
const maxDecodeAmplification = 128

// FuzzDecodeRequest runs the server's own decode path (server.DecodeRequest
// with the broker's API table) on arbitrary frames: no panic; allocation
// bounded by the frame size; an unsupported key or version fails with
// UNSUPPORTED_VERSION exactly when the table says so; and what decodes
// re-encodes with kmsg to bytes that decode and re-encode to the same bytes.
func FuzzDecodeRequest(f *testing.F) {
	table := servedTable(f)
	f.Fuzz(func(t *testing.T, frame []byte) {
		var (
			req *server.Request
			err error
		)
		alloc := allocated(func() { req, err = server.DecodeRequest(frame, table) })
		require.LessOrEqual(t, alloc, uint64(maxDecodeAmplification*len(frame)+64<<10),
			"decoding %d bytes allocated %d", len(frame), alloc)
		if req == nil {
			require.Error(t, err)
			return
		}
		require.Equal(t, len(frame), req.Size)
		if !table.Supports(req.Key, req.Version) {
			require.ErrorIs(t, err, kerr.UnsupportedVersion)
			return
		}
		if err != nil {
			require.NotErrorIs(t, err, kerr.UnsupportedVersion)
			require.Nil(t, req.Body)
			return
		}
		require.Equal(t, req.Key, req.Body.Key())
		require.Equal(t, req.Version, req.Body.GetVersion())

		enc1 := req.Body.AppendTo(nil)
		again := wire.AppendRequestHeader(nil, req.Key, req.Version, req.CorrelationID, req.ClientID)
		req2, err := server.DecodeRequest(append(again, enc1...), table)
		require.NoError(t, err, "re-encoded %s v%d does not decode", kmsg.NameForKey(req.Key), req.Version)
		assert.Equal(t, req.CorrelationID, req2.CorrelationID)
		assert.Equal(t, req.ClientID, req2.ClientID)
		enc2 := req2.Body.AppendTo(nil)
		require.Equal(t, enc1, enc2, "%s v%d: encode(decode(encode(x))) != encode(x)", kmsg.NameForKey(req.Key), req.Version)
	})
}

// hugeArrayFrame is a Metadata v1 request (20 bytes) whose topic array
// claims count elements.
func hugeArrayFrame(count int32) []byte {
	frame := wire.AppendRequestHeader(nil, apis.Metadata, 1, 1, nil) // 10 bytes
	frame = binary.BigEndian.AppendUint32(frame, uint32(count))      // topics count
	frame = append(frame, 0, 1, 'a', 0, 1, 'b')                      // a few bytes of "elements"
	return frame
}

// TestDecodeRequestRejectsHugeArrayCount: a 20-byte frame claiming up to
// 2^31-1 array elements is refused without allocating them.
func TestDecodeRequestRejectsHugeArrayCount(t *testing.T) {
	table := servedTable(t)
	for _, count := range []int32{1<<31 - 1, 1 << 30, 1 << 20} {
		t.Run(fmt.Sprint(count), func(t *testing.T) {
			frame := hugeArrayFrame(count)
			require.Len(t, frame, 20)
			var err error
			alloc := allocated(func() { _, err = server.DecodeRequest(frame, table) })
			require.Error(t, err)
			assert.Less(t, alloc, uint64(1<<20), "allocated %d bytes", alloc)
		})
	}
	// The same frame with an honest count decodes: the test can fail.
	frame := hugeArrayFrame(2)
	req, err := server.DecodeRequest(frame, table)
	require.NoError(t, err)
	assert.Len(t, req.Body.(*kmsg.MetadataRequest).Topics, 2)
}

// TestDecodeRequestAmplification measures the allocation per frame byte
// of requests packed with the smallest possible array elements (default,
// empty elements, encoded by kmsg) and checks it against
// maxDecodeAmplification.
func TestDecodeRequestAmplification(t *testing.T) {
	table := servedTable(t)
	const n = 100_000
	cases := []struct {
		name string
		req  kmsg.Request
	}{
		{"Fetch v12 empty topics", func() kmsg.Request {
			r := kmsg.NewPtrFetchRequest()
			r.Version = 12
			r.Topics = make([]kmsg.FetchRequestTopic, n)
			return r
		}()},
		{"Metadata v9 null topics", func() kmsg.Request {
			r := kmsg.NewPtrMetadataRequest()
			r.Version = 9
			r.Topics = make([]kmsg.MetadataRequestTopic, n)
			return r
		}()},
		{"Produce v9 empty topics", func() kmsg.Request {
			r := kmsg.NewPtrProduceRequest()
			r.Version = 9
			r.Topics = make([]kmsg.ProduceRequestTopic, n)
			return r
		}()},
		{"Produce v9 empty partitions", func() kmsg.Request {
			r := kmsg.NewPtrProduceRequest()
			r.Version = 9
			r.Topics = []kmsg.ProduceRequestTopic{{Partitions: make([]kmsg.ProduceRequestTopicPartition, n)}}
			return r
		}()},
		{"OffsetCommit v8 empty partitions", func() kmsg.Request {
			r := kmsg.NewPtrOffsetCommitRequest()
			r.Version = 8
			r.Topics = []kmsg.OffsetCommitRequestTopic{{Partitions: make([]kmsg.OffsetCommitRequestTopicPartition, n)}}
			return r
		}()},
		{"JoinGroup v6 empty protocols", func() kmsg.Request {
			r := kmsg.NewPtrJoinGroupRequest()
			r.Version = 6
			r.Protocols = make([]kmsg.JoinGroupRequestProtocol, n)
			return r
		}()},
		{"Metadata v1 empty topics", func() kmsg.Request {
			r := kmsg.NewPtrMetadataRequest()
			r.Version = 1
			r.Topics = make([]kmsg.MetadataRequestTopic, n)
			return r
		}()},
	}
	worst := 0.0
	for _, c := range cases {
		frame := wire.AppendRequestHeader(nil, c.req.Key(), c.req.GetVersion(), 1, nil)
		frame = c.req.AppendTo(frame)
		var err error
		alloc := allocated(func() { _, err = server.DecodeRequest(frame, table) })
		require.NoError(t, err, c.name)
		ratio := float64(alloc) / float64(len(frame))
		t.Logf("%s: %d frame bytes -> %d allocated (%.1fx)", c.name, len(frame), alloc, ratio)
		worst = max(worst, ratio)
	}
	t.Logf("worst amplification %.1fx", worst)
	assert.Less(t, worst, float64(maxDecodeAmplification))
}

// TestCorpusCoversServedAPIs: the committed FuzzDecodeRequest corpus holds
// a seed for every key and version the broker serves (regenerate with
// `go generate` in the fuzz module when this fails).
func TestCorpusCoversServedAPIs(t *testing.T) {
	entries, err := os.ReadDir(filepath.Join("testdata", "fuzz", "FuzzDecodeRequest"))
	require.NoError(t, err)
	have := map[string]bool{}
	for _, e := range entries {
		have[e.Name()] = true
	}
	for _, r := range servedRanges(t) {
		for v := r.Min; v <= r.Max; v++ {
			prefix := fmt.Sprintf("seed-%s-v%d-default-", kmsg.NameForKey(r.Key), v)
			found := false
			for name := range have {
				found = found || strings.HasPrefix(name, prefix)
			}
			assert.True(t, found, "no seed %s* (run go generate)", prefix)
		}
	}
}
