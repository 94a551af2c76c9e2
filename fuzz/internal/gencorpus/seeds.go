package main

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/coord/group"
	"github.com/strom-broker/strom/coord/store"
	"github.com/strom-broker/strom/coord/znode"
	"github.com/strom-broker/strom/engine/checkpoint"
	"github.com/strom-broker/strom/engine/record"
	"github.com/strom-broker/strom/fuzz/internal/corpus"
	"github.com/strom-broker/strom/net/apis"
	"github.com/strom-broker/strom/net/wire"
	"github.com/strom-broker/strom/tools/config"
)

// writeRequests seeds the request decoders with every served key and
// version, and the frame reader with size-prefixed frames.
func writeRequests(w *corpus.Writer, ranges []apis.Range) error {
	reqs, err := corpus.Requests(ranges)
	if err != nil {
		return err
	}
	for _, r := range reqs {
		if err := w.Add("FuzzDecodeRequest", r.Name, r.Frame); err != nil {
			return err
		}
		if err := w.Add("FuzzParseRequestHeader", r.Name, r.Frame); err != nil {
			return err
		}
		if !strings.HasSuffix(r.Name, "-filled") {
			continue
		}
		framed := binary.BigEndian.AppendUint32(nil, uint32(len(r.Frame)))
		framed = append(framed, r.Frame...)
		if err := w.Add("FuzzReadFrame", r.Name, framed); err != nil {
			return err
		}
	}
	odd := map[string][]byte{
		"empty":      {},
		"short-size": {0, 0},
		"negative":   {0xff, 0xff, 0xff, 0xfe, 1, 2},
		"huge":       {0x7f, 0xff, 0xff, 0xff, 1, 2, 3},
		"truncated":  {0, 0, 0, 10, 1, 2, 3},
		"zero":       {0, 0, 0, 0},
	}
	for name, b := range odd {
		if err := w.Add("FuzzReadFrame", name, b); err != nil {
			return err
		}
	}
	return nil
}

// writeFiles seeds the storage decoders with the broker's real files.
func writeFiles(w *corpus.Writer, dir string) error {
	for _, topic := range []string{topicPlain, topicGzip} {
		pdir := filepath.Join(dir, topic+"-0")
		seg := func(suffix string) ([]byte, error) {
			return os.ReadFile(filepath.Join(pdir, fmt.Sprintf("%020d%s", 0, suffix)))
		}
		logb, err := seg(".log")
		if err != nil {
			return err
		}
		idx, err := seg(".index")
		if err != nil {
			return err
		}
		tidx, err := seg(".timeindex")
		if err != nil {
			return err
		}
		for _, clean := range []bool{false, true} {
			if err := w.Add("FuzzRecover", fmt.Sprintf("%s-clean-%t", topic, clean), logb, idx, tidx, clean); err != nil {
				return err
			}
		}
		if err := w.Add("FuzzScanner", topic, logb, false); err != nil {
			return err
		}
		s := record.NewScanner(logb, record.FromLog)
		for i := 0; s.Next(); i++ {
			name := fmt.Sprintf("%s-batch%d", topic, i)
			if err := w.Add("FuzzValidate", name, s.Batch(), false); err != nil {
				return err
			}
			if err := writeProduce(w, name, s.Batch()); err != nil {
				return err
			}
		}
		if err := s.Err(); err != nil {
			return fmt.Errorf("%s: %w", topic, err)
		}
		if err := addFile(w, "FuzzCheckpointParseEpochs", filepath.Join(pdir, checkpoint.LeaderEpochFile)); err != nil {
			return err
		}
		snaps, _ := filepath.Glob(filepath.Join(pdir, "*.snapshot"))
		for _, sn := range snaps {
			if err := addFile(w, "FuzzDecodeSnapshot", sn, false); err != nil {
				return err
			}
		}
	}
	for _, f := range []string{checkpoint.RecoveryPointFile, checkpoint.ReplicationOffsetFile, checkpoint.LogStartOffsetFile} {
		if err := addFile(w, "FuzzCheckpointParse", filepath.Join(dir, f)); err != nil {
			return err
		}
	}
	return addFile(w, "FuzzCheckpointParseMeta", filepath.Join(dir, checkpoint.MetaPropertiesFile))
}

// writeProduce seeds the request decoder with Produce requests carrying a
// real batch, at every version that carries v2 batches.
func writeProduce(w *corpus.Writer, name string, batch []byte) error {
	clientID := "fuzz-seed"
	for v := int16(3); v <= 11; v++ {
		req := kmsg.NewPtrProduceRequest()
		req.SetVersion(v)
		req.Acks = -1
		req.TimeoutMillis = 5000
		t := kmsg.NewProduceRequestTopic()
		t.Topic = "t"
		p := kmsg.NewProduceRequestTopicPartition()
		p.Records = batch
		t.Partitions = append(t.Partitions, p)
		req.Topics = append(req.Topics, t)
		frame := wire.AppendRequestHeader(nil, apis.Produce, v, 7, &clientID)
		frame = req.AppendTo(frame)
		if err := w.Add("FuzzDecodeRequest", fmt.Sprintf("Produce-v%d-%s", v, name), frame); err != nil {
			return err
		}
	}
	return nil
}

