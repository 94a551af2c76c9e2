package consoleconsumer

import (
	"fmt"
	"io"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strom-broker/strom/coord/group"
)

// formatOffsetCommit prints one __consumer_offsets record as Kafka's
// OffsetsMessageFormatter (2.x-3.x) does:
//
//	[group,topic,partition]::OffsetAndMetadata(offset=5, leaderEpoch=Optional[0], metadata=, commitTimestamp=1700000000000, expireTimestamp=None)
//
// and "[group,topic,partition]::NULL" for a tombstone. Group metadata
// records and records that are not offset commits print nothing.
func formatOffsetCommit(w io.Writer, r *kgo.Record) error {
	if r.Key == nil {
		return nil
	}
	k, err := group.DecodeKey(r.Key)
	if err != nil || k.IsGroup {
		return nil // not an offset commit: skipped, as Kafka's formatter does
	}
	head := fmt.Sprintf("[%s,%s,%d]::", k.Group, k.Topic, k.Partition)
	if r.Value == nil {
		_, err := fmt.Fprintf(w, "%sNULL\n", head)
		return err
	}
	v, err := group.DecodeOffsetValue(r.Value)
	if err != nil {
		return &FormatError{fmt.Errorf("%s-%d@%d: %w", r.Topic, r.Partition, r.Offset, err)}
	}
	epoch, expire := "Optional.empty", "None"
	if v.LeaderEpoch >= 0 {
		epoch = fmt.Sprintf("Optional[%d]", v.LeaderEpoch)
	}
	if v.ExpireTimestamp >= 0 {
		expire = fmt.Sprintf("Some(%d)", v.ExpireTimestamp)
	}
	_, err = fmt.Fprintf(w, "%sOffsetAndMetadata(offset=%d, leaderEpoch=%s, metadata=%s, commitTimestamp=%d, expireTimestamp=%s)\n",
		head, v.Offset, epoch, v.Metadata, v.CommitTimestamp, expire)
	return err
}
