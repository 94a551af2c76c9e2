package broker

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/coord/group"
	"github.com/strom-broker/strom/engine/partlog"
	"github.com/strom-broker/strom/engine/record"
	"github.com/strom-broker/strom/net/kerr"
	"github.com/strom-broker/strom/net/server"
	"github.com/strom-broker/strom/replication"
)

// Produce (key 0). Every partition's batches are validated and appended by
// the partition's leader replica; acks=all then waits (up to the request
// timeout) until the records are committed. A partition's error never
// affects another. acks=0 gets no response at all; if any partition
// failed, the connection is closed instead (after the answers to earlier
// requests), as Kafka's KafkaApis.handleProduceRequest does, so that a
// fire-and-forget producer notices and refreshes its metadata.
//
// Produce v0-v2 carry message sets of magic 0/1, which Strom does not
// store: such partitions get UNSUPPORTED_FOR_MESSAGE_FORMAT.
//
// From v10, partitions answered NOT_LEADER_OR_FOLLOWER carry the current
// leader, and the response its endpoint on the request's listener
// (KIP-951, as Kafka's KafkaApis.handleProduceRequest).
func (b *Broker) handleProduce(ctx context.Context, req *kmsg.ProduceRequest, listener string) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	type waiter struct {
		p      *replication.Partition
		last   int64
		minISR int
	}
	var waits []waiter
	failed := false
	for _, rt := range req.Topics {
		st := kmsg.NewProduceResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewProduceResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.BaseOffset, sp.LogAppendTime, sp.LogStartOffset = -1, -1, -1
			p, res, minISR, err := b.produceTo(req.Version, rt.Topic, rp, req.Acks)
			if err != nil {
				failed = true
				sp.ErrorCode = errorCode(err)
				if req.Version >= 8 {
					sp.ErrorMessage = errorMessage(err.Error())
				}
			} else {
				sp.BaseOffset, sp.LogAppendTime, sp.LogStartOffset = res.FirstOffset, res.LogAppendTime, res.LogStartOffset
				if req.Acks == replication.AcksAll {
					// A duplicate (a retried batch already in the log)
					// waits too: its first attempt may not be committed
					// yet, and answering it at once would acknowledge
					// records a new leader may not have (as Kafka's
					// DelayedProduce, which waits for the original's
					// offsets). Found by the fault bed (F4).
					waits = append(waits, waiter{p: p, last: res.LastOffset, minISR: minISR})
				}
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	if req.Acks == replication.AcksNone {
		if failed {
			return nil, fmt.Errorf("%w: a produce with acks=0 failed (%s)", server.ErrCloseConnection, producePartitionErrors(resp))
		}
		return nil, nil
	}
	if len(waits) > 0 {
		wctx, cancel := context.WithTimeout(ctx, time.Duration(max(req.TimeoutMillis, 0))*time.Millisecond)
		defer cancel()
		for _, w := range waits {
			if err := w.p.WaitCommitted(wctx, w.last, w.minISR); err != nil {
				setProducePartitionError(resp, w.p.Topic(), w.p.Index(), err)
			}
		}
	}
	if req.Version >= 10 {
		b.addProduceLeaderHints(ctx, resp, listener)
	}
	return resp, nil
}

// addProduceLeaderHints fills KIP-951's current leader and node endpoints
// into a v10+ answer (see handleProduce).
func (b *Broker) addProduceLeaderHints(ctx context.Context, resp *kmsg.ProduceResponse, listener string) {
	var nodes nodeSet
	for i := range resp.Topics {
		st := &resp.Topics[i]
		for j := range st.Partitions {
			sp := &st.Partitions[j]
			if sp.ErrorCode != kerr.NotLeaderForPartition.Code {
				continue
			}
			h := b.currentLeader(ctx, st.Topic, sp.Partition, listener)
			sp.CurrentLeader.LeaderID, sp.CurrentLeader.LeaderEpoch = h.leaderID, h.leaderEpoch
			nodes.add(h)
		}
	}
	for _, n := range nodes.nodes {
		resp.Brokers = append(resp.Brokers, kmsg.ProduceResponseBroker{NodeID: n.id, Host: n.host, Port: n.port, Rack: n.rack})
	}
}

// produceTo appends one partition's records; it returns the replica, what
// was appended and the partition's min.insync.replicas.
func (b *Broker) produceTo(version int16, topic string, rp kmsg.ProduceRequestTopicPartition, acks int16) (*replication.Partition, partlog.AppendInfo, int, error) {
	if acks != replication.AcksNone && acks != replication.AcksLeader && acks != replication.AcksAll {
		return nil, partlog.AppendInfo{}, 0, kerr.InvalidRequiredAcks
	}
	p, ok := b.parts.get(topic, rp.Partition)
	if !ok {
		return nil, partlog.AppendInfo{}, 0, b.parts.notHosted(topic, rp.Partition)
	}
	if topic == group.OffsetsTopic {
		// Only the group coordinator writes there (Kafka refuses client
		// appends to internal topics the same way).
		return nil, partlog.AppendInfo{}, 0, fmt.Errorf("%w: cannot append to internal topic %s", kerr.InvalidTopicException, topic)
	}
	if err := checkProduceRecords(version, rp.Records); err != nil {
		return nil, partlog.AppendInfo{}, 0, err
	}
	minISR := b.parts.minInsyncReplicas(topic)
	info, err := p.Append(rp.Records, acks, minISR)
	if err != nil {
		return nil, partlog.AppendInfo{}, 0, err
	}
	return p, info, minISR, nil
}

// checkProduceRecords applies Kafka's rules on the shape of one partition's
// records (ProduceRequest.validateRecords) before the engine validates the
// batch itself: Produce v0-v2 carry message sets of magic 0/1, which Strom
// does not store (UNSUPPORTED_FOR_MESSAGE_FORMAT); v3+ must carry exactly
// one magic-2 batch (INVALID_RECORD otherwise, also for empty or null
// records), not compressed with zstd below v7 (UNSUPPORTED_COMPRESSION_TYPE).
func checkProduceRecords(version int16, records []byte) error {
	if len(records) == 0 && version >= 3 {
		return fmt.Errorf("%w: produce v%d must have at least one record batch per partition", kerr.InvalidRecord, version)
	}
	if len(records) <= record.MagicOffset {
		return nil // too short for a header: the engine reports it corrupt
	}
	if records[record.MagicOffset] != record.Magic {
		if version < 3 {
			return kerr.UnsupportedForMessageFormat
		}
		return fmt.Errorf("%w: produce v%d must carry magic 2 record batches", kerr.InvalidRecord, version)
	}
	if version < 7 && len(records) > record.AttributesOffset+1 &&
		record.Compression(records[record.AttributesOffset+1]&record.CompressionMask) == record.CompressionZstd {
		return fmt.Errorf("%w: produce v%d may not use zstd compression (v7+)", kerr.UnsupportedCompressionType, version)
	}
	if h, err := record.ParseHeader(records); err == nil && h.BatchLength >= record.MinBatchLength && h.Size() < len(records) {
		return fmt.Errorf("%w: produce v%d must carry exactly one record batch per partition", kerr.InvalidRecord, version)
	}
	return nil
}

// producePartitionErrors names the failed partitions of resp, for the log.
func producePartitionErrors(resp *kmsg.ProduceResponse) string {
	var out []string
	for _, st := range resp.Topics {
		for _, sp := range st.Partitions {
			if sp.ErrorCode != 0 {
				out = append(out, fmt.Sprintf("%s-%d: %s", st.Topic, sp.Partition, kerr.ForCode(sp.ErrorCode)))
			}
		}
	}
	return strings.Join(out, ", ")
}

func setProducePartitionError(resp *kmsg.ProduceResponse, topic string, partition int32, err error) {
	for i := range resp.Topics {
		if resp.Topics[i].Topic != topic {
			continue
		}
		for j := range resp.Topics[i].Partitions {
			if sp := &resp.Topics[i].Partitions[j]; sp.Partition == partition {
				sp.ErrorCode = errorCode(err)
			}
		}
	}
}
