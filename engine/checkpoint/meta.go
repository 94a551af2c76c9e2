package checkpoint

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
)

// MetaPropertiesFile is the name of the identity file in every log dir.
const MetaPropertiesFile = "meta.properties"

// Keys of meta.properties that MetaProperties models as fields.
const (
	metaVersion   = "version"
	metaBrokerID  = "broker.id"
	metaNodeID    = "node.id"
	metaClusterID = "cluster.id"
)

// MetaProperties is the content of a log dir's meta.properties. ZooKeeper-
// mode Kafka (and Strom) writes version 0 with broker.id and cluster.id;
// KRaft writes version 1 with node.id, which is read into BrokerID.
type MetaProperties struct {
	// Version is 0 (ZooKeeper mode, broker.id) or 1 (KRaft, node.id).
	Version int
	// BrokerID is broker.id (version 0) or node.id (version 1); >= 0.
	BrokerID int32
	// ClusterID is cluster.id; empty when absent (old version 0 files).
	ClusterID string
	// Extra holds any other key=value pairs (e.g. directory.id), kept so a
	// rewrite does not lose them.
	Extra map[string]string
}

// ParseMeta decodes a Java-properties meta.properties: blank lines and lines
// starting with '#' or '!' are skipped; each other line is key=value (or
// key:value), surrounding spaces trimmed. Java escape sequences are not
// interpreted (Kafka's values never need them). Errors wrap ErrMalformed.
func ParseMeta(data []byte) (MetaProperties, error) {
	kv := map[string]string{}
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		sep := strings.IndexAny(line, "=:")
		if sep <= 0 {
			return MetaProperties{}, fmt.Errorf("%w: meta.properties line %d: %q is not key=value", ErrMalformed, i+1, line)
		}
		k, v := strings.TrimSpace(line[:sep]), strings.TrimSpace(line[sep+1:])
		if _, dup := kv[k]; dup {
			return MetaProperties{}, fmt.Errorf("%w: meta.properties line %d: duplicate key %q", ErrMalformed, i+1, k)
		}
		kv[k] = v
	}
	var m MetaProperties
	vs, ok := kv[metaVersion]
	if !ok {
		return m, fmt.Errorf("%w: meta.properties: no %s", ErrMalformed, metaVersion)
	}
	v, err := strconv.Atoi(vs)
	if err != nil || (v != 0 && v != 1) {
		return m, fmt.Errorf("%w: meta.properties: version %q (want 0 or 1)", ErrVersion, vs)
	}
	m.Version = v
	idKey := metaBrokerID
	if v == 1 {
		idKey = metaNodeID
	}
	ids, ok := kv[idKey]
	if !ok {
		return m, fmt.Errorf("%w: meta.properties version %d: no %s", ErrMalformed, v, idKey)
	}
	id, err := strconv.ParseInt(ids, 10, 32)
	if err != nil || id < 0 {
		return m, fmt.Errorf("%w: meta.properties: %s %q is not a non-negative 32-bit number", ErrMalformed, idKey, ids)
	}
	m.BrokerID = int32(id)
	m.ClusterID = kv[metaClusterID]
	delete(kv, metaVersion)
	delete(kv, idKey)
	delete(kv, metaClusterID)
	if len(kv) > 0 {
		m.Extra = kv
	}
	return m, nil
}

// FormatMeta encodes m: a comment line, then version, the id key, cluster.id
// (when set) and the Extra keys in sorted order.
func FormatMeta(m MetaProperties) ([]byte, error) {
	if m.Version != 0 && m.Version != 1 {
		return nil, fmt.Errorf("%w: meta.properties version %d", ErrVersion, m.Version)
	}
	if m.BrokerID < 0 {
		return nil, fmt.Errorf("%w: meta.properties: negative broker id %d", ErrMalformed, m.BrokerID)
	}
	idKey := metaBrokerID
	if m.Version == 1 {
		idKey = metaNodeID
	}
	var b strings.Builder
	b.WriteString("#\n")
	put := func(k, v string) error {
		if k == "" || strings.ContainsAny(k, "=:\n\r#! \t") || strings.ContainsAny(v, "\n\r\\") {
			return fmt.Errorf("%w: meta.properties: cannot write %q=%q", ErrMalformed, k, v)
		}
		b.WriteString(k + "=" + v + "\n")
		return nil
	}
	_ = put(metaVersion, strconv.Itoa(m.Version))
	_ = put(idKey, strconv.FormatInt(int64(m.BrokerID), 10))
	if m.ClusterID != "" {
		if err := put(metaClusterID, m.ClusterID); err != nil {
			return nil, err
		}
	}
	for _, k := range slices.Sorted(maps.Keys(m.Extra)) {
		if k == metaVersion || k == metaBrokerID || k == metaNodeID || k == metaClusterID {
			return nil, fmt.Errorf("%w: meta.properties: Extra repeats modelled key %q", ErrMalformed, k)
		}
		if err := put(k, m.Extra[k]); err != nil {
			return nil, err
		}
	}
	return []byte(b.String()), nil
}

// ReadMeta parses the meta.properties at path. Unlike the checkpoints, a
// missing file is an error wrapping fs.ErrNotExist: it means a fresh log dir.
func ReadMeta(path string) (MetaProperties, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return MetaProperties{}, fmt.Errorf("checkpoint: read %s: %w", path, err)
	}
	m, err := ParseMeta(data)
	if err != nil {
		return MetaProperties{}, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// WriteMeta replaces the meta.properties at path crash-safely
// (WriteFileAtomic).
func WriteMeta(path string, m MetaProperties) error {
	return writeFormatted(path, m, FormatMeta)
}
