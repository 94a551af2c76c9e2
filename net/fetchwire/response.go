// Package fetchwire encodes Fetch responses whose record data stays in files
// and writes them to a connection without copying that data through user
// space.
//
// A FetchResponse mirrors kmsg.FetchResponse for versions 0-17, except that
// each partition's records are a list of Slices: ranges of files (sent with
// sendfile(2) at an explicit offset) or bytes already in memory. Encode turns
// it into an Encoded frame: the size prefix, the response header and every
// non-record field are laid out in one in-memory buffer, interleaved with the
// file ranges; the frame's size counts the file ranges without reading them.
//
// Writing (Encoded.WriteTo): in-memory chunks go out with writev, file ranges
// with sendfile(2) on the socket's raw descriptor when the destination is a
// *net.TCPConn or *net.UnixConn, else with pread+write. Files are read only
// at explicit offsets (sendfile with an offset pointer, ReadAt), never through
// or moving the file's seek position, so any number of responses may read one
// file concurrently. The caller keeps every file open until WriteTo returns.
//
// Failure contract: if a file range turns out shorter than promised (the log
// was truncated under the reader) WriteTo fails with ErrShortFile after
// having sent part of the frame; the connection is then unusable and must be
// closed, because the frame size was already announced.
package fetchwire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
)

// MaxVersion is the newest Fetch version Encode supports.
const MaxVersion = 17

// Key is the Fetch API key.
const Key = 1

// flexibleVersion is the first Fetch version with compact encodings and
// tagged fields (KIP-482). Part of the wire format.
const flexibleVersion = 12

// Errors from Encode and WriteTo, matched with errors.Is.
var (
	// ErrVersion: the response version is outside 0..MaxVersion.
	ErrVersion = errors.New("fetchwire: unsupported fetch version")
	// ErrBadSlice: a slice has a negative position or length.
	ErrBadSlice = errors.New("fetchwire: bad slice")
	// ErrTooLarge: the encoded response would exceed the 2 GiB frame limit.
	ErrTooLarge = errors.New("fetchwire: response too large")
	// ErrShortFile: a file ended before a slice's promised length.
	ErrShortFile = errors.New("fetchwire: file shorter than slice")
)

// Slice is one piece of a partition's record data: Len bytes of File
// starting at Pos, or, when File is nil, the bytes Data (Pos and Len are then
// ignored). Slices of one partition are concatenated in order.
type Slice struct {
	// File holds the records; nil means Data does.
	File *os.File
	// Pos and Len are the byte range of File (Pos is an explicit offset;
	// the file's seek position is never used).
	Pos, Len int64
	// Data holds in-memory records when File is nil.
	Data []byte
}

// FileSlice returns the Slice for n bytes of f at pos.
func FileSlice(f *os.File, pos, n int64) Slice { return Slice{File: f, Pos: pos, Len: n} }

// Bytes returns the Slice for in-memory record bytes.
func Bytes(b []byte) Slice { return Slice{Data: b} }

func (s Slice) size() int64 {
	if s.File == nil {
		return int64(len(s.Data))
	}
	return s.Len
}

// FetchResponse is a Fetch response with file-backed records. Field comments
// name the versions that carry them; other versions ignore them.
type FetchResponse struct {
	// Version is the Fetch version to encode (the request's version). The
	// server sets it before encoding.
	Version int16
	// ThrottleMillis (v1+).
	ThrottleMillis int32
	// ErrorCode is the top-level error (v7+, fetch sessions).
	ErrorCode int16
	// SessionID is the fetch session id (v7+).
	SessionID int32
	// Topics holds the per-topic answers.
	Topics []Topic
	// NodeEndpoints lists leaders the client should know (tagged, v16+).
	NodeEndpoints []NodeEndpoint
	// Release, if set, is called exactly once by the server after the
	// response was written or dropped (the connection ended first); the
	// handler uses it to let go of the files its slices read from.
	Release func()
}

// Key returns the Fetch API key; it lets a *FetchResponse stand where the
// server expects a response.
func (*FetchResponse) Key() int16 { return Key }

// Topic is one topic of a FetchResponse.
type Topic struct {
	// Topic is the name (v0-12).
	Topic string
	// TopicID is the topic id (v13+).
	TopicID [16]byte
	// Partitions holds the per-partition answers.
	Partitions []Partition
}

// Partition is one partition of a FetchResponse topic.
type Partition struct {
	// Partition is the partition index.
	Partition int32
	// ErrorCode is the partition's error (0 for none).
	ErrorCode int16
	// HighWatermark is the offset after the last committed record.
	HighWatermark int64
	// LastStableOffset (v4+).
	LastStableOffset int64
	// LogStartOffset (v5+).
	LogStartOffset int64
	// AbortedTransactions (v4+); nil is sent as a null array.
	AbortedTransactions []AbortedTransaction
	// PreferredReadReplica (v11+); -1 for none.
	PreferredReadReplica int32
	// Records are the record batches, concatenated from these slices.
	Records []Slice
	// DivergingEpoch (tag 0, v12+); nil leaves the tag out.
	DivergingEpoch *EpochEndOffset
	// CurrentLeader (tag 1, v12+); nil leaves the tag out.
	CurrentLeader *LeaderIDAndEpoch
	// SnapshotID (tag 2, v12+); nil leaves the tag out.
	SnapshotID *SnapshotID
}

