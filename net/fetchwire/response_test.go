package fetchwire

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// tempFile writes n random bytes to a new file and returns it open.
func tempFile(t testing.TB, n int) (*os.File, []byte) {
	t.Helper()
	data := make([]byte, n)
	_, _ = rand.Read(data)
	path := filepath.Join(t.TempDir(), "00000000000000000000.log")
	require.NoError(t, os.WriteFile(path, data, 0o644))
	f, err := os.Open(path)
	require.NoError(t, err)
	t.Cleanup(func() { _ = f.Close() })
	return f, data
}

// loopback returns both ends of a real TCP connection on 127.0.0.1.
func loopback(t testing.TB) (server, client *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	cc, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	sc := <-accepted
	require.NotNil(t, sc)
	t.Cleanup(func() { _ = sc.Close(); _ = cc.Close() })
	return sc.(*net.TCPConn), cc.(*net.TCPConn)
}

// conduit returns a writer and the reader of its bytes: a real TCP
// connection (sendfile path) for "tcp", an in-memory net.Pipe (copy path)
// otherwise.
func conduit(t *testing.T, via string) (io.Writer, io.Reader) {
	t.Helper()
	if via == "tcp" {
		return loopback(t)
	}
	pw, pr := net.Pipe()
	t.Cleanup(func() { _ = pw.Close(); _ = pr.Close() })
	return pw, pr
}

