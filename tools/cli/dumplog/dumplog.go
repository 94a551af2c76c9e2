// Package dumplog is `strom dump-log` (kafka-dump-log.sh): it prints the
// contents of log files offline, straight from disk, in Kafka's
// DumpLogSegments layout: .log segments (batch headers; every record with
// --deep-iteration; keys and values with --print-data-log; decoded
// __consumer_offsets records with --offsets-decoder), .index and
// .timeindex entries, and producer-state .snapshot files. Strom's files are
// Kafka's, so the same tool reads Kafka's own files too.
package dumplog

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/strom-broker/strom/coord/group"
	"github.com/strom-broker/strom/engine/producer"
	"github.com/strom-broker/strom/engine/record"
	"github.com/strom-broker/strom/tools/cli/clitool"
)

const synopsis = `Usage: strom dump-log --files FILE[,FILE...] [--print-data-log] [--deep-iteration] [--offsets-decoder]

Prints log files offline, without a broker: segments (.log), offset and
time indexes (.index, .timeindex) and producer snapshots (.snapshot).

  strom dump-log --files /tmp/strom-logs/t-0/00000000000000000000.log --print-data-log`

// options are the parsed flags.
type options struct {
	printData, deep, offsetsDecoder bool
	// sanityOnly and verifyOnly are --index-sanity-check and
	// --verify-index-only (index files only).
	sanityOnly, verifyOnly bool
}

// Run is the `dump-log` subcommand.
func Run(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := clitool.NewFlagSet("dump-log", synopsis)
	files := fs.String("files", "", "REQUIRED: comma-separated files to dump.")
	var o options
	fs.BoolVar(&o.printData, "print-data-log", false, "Print each record's key and value (implies --deep-iteration).")
	fs.BoolVar(&o.deep, "deep-iteration", false, "Print every record, not only batch headers.")
	fs.BoolVar(&o.offsetsDecoder, "offsets-decoder", false, "Decode __consumer_offsets records (implies --print-data-log).")
	fs.BoolVar(&o.sanityOnly, "index-sanity-check", false, "For index files: only check their structure (the broker's start-up check), without printing entries.")
	fs.BoolVar(&o.verifyOnly, "verify-index-only", false, "For index files: only check the entries against the segment's .log, without printing them.")
	if done, code := fs.Parse(args, stdout, stderr); done {
		return code
	}
	if *files == "" {
		return clitool.Fail(stderr, clitool.Usagef("missing required option --files"))
	}
	o.printData = o.printData || o.offsetsDecoder
	o.deep = o.deep || o.printData
	out := bufio.NewWriter(stdout)
	defer out.Flush()
	for _, f := range strings.Split(*files, ",") {
		if err := dumpFile(out, strings.TrimSpace(f), o); err != nil {
			out.Flush()
			return clitool.Fail(stderr, err)
		}
	}
	if err := out.Flush(); err != nil {
		return clitool.Fail(stderr, err)
	}
	return clitool.ExitOK
}