// addFile writes the content of path (plus extra arguments) as a seed.
func addFile(w *corpus.Writer, target, path string, extra ...any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return w.Add(target, filepath.Base(path), append([]any{data}, extra...)...)
}

// writeCoord seeds the __consumer_offsets and znode decoders with what the
// coord encoders write.
func writeCoord(w *corpus.Writer) error {
	proto, leader, inst := "range", "m-1", "i-1"
	add := func(target, name string, args ...any) error { return w.Add(target, name, args...) }
	gv := group.GroupValue{ProtocolType: "consumer", Generation: 3, Protocol: &proto, Leader: &leader,
		CurrentStateTimestamp: 1700000000000, Members: []group.MemberValue{{
			MemberID: "m-1", GroupInstanceID: &inst, ClientID: "c", ClientHost: "/127.0.0.1",
			RebalanceTimeout: 60000, SessionTimeout: 45000, Subscription: []byte{0, 1}, Assignment: []byte{0, 2},
		}}}
	tid := store.UUID{1, 2, 3}
	znodes := []struct {
		which uint8
		name  string
		data  []byte
	}{
		{0, "cluster-id", znode.EncodeClusterID("Q1w2e3r4t5y6u7i8o9p0aa")},
		{1, "broker", znode.EncodeBroker(store.BrokerInfo{ID: 1, Endpoints: []store.Endpoint{{Listener: "PLAINTEXT", SecurityProtocol: "PLAINTEXT", Host: "localhost", Port: 9092}}, Rack: "r1", JMXPort: -1, Timestamp: 1700000000000})},
		{2, "controller", znode.EncodeController(1, 1700000000000)},
		{3, "controller-epoch", znode.EncodeControllerEpoch(5)},
		{4, "topic", znode.EncodeTopicAssignment(store.TopicAssignment{Name: "t", ID: tid, Partitions: map[int32][]int32{0: {1, 2}, 1: {2, 1}}, AddingReplicas: map[int32][]int32{0: {3}}})},
		{5, "partition-state", znode.EncodePartitionState(store.PartitionState{Leader: 1, LeaderEpoch: 2, ISR: []int32{1, 2}, ControllerEpoch: 3})},
		{6, "topic-config", znode.EncodeTopicConfig(map[string]string{"retention.ms": "1000", "cleanup.policy": "compact"})},
		{7, "pid-block", znode.EncodeProducerIDBlock(store.ProducerIDBlock{BrokerID: 1, Start: 1000, End: 1999})},
	}
	errs := []error{
		add("FuzzGroupDecodeKey", "offset-key", group.EncodeOffsetKey("g", "t", 3)),
		add("FuzzGroupDecodeKey", "group-key", group.EncodeGroupKey("g")),
		add("FuzzGroupDecodeOffsetValue", "v3", group.EncodeOffsetValue(group.OffsetValue{Offset: 42, LeaderEpoch: 2, Metadata: "m", CommitTimestamp: 1700000000000, ExpireTimestamp: -1})),
		add("FuzzGroupDecodeOffsetValue", "v1", group.EncodeOffsetValue(group.OffsetValue{Offset: 42, LeaderEpoch: -1, Metadata: "m", CommitTimestamp: 1700000000000, ExpireTimestamp: 1700000060000})),
		add("FuzzGroupDecodeGroupValue", "v3", group.EncodeGroupValue(gv)),
		add("FuzzGroupDecodeGroupValue", "empty", group.EncodeGroupValue(group.GroupValue{ProtocolType: "consumer", CurrentStateTimestamp: -1})),
	}
	for _, z := range znodes {
		errs = append(errs, add("FuzzZnodeDecode", z.name, z.which, z.data))
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// writeProperties seeds the properties and config parsers with the
// repository's server.properties and a file setting every known key to its
// default.
func writeProperties(w *corpus.Writer, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var all strings.Builder
	all.WriteString("# every key at its default\n")
	for _, k := range config.Keys() {
		if strings.HasPrefix(k.Default, "(") {
			continue
		}
		fmt.Fprintf(&all, "%s=%s\n", k.Name, k.Default)
	}
	escapes := "a\\=b = c\\\n    d \\u0041\\t\\n\nkey:value\n! comment\n  spaced   value  \n"
	for _, target := range []string{"FuzzProperties", "FuzzConfigParse"} {
		for name, text := range map[string]string{"server.properties": string(data), "all-keys": all.String(), "escapes": escapes} {
			if err := w.Add(target, name, text); err != nil {
				return err
			}
		}
	}
	return nil
}
