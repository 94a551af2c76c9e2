package logmgr

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"strings"

	"github.com/strom-broker/strom/engine/checkpoint"
)

// deleteSuffix ends the name of a partition dir that is being deleted:
// "<topic>-<partition>.<32 hex>-delete", as Kafka names it. Part of the
// on-disk layout.
const deleteSuffix = "-delete"

// TopicPartition names one partition of one topic.
type TopicPartition = checkpoint.TopicPartition

// parsePartitionDir splits a partition dir name "<topic>-<partition>" at
// its last '-'. ok is false for anything else: an illegal topic, a
// partition that is not a canonical non-negative int32 ("01", "+1"), or a
// name with no '-'.
func parsePartitionDir(name string) (tp TopicPartition, ok bool) {
	i := strings.LastIndexByte(name, '-')
	if i <= 0 {
		return tp, false
	}
	topic, ps := name[:i], name[i+1:]
	p, err := strconv.ParseInt(ps, 10, 32)
	if err != nil || p < 0 || strconv.FormatInt(p, 10) != ps || !checkpoint.ValidTopic(topic) {
		return tp, false
	}
	return TopicPartition{Topic: topic, Partition: int32(p)}, true
}

// isDeleteDir reports whether name is a partition dir awaiting deletion.
func isDeleteDir(name string) bool {
	return strings.HasSuffix(name, deleteSuffix) && len(name) > len(deleteSuffix)
}

// deleteDirName returns a fresh "-delete" name for tp's dir.
func deleteDirName(tp TopicPartition) string {
	var id [16]byte
	_, _ = rand.Read(id[:]) // crypto/rand.Read never fails
	return tp.String() + "." + hex.EncodeToString(id[:]) + deleteSuffix
}