// RecordsLen is the total length of p's record slices.
func (p *Partition) RecordsLen() int64 {
	var n int64
	for _, s := range p.Records {
		n += s.size()
	}
	return n
}

// AbortedTransaction is one aborted transaction of a partition (v4+).
type AbortedTransaction struct {
	// ProducerID of the aborted transaction.
	ProducerID int64
	// FirstOffset is the transaction's first offset.
	FirstOffset int64
}

// EpochEndOffset tells a follower where its log diverges from the leader's.
type EpochEndOffset struct {
	// Epoch is the leader epoch.
	Epoch int32
	// EndOffset is where that epoch ends on the leader.
	EndOffset int64
}

// LeaderIDAndEpoch names the current leader of a partition.
type LeaderIDAndEpoch struct {
	// LeaderID is the leader's broker id.
	LeaderID int32
	// LeaderEpoch is its epoch.
	LeaderEpoch int32
}

// SnapshotID names the snapshot a follower must fetch.
type SnapshotID struct {
	// EndOffset is the snapshot's end offset.
	EndOffset int64
	// Epoch is the snapshot's epoch.
	Epoch int32
}

// NodeEndpoint is one broker endpoint (v16+).
type NodeEndpoint struct {
	// NodeID is the broker id.
	NodeID int32
	// Host and Port are where clients reach it.
	Host string
	Port int32
	// Rack is the broker's rack, nil if none.
	Rack *string
}

// part is one piece of an encoded frame: buf[lo:hi] of the header buffer, or
// a record slice.
type part struct {
	lo, hi int
	slice  Slice
	isMem  bool // true: buf[lo:hi]
}

// Encoded is a Fetch response frame ready to write: in-memory chunks
// interleaved with record slices.
//
// Invariant: size == len(buf) + sum of the slices' sizes, and the first four
// bytes of buf are size-4 in big-endian.
type Encoded struct {
	buf   []byte
	parts []part
	size  int64
}

// Size is the number of bytes WriteTo sends, size prefix included.
func (e *Encoded) Size() int64 { return e.size }

// FileBytes is the number of record bytes that come from files.
func (e *Encoded) FileBytes() int64 {
	var n int64
	for _, p := range e.parts {
		if !p.isMem && p.slice.File != nil {
			n += p.slice.Len
		}
	}
	return n
}

// encoder builds an Encoded. mark is where the current in-memory chunk
// starts in buf.
type encoder struct {
	e    Encoded
	mark int
	flex bool
}

func (c *encoder) i8(v int8)   { c.e.buf = append(c.e.buf, byte(v)) }
func (c *encoder) i16(v int16) { c.e.buf = binary.BigEndian.AppendUint16(c.e.buf, uint16(v)) }
func (c *encoder) i32(v int32) { c.e.buf = binary.BigEndian.AppendUint32(c.e.buf, uint32(v)) }
func (c *encoder) i64(v int64) { c.e.buf = binary.BigEndian.AppendUint64(c.e.buf, uint64(v)) }
func (c *encoder) uvarint(v uint64) {
	c.e.buf = binary.AppendUvarint(c.e.buf, v)
}

func (c *encoder) arrayLen(n int) {
	if c.flex {
		c.uvarint(uint64(n) + 1)
	} else {
		c.i32(int32(n))
	}
}

func (c *encoder) nullArrayLen(n int, null bool) {
	switch {
	case !null:
		c.arrayLen(n)
	case c.flex:
		c.uvarint(0)
	default:
		c.i32(-1)
	}
}

func (c *encoder) str(s string) {
	if c.flex {
		c.uvarint(uint64(len(s)) + 1)
	} else {
		c.i16(int16(len(s)))
	}
	c.e.buf = append(c.e.buf, s...)
}

func (c *encoder) nullStr(s *string) {
	switch {
	case s != nil:
		c.str(*s)
	case c.flex:
		c.uvarint(0)
	default:
		c.i16(-1)
	}
}

func (c *encoder) noTags() {
	if c.flex {
		c.i8(0)
	}
}

// slice ends the current in-memory chunk and appends s as its own part.
func (c *encoder) slice(s Slice) {
	if c.mark < len(c.e.buf) {
		c.e.parts = append(c.e.parts, part{lo: c.mark, hi: len(c.e.buf), isMem: true})
	}
	c.mark = len(c.e.buf)
	if s.size() > 0 {
		c.e.parts = append(c.e.parts, part{slice: s})
		c.e.size += s.size()
	}
}

