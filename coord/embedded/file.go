package embedded

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/strom-broker/strom/coord/store"
	"github.com/strom-broker/strom/coord/znode"
)

// The metadata file is a snapshot of the persistent part of Kafka's
// ZooKeeper tree: each znode's path, version and data, the data encoded by
// package znode exactly as Kafka writes it:
//
//	{"format":1,"znodes":{
//	  "/cluster/id":{"version":0,"data":{"version":"1","id":"..."}},
//	  "/controller_epoch":{"version":3,"data":3},
//	  "/brokers/topics/t":{"version":0,"data":{"version":2,"partitions":{"0":[1]},...}},
//	  "/brokers/topics/t/partitions/0/state":{"version":5,"data":{"controller_epoch":3,...}},
//	  "/config/topics/t":{"version":0,"data":{"version":1,"config":{}}},
//	  "/admin/delete_topics/t":{"version":0,"data":null},
//	  "/latest_producer_id_block":{"version":2,"data":{"version":1,"broker":1,...}}}}
//
// Ephemeral znodes (/brokers/ids/<id>, /controller) are never written.
// The file is replaced atomically (write temp, fsync, rename, fsync dir), so
// after a crash it holds either the old or the new snapshot. Anything that
// does not decode is reported as store.ErrCorrupt, never ignored.

// fileFormat is the snapshot format version. Part of the file format.
const fileFormat = 1

type fileJSON struct {
	Format int                  `json:"format"`
	Znodes map[string]znodeJSON `json:"znodes"`
}

type znodeJSON struct {
	Version int32           `json:"version"`
	Data    json.RawMessage `json:"data"`
}

// encodeSnapshot renders the durable state as the file's bytes.
func encodeSnapshot(st *state) ([]byte, error) {
	f := fileJSON{Format: fileFormat, Znodes: make(map[string]znodeJSON)}
	put := func(path string, version int32, data []byte) {
		f.Znodes[path] = znodeJSON{Version: version, Data: data}
	}
	if st.clusterID != "" {
		put(znode.ClusterIDPath, 0, znode.EncodeClusterID(st.clusterID))
	}
	if st.controllerEpoch > 0 {
		// The epoch znode's version tracks the epoch: both start at 0 and
		// move together.
		put(znode.ControllerEpochPath, st.controllerEpoch, znode.EncodeControllerEpoch(st.controllerEpoch))
	}
	if st.pidBlock != nil {
		put(znode.ProducerIDBlockPath, st.pidBlockVersion, znode.EncodeProducerIDBlock(*st.pidBlock))
	}
	for name, t := range st.topics {
		put(znode.TopicPath(name), t.assignment.Version, znode.EncodeTopicAssignment(t.assignment))
		put(znode.TopicConfigPath(name), t.configVersion, znode.EncodeTopicConfig(t.config))
		for p, ps := range t.partitions {
			put(znode.PartitionStatePath(store.TopicPartition{Topic: name, Partition: p}), ps.Version, znode.EncodePartitionState(ps))
		}
		if t.markedForDeletion {
			put(znode.DeleteTopicPath(name), 0, []byte("null"))
		}
	}
	return json.MarshalIndent(f, "", " ")
}

// decodeSnapshot parses the file's bytes. Errors wrap store.ErrCorrupt.
func decodeSnapshot(data []byte) (*state, error) {
	var f fileJSON
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%w: %w", store.ErrCorrupt, err)
	}
	if f.Format != fileFormat {
		return nil, fmt.Errorf("%w: unsupported format %d", store.ErrCorrupt, f.Format)
	}
	st := newState()
	// Topics first: other znodes refer to them.
	for path, z := range f.Znodes {
		name, ok := strings.CutPrefix(path, znode.TopicsPath+"/")
		if !ok || strings.Contains(name, "/") {
			continue
		}
		a, err := znode.DecodeTopicAssignment(name, z.Data, z.Version)
		if err != nil {
			return nil, err
		}
		st.topics[name] = &topicState{assignment: a, config: map[string]string{}, partitions: map[int32]store.PartitionState{}}
	}
	for path, z := range f.Znodes {
		if err := st.loadZnode(path, z); err != nil {
			return nil, fmt.Errorf("znode %s: %w", path, err)
		}
	}
	return st, nil
}

// loadZnode applies one non-topic znode of the snapshot.
func (st *state) loadZnode(path string, z znodeJSON) error {
	topicOf := func(name string) (*topicState, error) {
		t, ok := st.topics[name]
		if !ok {
			return nil, fmt.Errorf("%w: topic %q has no assignment", store.ErrCorrupt, name)
		}
		return t, nil
	}
	var err error
	switch {
	case path == znode.ClusterIDPath:
		st.clusterID, err = znode.DecodeClusterID(z.Data)
	case path == znode.ControllerEpochPath:
		st.controllerEpoch, err = znode.DecodeControllerEpoch(z.Data)
	case path == znode.ProducerIDBlockPath:
		var b store.ProducerIDBlock
		b, err = znode.DecodeProducerIDBlock(z.Data)
		st.pidBlock, st.pidBlockVersion = &b, z.Version
	case strings.HasPrefix(path, znode.TopicConfigsPath+"/"):
		var t *topicState
		if t, err = topicOf(strings.TrimPrefix(path, znode.TopicConfigsPath+"/")); err == nil {
			t.config, err = znode.DecodeTopicConfig(z.Data)
			t.configVersion = z.Version
		}
	case strings.HasPrefix(path, znode.DeleteTopicsPath+"/"):
		var t *topicState
		if t, err = topicOf(strings.TrimPrefix(path, znode.DeleteTopicsPath+"/")); err == nil {
			t.markedForDeletion = true
		}
	case strings.HasPrefix(path, znode.TopicsPath+"/"):
		// Either the topic itself (done) or .../partitions/<p>/state.
		parts := strings.Split(strings.TrimPrefix(path, znode.TopicsPath+"/"), "/")
		if len(parts) == 1 {
			return nil
		}
		if len(parts) != 4 || parts[1] != "partitions" || parts[3] != "state" {
			return fmt.Errorf("%w: unexpected znode", store.ErrCorrupt)
		}
		p, perr := strconv.ParseInt(parts[2], 10, 32)
		if perr != nil {
			return fmt.Errorf("%w: partition %q", store.ErrCorrupt, parts[2])
		}
		var t *topicState
		if t, err = topicOf(parts[0]); err == nil {
			if _, ok := t.assignment.Partitions[int32(p)]; !ok {
				return fmt.Errorf("%w: state of unassigned partition", store.ErrCorrupt)
			}
			t.partitions[int32(p)], err = znode.DecodePartitionState(z.Data, z.Version)
		}
	default:
		return fmt.Errorf("%w: unexpected znode", store.ErrCorrupt)
	}
	return err
}

// readSnapshot loads path; a missing file is an empty state.
func readSnapshot(path string) (*state, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return newState(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("embedded: read metadata: %w", err)
	}
	st, err := decodeSnapshot(data)
	if err != nil {
		return nil, fmt.Errorf("embedded: metadata file %s: %w", path, err)
	}
	return st, nil
}

// writeFileAtomic replaces path with data so that a crash leaves either the
// old or the new contents: write a temp file in the same directory, fsync
// it, rename it over path, fsync the directory.
func writeFileAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
