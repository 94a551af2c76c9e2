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
	data, err := readOptional(path)
	if err != nil {
		return nil, err
	}
	o, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	return o, nil
}

// Write replaces the offset checkpoint at path crash-safely (WriteFileAtomic).
func Write(path string, offsets Offsets) error {
	data, err := Format(offsets)
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w", path, err)
	}
	return WriteFileAtomic(path, data, 0o644)
}

// readOptional reads path, treating a missing file as empty.
func readOptional(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("checkpoint: read %s: %w", path, err)
	}
	return data, nil
}
