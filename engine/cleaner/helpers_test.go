package cleaner

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strom-broker/strom/engine/internal/testclock"
	"github.com/strom-broker/strom/engine/logmgr"
	"github.com/strom-broker/strom/engine/partlog"
	"github.com/strom-broker/strom/engine/record"
)

var quiet = slog.New(slog.DiscardHandler)

var tp0 = logmgr.TopicPartition{Topic: "t", Partition: 0}

// testClock is a manually advanced clock.
type testClock = testclock.Clock

func newClock() *testClock { return testclock.New() }

// compactConfig is a compacted topic with small segments.
func compactConfig() partlog.Config {
	c := partlog.DefaultConfig()
	c.CleanupPolicy = partlog.CleanupCompact
	c.SegmentBytes = 4096
	c.IndexIntervalBytes = 256
	c.SegmentIndexBytes = 4096
	c.DeleteRetentionMs = 60_000
	return c
}

// logDir returns the partition dir t-0 under a fresh log dir.
func logDir(t testing.TB) string { return filepath.Join(t.TempDir(), tp0.String()) }

func openLog(t testing.TB, dir string, cfg partlog.Config, clk *testClock, opts ...partlog.Option) *partlog.Log {
	t.Helper()
	o := append([]partlog.Option{partlog.WithLogger(quiet), partlog.WithClock(clk.Now)}, opts...)
	l, err := partlog.Open(dir, cfg, o...)
	require.NoError(t, err)
	return l
}

// kv is one record to append; a nil Value is a tombstone.
type kv struct {
	Key, Value []byte
}

// rec is one record read back, with its offset.
type rec struct {
	Offset int64
	Key    string
	Value  []byte // nil: tombstone
	HasKey bool
}

func (r rec) String() string { return fmt.Sprintf("%d:%s=%q", r.Offset, r.Key, r.Value) }

// buildBatch encodes records into one uncompressed batch.
func buildBatch(ts int64, recs []kv) []byte {
	b := record.NewBuilder(0)
	for i, r := range recs {
		b.Add(ts+int64(i), r.Key, r.Value)
	}
	return b.Build()
}

// gzipBatch converts an uncompressed batch into a gzip one.
func gzipBatch(t testing.TB, batch []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, err := zw.Write(batch[record.RecordsOffset:])
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return withCodec(batch[:record.RecordsOffset], buf.Bytes(), record.CompressionGzip)
}

// withCodec builds a batch from a header, a records section and a codec.
func withCodec(header, body []byte, c record.Compression) []byte {
	out := append(append([]byte(nil), header...), body...)
	binary.BigEndian.PutUint32(out[record.BatchLengthOffset:], uint32(len(out)-record.LogOverhead))
	attrs := binary.BigEndian.Uint16(out[record.AttributesOffset:])&^record.CompressionMask | uint16(c)
	binary.BigEndian.PutUint16(out[record.AttributesOffset:], attrs)
	binary.BigEndian.PutUint32(out[record.CRCOffset:], record.Checksum(out[record.AttributesOffset:]))
	return out
}

// appendKV appends one batch and returns its base offset.
func appendKV(t testing.TB, l *partlog.Log, ts int64, recs ...kv) int64 {
	t.Helper()
	info, err := l.Append(buildBatch(ts, recs), 0)
	require.NoError(t, err)
	return info.FirstOffset
}

func k(s string) []byte { return []byte(s) }

// readAll reads every record of the log, decoding gzip batches; opaque
// (other codecs) batches are returned in opaque.
func readAll(t testing.TB, l *partlog.Log) (recs []rec, opaque [][]byte, hs []record.Header) {
	t.Helper()
	data, err := l.ReadBytes(l.LogStartOffset(), 1<<30, l.LogEndOffset())
	require.NoError(t, err)
	var c codec
	for len(data) > 0 {
		h, err := record.ValidateMode(data[:min(len(data), int(binary.BigEndian.Uint32(data[8:]))+12)], record.FromLog)
		require.NoError(t, err)
		batch := data[:h.Size()]
		data = data[h.Size():]
		hs = append(hs, h)
		if !readable(h) {
			opaque = append(opaque, append([]byte(nil), batch...))
			continue
		}
		it, err := c.records(h, batch)
		require.NoError(t, err)
		var r record.Record
		for it.Next(&r) {
			var v []byte
			if r.Value != nil {
				v = append([]byte{}, r.Value...)
			}
			recs = append(recs, rec{Offset: r.Offset(h), Key: string(r.Key), Value: v, HasKey: r.Key != nil})
		}
		require.NoError(t, it.Err())
	}
	return recs, opaque, hs
}

// lastPerKey folds records into key -> last record.
func lastPerKey(recs []rec) map[string]rec {
	m := map[string]rec{}
	for _, r := range recs {
		if r.HasKey {
			m[r.Key] = r
		}
	}
	return m
}

func newCleaner(clk *testClock, opts ...Option) *Cleaner {
	return New(append([]Option{WithClock(clk.Now), WithLogger(quiet)}, opts...)...)
}

func nowNs() int64 { return time.Now().UnixNano() }

func errorsJoin(errs ...error) error { return errors.Join(errs...) }
