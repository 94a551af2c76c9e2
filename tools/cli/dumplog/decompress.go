package dumplog

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"

	"github.com/strom-broker/strom/engine/record"
)

// maxDecompressed bounds one batch's decompressed records.
const maxDecompressed = 256 << 20

// xerialMagic starts snappy data framed the way Kafka's Java client writes
// it (xerial snappy-java): magic, version, compatible version, then
// length-prefixed snappy blocks.
var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

// decompress returns the records region of a compressed batch.
func decompress(codec record.Compression, data []byte) ([]byte, error) {
	switch codec {
	case record.CompressionGzip:
		r, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		return readAllBounded(r)
	case record.CompressionSnappy:
		return unsnappy(data)
	case record.CompressionLZ4:
		return readAllBounded(lz4.NewReader(bytes.NewReader(data)))
	case record.CompressionZstd:
		d, err := zstd.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		defer d.Close()
		return readAllBounded(d)
	}
	return nil, fmt.Errorf("unknown compression codec %d", codec)
}

func readAllBounded(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxDecompressed+1))
	if err == nil && len(b) > maxDecompressed {
		err = fmt.Errorf("decompressed batch larger than %d bytes", maxDecompressed)
	}
	return b, err
}

// unsnappy decodes raw snappy or xerial-framed snappy.
func unsnappy(data []byte) ([]byte, error) {
	if !bytes.HasPrefix(data, xerialMagic) {
		return s2.Decode(nil, data)
	}
	data = data[len(xerialMagic)+8:] // magic, version, compatible version
	var out []byte
	for len(data) > 0 {
		if len(data) < 4 {
			return nil, errors.New("truncated xerial snappy block length")
		}
		n := int(binary.BigEndian.Uint32(data))
		data = data[4:]
		if n < 0 || n > len(data) {
			return nil, errors.New("truncated xerial snappy block")
		}
		block, err := s2.Decode(nil, data[:n])
		if err != nil {
			return nil, err
		}
		if out = append(out, block...); len(out) > maxDecompressed {
			return nil, fmt.Errorf("decompressed batch larger than %d bytes", maxDecompressed)
		}
		data = data[n:]
	}
	return out, nil
}