// tag appends one tagged field whose payload is written by body.
func (c *encoder) tag(tag uint64, body func()) {
	c.uvarint(tag)
	at := len(c.e.buf)
	body()
	payload := append([]byte(nil), c.e.buf[at:]...)
	c.e.buf = binary.AppendUvarint(c.e.buf[:at], uint64(len(payload)))
	c.e.buf = append(c.e.buf, payload...)
}

// Encode lays out r as a response frame for correlationID. It validates
// the version and every slice and reads no file.
func (r *FetchResponse) Encode(correlationID int32) (*Encoded, error) {
	v := r.Version
	if v < 0 || v > MaxVersion {
		return nil, fmt.Errorf("%w: %d", ErrVersion, v)
	}
	c := &encoder{flex: v >= flexibleVersion}
	c.e.buf = make([]byte, 0, 64+32*r.partitionCount())
	c.i32(0) // size, filled at the end
	c.i32(correlationID)
	c.noTags() // response header v1 when flexible
	if v >= 1 {
		c.i32(r.ThrottleMillis)
	}
	if v >= 7 {
		c.i16(r.ErrorCode)
		c.i32(r.SessionID)
	}
	c.arrayLen(len(r.Topics))
	for ti := range r.Topics {
		t := &r.Topics[ti]
		if v >= 13 {
			c.e.buf = append(c.e.buf, t.TopicID[:]...)
		} else {
			c.str(t.Topic)
		}
		c.arrayLen(len(t.Partitions))
		for pi := range t.Partitions {
			if err := c.partition(v, &t.Partitions[pi]); err != nil {
				return nil, fmt.Errorf("topic %q partition %d: %w", t.Topic, t.Partitions[pi].Partition, err)
			}
		}
		c.noTags()
	}
	if c.flex {
		if v >= 16 && len(r.NodeEndpoints) > 0 {
			c.uvarint(1)
			c.tag(0, func() {
				c.arrayLen(len(r.NodeEndpoints))
				for _, n := range r.NodeEndpoints {
					c.i32(n.NodeID)
					c.str(n.Host)
					c.i32(n.Port)
					c.nullStr(n.Rack)
					c.noTags()
				}
			})
		} else {
			c.uvarint(0)
		}
	}
	c.slice(Slice{}) // close the last in-memory chunk
	c.e.size += int64(len(c.e.buf))
	if c.e.size-4 > math.MaxInt32 {
		return nil, fmt.Errorf("%w: %d bytes", ErrTooLarge, c.e.size)
	}
	binary.BigEndian.PutUint32(c.e.buf, uint32(c.e.size-4))
	return &c.e, nil
}

func (c *encoder) partition(v int16, p *Partition) error {
	c.i32(p.Partition)
	c.i16(p.ErrorCode)
	c.i64(p.HighWatermark)
	if v >= 4 {
		c.i64(p.LastStableOffset)
	}
	if v >= 5 {
		c.i64(p.LogStartOffset)
	}
	if v >= 4 {
		c.nullArrayLen(len(p.AbortedTransactions), p.AbortedTransactions == nil)
		for _, a := range p.AbortedTransactions {
			c.i64(a.ProducerID)
			c.i64(a.FirstOffset)
			c.noTags()
		}
	}
	if v >= 11 {
		c.i32(p.PreferredReadReplica)
	}
	var n int64
	for _, s := range p.Records {
		if s.File != nil && (s.Pos < 0 || s.Len < 0) {
			return fmt.Errorf("%w: pos %d len %d", ErrBadSlice, s.Pos, s.Len)
		}
		n += s.size()
	}
	if n > math.MaxInt32-1 {
		return fmt.Errorf("%w: %d record bytes", ErrTooLarge, n)
	}
	if c.flex {
		c.uvarint(uint64(n) + 1)
	} else {
		c.i32(int32(n))
	}
	for _, s := range p.Records {
		c.slice(s)
	}
	if !c.flex {
		return nil
	}
	count := 0
	for _, present := range []bool{p.DivergingEpoch != nil, p.CurrentLeader != nil, p.SnapshotID != nil} {
		if present {
			count++
		}
	}
	c.uvarint(uint64(count))
	if d := p.DivergingEpoch; d != nil {
		c.tag(0, func() { c.i32(d.Epoch); c.i64(d.EndOffset); c.noTags() })
	}
	if l := p.CurrentLeader; l != nil {
		c.tag(1, func() { c.i32(l.LeaderID); c.i32(l.LeaderEpoch); c.noTags() })
	}
	if s := p.SnapshotID; s != nil {
		c.tag(2, func() { c.i64(s.EndOffset); c.i32(s.Epoch); c.noTags() })
	}
	return nil
}

func (r *FetchResponse) partitionCount() int {
	n := 0
	for i := range r.Topics {
		n += len(r.Topics[i].Partitions)
	}
	return n
}
