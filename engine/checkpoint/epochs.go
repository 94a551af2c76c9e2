package checkpoint

import (
	"fmt"
	"strconv"
	"strings"
)

// LeaderEpochFile is the name of a partition directory's leader-epoch
// checkpoint. It is part of the on-disk layout.
const LeaderEpochFile = "leader-epoch-checkpoint"

// EpochEntry is one line of a leader-epoch checkpoint: the first offset
// written under a leader epoch.
type EpochEntry struct {
	Epoch       int32
	StartOffset int64
}

// ParseEpochs decodes a leader-epoch checkpoint. It checks syntax only
// (version, count, two non-negative numbers per line), not that entries
// increase: the epoch cache re-applies them with its own rules, as Kafka
// does when it loads the file. Errors wrap ErrMalformed.
func ParseEpochs(data []byte) ([]EpochEntry, error) {
	var out []EpochEntry
	err := parseText(data, 2, func(line int, f []string) error {
		e, err := parseNonNeg(line, "epoch", f[0], 32)
		if err != nil {
			return err
		}
		off, err := parseNonNeg(line, "start offset", f[1], 64)
		if err != nil {
			return err
		}
		out = append(out, EpochEntry{Epoch: int32(e), StartOffset: off})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// FormatEpochs encodes entries in the given order. Negative values are
// rejected with an error wrapping ErrMalformed.
func FormatEpochs(entries []EpochEntry) ([]byte, error) {
	for _, e := range entries {
		if e.Epoch < 0 || e.StartOffset < 0 {
			return nil, fmt.Errorf("%w: cannot write epoch %d start offset %d", ErrMalformed, e.Epoch, e.StartOffset)
		}
	}
	return formatText(len(entries), func(i int, b *strings.Builder) {
		b.WriteString(strconv.FormatInt(int64(entries[i].Epoch), 10))
		b.WriteByte(' ')
		b.WriteString(strconv.FormatInt(entries[i].StartOffset, 10))
	}), nil
}

// ReadEpochs parses the leader-epoch checkpoint at path. A missing file
// reads as no entries with no error.
func ReadEpochs(path string) ([]EpochEntry, error) {
	return readParsed(path, ParseEpochs)
}

// WriteEpochs replaces the leader-epoch checkpoint at path crash-safely
// (WriteFileAtomic).
func WriteEpochs(path string, entries []EpochEntry) error {
	return writeFormatted(path, entries, FormatEpochs)
}
