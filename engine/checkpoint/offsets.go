package checkpoint

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"
)

// Names of the per-log-dir offset checkpoint files. They are part of the
// on-disk layout.
const (
	// RecoveryPointFile holds, per partition, the offset below which the log
	// is known flushed; recovery after a crash starts there.
	RecoveryPointFile = "recovery-point-offset-checkpoint"
	// ReplicationOffsetFile holds, per partition, the high watermark.
	ReplicationOffsetFile = "replication-offset-checkpoint"
	// LogStartOffsetFile holds, per partition, the log start offset.
	LogStartOffsetFile = "log-start-offset-checkpoint"
)

// maxTopicLen is Kafka's limit on a topic name's length.
const maxTopicLen = 249

// TopicPartition names one partition of one topic.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// String renders tp the way Kafka names its directory: "topic-partition".
func (tp TopicPartition) String() string {
	return tp.Topic + "-" + strconv.FormatInt(int64(tp.Partition), 10)
}

// Offsets maps each partition to one offset (recovery point, high watermark
// or log start offset, depending on the file).
type Offsets map[TopicPartition]int64

// ValidTopic reports whether name is a legal Kafka topic name: 1 to 249
// characters from [a-zA-Z0-9._-], and neither "." nor "..".
func ValidTopic(name string) bool {
	if name == "" || len(name) > maxTopicLen || name == "." || name == ".." {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '.' || c == '_' || c == '-'
		if !ok {
			return false
		}
	}
	return true
}

// Parse decodes an offset checkpoint. Errors wrap ErrMalformed; see the
// package documentation for the exact rules.
func Parse(data []byte) (Offsets, error) {
	out := Offsets{}
	err := parseText(data, 3, func(line int, f []string) error {
		if !ValidTopic(f[0]) {
			return fmt.Errorf("%w: line %d: illegal topic name %q", ErrMalformed, line, f[0])
		}
		p, err := parseNonNeg(line, "partition", f[1], 32)
		if err != nil {
			return err
		}
		off, err := parseNonNeg(line, "offset", f[2], 64)
		if err != nil {
			return err
		}
		tp := TopicPartition{Topic: f[0], Partition: int32(p)}
		if _, dup := out[tp]; dup {
			return fmt.Errorf("%w: line %d: duplicate entry for %s", ErrMalformed, line, tp)
		}
		out[tp] = off
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Format encodes offsets as a checkpoint, entries sorted by topic then
// partition so equal maps give equal bytes. It rejects illegal topic names
// and negative partitions or offsets with an error wrapping ErrMalformed,
// so whatever Format returns, Parse accepts.
func Format(offsets Offsets) ([]byte, error) {
	keys := make([]TopicPartition, 0, len(offsets))
	for tp, off := range offsets {
		if !ValidTopic(tp.Topic) || tp.Partition < 0 || off < 0 {
			return nil, fmt.Errorf("%w: cannot write %q partition %d offset %d", ErrMalformed, tp.Topic, tp.Partition, off)
		}
		keys = append(keys, tp)
	}
	slices.SortFunc(keys, func(a, b TopicPartition) int {
		if c := strings.Compare(a.Topic, b.Topic); c != 0 {
			return c
		}
		return cmp.Compare(a.Partition, b.Partition)
	})
	return formatText(len(keys), func(i int, b *strings.Builder) {
		tp := keys[i]
		b.WriteString(tp.Topic)
		b.WriteByte(' ')
		b.WriteString(strconv.FormatInt(int64(tp.Partition), 10))
		b.WriteByte(' ')
		b.WriteString(strconv.FormatInt(offsets[tp], 10))
	}), nil
}

// Read parses the offset checkpoint at path. A missing file reads as empty
// Offsets with no error, as in Kafka.
func Read(path string) (Offsets, error) {
	return readParsed(path, Parse)
}

// Write replaces the offset checkpoint at path crash-safely (WriteFileAtomic).
func Write(path string, offsets Offsets) error {
	return writeFormatted(path, offsets, Format)
}

// readParsed reads path with parse, treating a missing file as empty input.
func readParsed[T any](path string, parse func([]byte) (T, error)) (T, error) {
	var zero T
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return zero, fmt.Errorf("checkpoint: read %s: %w", path, err)
	}
	v, err := parse(data)
	if err != nil {
		return zero, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	return v, nil
}

// writeFormatted encodes v with format and writes it with WriteFileAtomic.
func writeFormatted[T any](path string, v T, format func(T) ([]byte, error)) error {
	data, err := format(v)
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w", path, err)
	}
	return WriteFileAtomic(path, data, 0o644)
}