// sampleResponse builds a response using every field, with records from two
// files (one partition spanning both, i.e. two segments) and inline bytes.
func sampleResponse(t *testing.T, version int16) (*FetchResponse, map[int32][]byte) {
	f1, d1 := tempFile(t, 70_000)
	f2, d2 := tempFile(t, 5_000)
	rack := "rack-a"
	inline := []byte("inline-batch-bytes")
	resp := &FetchResponse{
		Version:        version,
		ThrottleMillis: 17,
		ErrorCode:      0,
		SessionID:      12345,
		Topics: []Topic{{
			Topic:   "orders",
			TopicID: [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
			Partitions: []Partition{
				{
					Partition: 0, HighWatermark: 1000, LastStableOffset: 990, LogStartOffset: 5,
					AbortedTransactions:  []AbortedTransaction{{ProducerID: 7, FirstOffset: 100}, {ProducerID: 8, FirstOffset: 200}},
					PreferredReadReplica: 2,
					Records:              []Slice{FileSlice(f1, 1000, 60_000), FileSlice(f2, 0, 5_000)},
					DivergingEpoch:       &EpochEndOffset{Epoch: 4, EndOffset: 900},
					CurrentLeader:        &LeaderIDAndEpoch{LeaderID: 3, LeaderEpoch: 9},
					SnapshotID:           &SnapshotID{EndOffset: 50, Epoch: 2},
				},
				{Partition: 1, ErrorCode: 6, HighWatermark: -1, LastStableOffset: -1, LogStartOffset: -1, PreferredReadReplica: -1},
				{
					Partition: 2, HighWatermark: 10, LastStableOffset: 10, PreferredReadReplica: -1,
					Records: []Slice{Bytes(inline), FileSlice(f1, 0, 10)},
				},
			},
		}},
		NodeEndpoints: []NodeEndpoint{{NodeID: 3, Host: "broker-3.local", Port: 9092, Rack: &rack}, {NodeID: 4, Host: "b4", Port: 9093}},
	}
	want := map[int32][]byte{
		0: append(append([]byte{}, d1[1000:61_000]...), d2...),
		1: {},
		2: append(append([]byte{}, inline...), d1[:10]...),
	}
	return resp, want
}

// readFrame reads one response frame: correlation id and body.
func readFrame(t *testing.T, r io.Reader, flexible bool) (int32, []byte) {
	t.Helper()
	var sz [4]byte
	_, err := io.ReadFull(r, sz[:])
	require.NoError(t, err)
	frame := make([]byte, binary.BigEndian.Uint32(sz[:]))
	_, err = io.ReadFull(r, frame)
	require.NoError(t, err)
	corr := int32(binary.BigEndian.Uint32(frame))
	body := frame[4:]
	if flexible {
		require.Equal(t, byte(0), body[0], "response header v1 tag section")
		body = body[1:]
	}
	return corr, body
}

// checkDecoded compares a kmsg decode of the wire bytes with resp.
func checkDecoded(t *testing.T, resp *FetchResponse, want map[int32][]byte, got *kmsg.FetchResponse) {
	v := resp.Version
	if v >= 1 {
		assert.Equal(t, resp.ThrottleMillis, got.ThrottleMillis)
	}
	if v >= 7 {
		assert.Equal(t, resp.ErrorCode, got.ErrorCode)
		assert.Equal(t, resp.SessionID, got.SessionID)
	}
	require.Len(t, got.Topics, len(resp.Topics))
	for ti, wt := range resp.Topics {
		gt := got.Topics[ti]
		if v >= 13 {
			assert.Equal(t, wt.TopicID, gt.TopicID)
		} else {
			assert.Equal(t, wt.Topic, gt.Topic)
		}
		require.Len(t, gt.Partitions, len(wt.Partitions))
		for pi, wp := range wt.Partitions {
			gp := gt.Partitions[pi]
			assert.Equal(t, wp.Partition, gp.Partition)
			assert.Equal(t, wp.ErrorCode, gp.ErrorCode)
			assert.Equal(t, wp.HighWatermark, gp.HighWatermark)
			if v >= 4 {
				assert.Equal(t, wp.LastStableOffset, gp.LastStableOffset)
				if wp.AbortedTransactions == nil {
					assert.Nil(t, gp.AbortedTransactions)
				} else {
					require.Len(t, gp.AbortedTransactions, len(wp.AbortedTransactions))
					for i, a := range wp.AbortedTransactions {
						assert.Equal(t, a.ProducerID, gp.AbortedTransactions[i].ProducerID)
						assert.Equal(t, a.FirstOffset, gp.AbortedTransactions[i].FirstOffset)
					}
				}
			}
			if v >= 5 {
				assert.Equal(t, wp.LogStartOffset, gp.LogStartOffset)
			}
			if v >= 11 {
				assert.Equal(t, wp.PreferredReadReplica, gp.PreferredReadReplica)
			}
			assert.True(t, bytes.Equal(want[wp.Partition], gp.RecordBatches), "partition %d records", wp.Partition)
			if v >= flexibleVersion {
				if wp.DivergingEpoch != nil {
					assert.Equal(t, wp.DivergingEpoch.Epoch, gp.DivergingEpoch.Epoch)
					assert.Equal(t, wp.DivergingEpoch.EndOffset, gp.DivergingEpoch.EndOffset)
				} else {
					assert.Equal(t, int32(-1), gp.DivergingEpoch.Epoch)
				}
				if wp.CurrentLeader != nil {
					assert.Equal(t, wp.CurrentLeader.LeaderID, gp.CurrentLeader.LeaderID)
					assert.Equal(t, wp.CurrentLeader.LeaderEpoch, gp.CurrentLeader.LeaderEpoch)
				} else {
					assert.Equal(t, int32(-1), gp.CurrentLeader.LeaderID)
				}
				if wp.SnapshotID != nil {
					assert.Equal(t, wp.SnapshotID.EndOffset, gp.SnapshotID.EndOffset)
					assert.Equal(t, wp.SnapshotID.Epoch, gp.SnapshotID.Epoch)
				} else {
					assert.Equal(t, int64(-1), gp.SnapshotID.EndOffset)
				}
			}
		}
	}
	if v >= 16 {
		require.Len(t, got.Brokers, len(resp.NodeEndpoints))
		for i, n := range resp.NodeEndpoints {
			assert.Equal(t, n.NodeID, got.Brokers[i].NodeID)
			assert.Equal(t, n.Host, got.Brokers[i].Host)
			assert.Equal(t, n.Port, got.Brokers[i].Port)
			assert.Equal(t, n.Rack, got.Brokers[i].Rack)
		}
	} else {
		assert.Empty(t, got.Brokers)
	}
}

// TestEveryVersionOverLoopback encodes the sample response at every version,
// sends it over a real TCP connection (sendfile) and over a pipe (copy
// fallback), and decodes it with kmsg.
func TestEveryVersionOverLoopback(t *testing.T) {
	for v := int16(0); v <= MaxVersion; v++ {
		for _, via := range []string{"tcp", "pipe"} {
			t.Run(fmt.Sprintf("v%d/%s", v, via), func(t *testing.T) {
				resp, want := sampleResponse(t, v)
				enc, err := resp.Encode(int32(1000 + v))
				require.NoError(t, err)
				fileBytes := int64(60_000 + 5_000 + 10)
				require.Equal(t, fileBytes, enc.FileBytes())

				w, r := conduit(t, via)
				var c Counters
				done := make(chan error, 1)
				go func() {
					n, err := enc.WriteTo(w, &c)
					if err == nil && n != enc.Size() {
						err = fmt.Errorf("wrote %d of %d", n, enc.Size())
					}
					done <- err
				}()
				corr, body := readFrame(t, r, v >= flexibleVersion)
				require.NoError(t, <-done)
				assert.Equal(t, int32(1000+v), corr)
				assert.Equal(t, enc.Size(), int64(len(body))+4+4+int64(btoi(v >= flexibleVersion)))

				got := kmsg.NewPtrFetchResponse()
				got.Version = v
				require.NoError(t, got.ReadFrom(body))
				checkDecoded(t, resp, want, got)

				if via == "tcp" {
					assert.Equal(t, fileBytes, c.Sendfile.Load())
					assert.Zero(t, c.Copied.Load())
				} else {
					assert.Equal(t, fileBytes, c.Copied.Load())
					assert.Zero(t, c.Sendfile.Load())
				}
			})
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestMatchesKmsgEncoding checks byte-for-byte equality with kmsg's own
// encoder for a response with in-memory records, at every version.
func TestMatchesKmsgEncoding(t *testing.T) {
	for v := int16(0); v <= MaxVersion; v++ {
		recs := []byte("some-record-batch-bytes")
		ours := &FetchResponse{Version: v, ThrottleMillis: 3, SessionID: 9, Topics: []Topic{{
			Topic: "t", TopicID: [16]byte{9},
			Partitions: []Partition{{Partition: 4, HighWatermark: 8, LastStableOffset: 8, LogStartOffset: 1,
				PreferredReadReplica: -1, Records: []Slice{Bytes(recs)}}},
		}}}
		theirs := kmsg.NewPtrFetchResponse()
		theirs.Version = v
		theirs.ThrottleMillis, theirs.SessionID = 3, 9
		tp := kmsg.NewFetchResponseTopicPartition()
		tp.Partition, tp.HighWatermark, tp.LastStableOffset, tp.LogStartOffset = 4, 8, 8, 1
		tp.PreferredReadReplica = -1
		tp.RecordBatches = recs
		tt := kmsg.NewFetchResponseTopic()
		tt.Topic, tt.TopicID = "t", [16]byte{9}
		tt.Partitions = []kmsg.FetchResponseTopicPartition{tp}
		theirs.Topics = []kmsg.FetchResponseTopic{tt}

		enc, err := ours.Encode(0)
		require.NoError(t, err)
		var got bytes.Buffer
		_, err = enc.WriteTo(&got, nil)
		require.NoError(t, err)
		hdr := 8 + btoi(v >= flexibleVersion)
		assert.Equal(t, theirs.AppendTo(nil), got.Bytes()[hdr:], "v%d", v)
	}
}

func TestEncodeRejects(t *testing.T) {
	f, _ := tempFile(t, 10)
	for _, tc := range []struct {
		name string
		r    FetchResponse
		want error
	}{
		{"version too new", FetchResponse{Version: MaxVersion + 1}, ErrVersion},
		{"negative version", FetchResponse{Version: -1}, ErrVersion},
		{"negative len", FetchResponse{Version: 4, Topics: []Topic{{Partitions: []Partition{{Records: []Slice{FileSlice(f, 0, -1)}}}}}}, ErrBadSlice},
		{"negative pos", FetchResponse{Version: 4, Topics: []Topic{{Partitions: []Partition{{Records: []Slice{FileSlice(f, -5, 1)}}}}}}, ErrBadSlice},
		{"too large", FetchResponse{Version: 4, Topics: []Topic{{Partitions: []Partition{{Records: []Slice{FileSlice(f, 0, 1<<31)}}}}}}, ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.r.Encode(1)
			require.ErrorIs(t, err, tc.want)
		})
	}
}

// TestShortFile: a slice past the end of its file fails the write with
// ErrShortFile on both paths, instead of hanging or sending garbage.
func TestShortFile(t *testing.T) {
	f, _ := tempFile(t, 100)
	for _, via := range []string{"tcp", "pipe"} {
		t.Run(via, func(t *testing.T) {
			r := &FetchResponse{Version: 11, Topics: []Topic{{Topic: "x", Partitions: []Partition{{Records: []Slice{FileSlice(f, 50, 100)}}}}}}
			enc, err := r.Encode(1)
			require.NoError(t, err)
			w, rd := conduit(t, via)
			go func() { _, _ = io.Copy(io.Discard, rd) }()
			_, err = enc.WriteTo(w, nil)
			require.ErrorIs(t, err, ErrShortFile)
		})
	}
}

// TestConcurrentReadersShareFile: many responses sending from one file at
// once each get their own bytes and the file's seek position never moves.
func TestConcurrentReadersShareFile(t *testing.T) {
	f, data := tempFile(t, 1<<20)
	const n = 8
	errs := make(chan error, n)
	readers := make([]*net.TCPConn, n)
	for i := range n {
		w, r := loopback(t)
		readers[i] = r
		pos := int64(i * 100_000)
		resp := &FetchResponse{Version: 12, Topics: []Topic{{Topic: "t", Partitions: []Partition{{Records: []Slice{FileSlice(f, pos, 100_000)}}}}}}
		enc, err := resp.Encode(int32(i))
		require.NoError(t, err)
		go func() { _, err := enc.WriteTo(w, nil); errs <- err }()
	}
	for i, r := range readers {
		pos := int64(i * 100_000)
		_, body := readFrame(t, r, true)
		got := kmsg.NewPtrFetchResponse()
		got.Version = 12
		require.NoError(t, got.ReadFrom(body))
		assert.True(t, bytes.Equal(data[pos:pos+100_000], got.Topics[0].Partitions[0].RecordBatches))
	}
	for range n {
		require.NoError(t, <-errs)
	}
	off, err := f.Seek(0, io.SeekCurrent)
	require.NoError(t, err)
	assert.Zero(t, off)
}