func dumpFile(w io.Writer, path string, o options) error {
	base, err := strconv.ParseInt(strings.TrimSuffix(filepath.Base(path), filepath.Ext(path)), 10, 64)
	if err != nil {
		return fmt.Errorf("%s: not a Kafka log file name (<20-digit offset>.log, .index, .timeindex, .snapshot)", path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "Dumping %s\n", path)
	switch filepath.Ext(path) {
	case ".log":
		return dumpLog(w, path, base, data, o)
	case ".index", ".timeindex":
		return dumpIndex(w, path, base, data, o)
	case ".snapshot":
		return dumpSnapshot(w, path, data)
	}
	return fmt.Errorf("%s: unknown file type (want .log, .index, .timeindex or .snapshot)", path)
}

// dumpLog prints every batch of a segment, and its records when deep.
func dumpLog(w io.Writer, path string, base int64, data []byte, o options) error {
	fmt.Fprintf(w, "Log starting offset: %d\n", base)
	for pos := 0; pos < len(data); {
		h, err := record.ParseHeader(data[pos:])
		if err != nil || h.BatchLength == 0 {
			if allZero(data[pos:]) {
				return nil // preallocated tail
			}
			return fmt.Errorf("%s: position %d: no batch header: %v", path, pos, err)
		}
		if pos+h.Size() > len(data) {
			return fmt.Errorf("%s: position %d: batch of %d bytes runs past the end of the file (%d bytes); the segment is truncated", path, pos, h.Size(), len(data))
		}
		b := data[pos : pos+h.Size()]
		valid := record.Checksum(b[record.AttributesOffset:]) == h.CRC
		fmt.Fprintf(w, "baseOffset: %d lastOffset: %d count: %d baseSequence: %d lastSequence: %d producerId: %d producerEpoch: %d partitionLeaderEpoch: %d isTransactional: %t isControl: %t deleteHorizonMs: OptionalLong.empty position: %d %s: %d size: %d magic: %d compresscodec: %s crc: %d isvalid: %t\n",
			h.BaseOffset, h.LastOffset(), h.RecordCount, h.BaseSequence, h.LastSequence(), h.ProducerID, h.ProducerEpoch, h.PartitionLeaderEpoch,
			h.IsTransactional(), h.IsControl(), pos, timestampType(h), h.MaxTimestamp, h.Size(), h.Magic, codecName(h.Compression()), h.CRC, valid)
		if o.deep {
			if err := dumpRecords(w, b, h, o); err != nil {
				return fmt.Errorf("%s: batch at position %d: %w", path, pos, err)
			}
		}
		pos += h.Size()
	}
	return nil
}

// dumpRecords prints the records of one batch.
func dumpRecords(w io.Writer, b []byte, h record.Header, o options) error {
	if c := h.Compression(); c != record.CompressionNone {
		recs, err := decompress(c, b[record.HeaderSize:])
		if err != nil {
			return fmt.Errorf("decompressing %s: %w", codecName(c), err)
		}
		plain := append(append([]byte(nil), b[:record.HeaderSize]...), recs...)
		binary.BigEndian.PutUint32(plain[record.BatchLengthOffset:], uint32(len(plain)-record.LogOverhead))
		attrs := binary.BigEndian.Uint16(plain[record.AttributesOffset:]) &^ uint16(record.CompressionMask)
		binary.BigEndian.PutUint16(plain[record.AttributesOffset:], attrs)
		b = plain
	}
	it, err := record.Records(b)
	if err != nil {
		return err
	}
	var r record.Record
	for it.Next(&r) {
		seq := int32(-1)
		if h.BaseSequence >= 0 {
			seq = h.BaseSequence + r.OffsetDelta
		}
		keys := make([]string, len(r.Headers))
		for i, hd := range r.Headers {
			keys[i] = string(hd.Key)
		}
		fmt.Fprintf(w, "| offset: %d %s: %d keySize: %d valueSize: %d sequence: %d headerKeys: [%s]",
			r.Offset(h), timestampType(h), r.Timestamp(h), size(r.Key), size(r.Value), seq, strings.Join(keys, ","))
		if h.IsControl() && r.Key != nil && len(r.Key) >= 4 {
			fmt.Fprintf(w, " endTxnMarker: %s", controlType(r.Key))
		} else if o.printData {
			key, payload := string(r.Key), string(r.Value)
			if o.offsetsDecoder {
				key, payload = decodeOffsets(r.Key, r.Value)
			}
			if r.Key != nil {
				fmt.Fprintf(w, " key: %s", key)
			}
			if r.Value != nil || o.offsetsDecoder {
				fmt.Fprintf(w, " payload: %s", payload)
			}
		}
		fmt.Fprintln(w)
	}
	return it.Err()
}

// decodeOffsets renders a __consumer_offsets record as Kafka's offsets
// decoder does: "offset_commit::group=g,partition=t-0" / "offset=5", or
// "group_metadata::group=g" / a JSON summary; a tombstone's payload is
// "<DELETE>".
func decodeOffsets(key, value []byte) (string, string) {
	k, err := group.DecodeKey(key)
	if err != nil {
		return fmt.Sprintf("unknown::%x", key), fmt.Sprintf("%x", value)
	}
	if !k.IsGroup {
		ks := fmt.Sprintf("offset_commit::group=%s,partition=%s-%d", k.Group, k.Topic, k.Partition)
		if value == nil {
			return ks, "<DELETE>"
		}
		v, err := group.DecodeOffsetValue(value)
		if err != nil {
			return ks, "<corrupt: " + err.Error() + ">"
		}
		if v.Metadata != "" {
			return ks, fmt.Sprintf("offset=%d metadata=%s", v.Offset, v.Metadata)
		}
		return ks, fmt.Sprintf("offset=%d", v.Offset)
	}
	ks := "group_metadata::group=" + k.Group
	if value == nil {
		return ks, "<DELETE>"
	}
	v, err := group.DecodeGroupValue(value)
	if err != nil {
		return ks, "<corrupt: " + err.Error() + ">"
	}
	members := make([]string, len(v.Members))
	for i, m := range v.Members {
		members[i] = m.MemberID
	}
	protocol := ""
	if v.Protocol != nil {
		protocol = *v.Protocol
	}
	js, _ := json.Marshal(struct {
		ProtocolType string   `json:"protocolType"`
		Protocol     string   `json:"protocol"`
		GenerationID int32    `json:"generationId"`
		Members      []string `json:"members"`
	}{v.ProtocolType, protocol, v.Generation, members})
	return ks, string(js)
}

// dumpSnapshot prints one line per producer of a producer-state snapshot.
func dumpSnapshot(w io.Writer, path string, data []byte) error {
	st, err := producer.DecodeSnapshot(data)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	for _, e := range st.Entries() {
		txn := "OptionalLong.empty"
		if e.CurrentTxnFirstOffset >= 0 {
			txn = fmt.Sprintf("OptionalLong[%d]", e.CurrentTxnFirstOffset)
		}
		fmt.Fprintf(w, "producerId: %d producerEpoch: %d coordinatorEpoch: %d currentTxnFirstOffset: %s lastTimestamp: %d",
			e.ProducerID, e.Epoch, e.CoordinatorEpoch, txn, e.LastTimestamp)
		if n := len(e.Batches); n > 0 {
			b := e.Batches[n-1]
			fmt.Fprintf(w, " firstSequence: %d lastSequence: %d lastOffset: %d offsetDelta: %d timestamp: %d",
				b.FirstSequence, b.LastSequence, b.LastOffset, b.LastOffset-b.FirstOffset, b.Timestamp)
		}
		fmt.Fprintln(w)
	}
	return nil
}

func timestampType(h record.Header) string {
	if h.TimestampType() == record.LogAppendTime {
		return "LogAppendTime"
	}
	return "CreateTime"
}

func codecName(c record.Compression) string {
	switch c {
	case record.CompressionNone:
		return "none"
	case record.CompressionGzip:
		return "gzip"
	case record.CompressionSnappy:
		return "snappy"
	case record.CompressionLZ4:
		return "lz4"
	case record.CompressionZstd:
		return "zstd"
	}
	return fmt.Sprintf("unknown(%d)", c)
}

// controlType names a control record by its key (version int16, type
// int16): ABORT or COMMIT.
func controlType(key []byte) string {
	switch binary.BigEndian.Uint16(key[2:]) {
	case 0:
		return "ABORT"
	case 1:
		return "COMMIT"
	}
	return "UNKNOWN"
}

func size(b []byte) int {
	if b == nil {
		return -1
	}
	return len(b)
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
