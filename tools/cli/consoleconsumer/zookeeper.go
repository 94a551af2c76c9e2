package consoleconsumer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/go-zookeeper/zk"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strom-broker/strom/coord/znode"
	"github.com/strom-broker/strom/tools/cli/clitool"
)

// This file is console-consumer --zookeeper, as Kafka 0.8's consumer
// worked: the brokers are found in /brokers/ids, and with --group the
// group's position is kept in ZooKeeper, /consumers/<group>/offsets/
// <topic>/<partition> holding the next offset to consume as a decimal
// string (Kafka's ZKGroupTopicDirs). The consumer reads every partition of
// the topic from its stored offset (or the reset position when there is
// none) and writes the offsets after the records it printed when it stops.
// One consumer process per group is assumed: 0.8's ZooKeeper-based
// rebalancing among several processes is not rebuilt.

// zkConsumer is the ZooKeeper side of one console consumer.
type zkConsumer struct {
	conn   *zk.Conn
	root   string // chroot
	group  string // "" without --group
	topic  string
	next   map[int32]int64 // partition -> next offset to consume, after what was printed
	stored map[int32]int64 // offsets read at start
}

// openZooKeeper connects to a.zookeeper, resolves the brokers into
// a.bootstrap and takes over a.group (kept in ZooKeeper, not in a Kafka
// consumer group).
func openZooKeeper(ctx context.Context, a *args) (*zkConsumer, error) {
	if a.bootstrap != "" {
		return nil, clitool.Usagef("give either --bootstrap-server or --zookeeper, not both")
	}
	if a.group != "" && a.topic == "" {
		return nil, clitool.Usagef("with --zookeeper, --group needs --topic")
	}
	conn, chroot, err := clitool.DialZooKeeper(ctx, a.zookeeper)
	if err != nil {
		return nil, err
	}
	zc := &zkConsumer{conn: conn, root: chroot, group: a.group, topic: a.topic, next: map[int32]int64{}, stored: map[int32]int64{}}
	brokers, err := zc.brokers()
	if err != nil {
		conn.Close()
		return nil, err
	}
	a.bootstrap = strings.Join(brokers, ",")
	a.group = ""
	return zc, nil
}

func (zc *zkConsumer) close() { zc.conn.Close() }

// brokers returns every registered broker's PLAINTEXT endpoint (else its
// first), as host:port.
func (zc *zkConsumer) brokers() ([]string, error) {
	ids, _, err := zc.conn.Children(zc.root + znode.BrokerIDsPath)
	if errors.Is(err, zk.ErrNoNode) {
		return nil, fmt.Errorf("no Kafka cluster in ZooKeeper at %s%s (is the chroot right?)", zc.root, znode.BrokerIDsPath)
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, id := range ids {
		data, _, err := zc.conn.Get(zc.root + znode.BrokerIDsPath + "/" + id)
		if err != nil {
			continue // gone meanwhile
		}
		n, _ := strconv.Atoi(id)
		b, err := znode.DecodeBroker(int32(n), data)
		if err != nil || len(b.Endpoints) == 0 {
			continue
		}
		ep := b.Endpoints[0]
		for _, e := range b.Endpoints {
			if e.SecurityProtocol == "PLAINTEXT" {
				ep = e
				break
			}
		}
		out = append(out, net.JoinHostPort(ep.Host, strconv.Itoa(int(ep.Port))))
	}
	if len(out) == 0 {
		return nil, errors.New("no broker is registered in ZooKeeper (/brokers/ids is empty)")
	}
	slices.Sort(out)
	return out, nil
}

// offsetsDir is /consumers/<group>/offsets/<topic>.
func (zc *zkConsumer) offsetsDir() string {
	return zc.root + path.Join("/consumers", zc.group, "offsets", zc.topic)
}

// assignment returns every partition of topic (from its assignment znode)
// with its stored offset, or reset where none is stored.
func (zc *zkConsumer) assignment(topic string, reset kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	data, _, err := zc.conn.Get(zc.root + znode.TopicPath(topic))
	if errors.Is(err, zk.ErrNoNode) {
		return nil, fmt.Errorf("topic %s does not exist", topic)
	}
	if err != nil {
		return nil, err
	}
	a, err := znode.DecodeTopicAssignment(topic, data, 0)
	if err != nil {
		return nil, fmt.Errorf("topic %s: %w", topic, err)
	}
	out := map[int32]kgo.Offset{}
	for p := range a.Partitions {
		out[p] = reset
		raw, _, err := zc.conn.Get(zc.offsetsDir() + "/" + strconv.Itoa(int(p)))
		if err != nil {
			continue
		}
		if o, err := strconv.ParseInt(strings.TrimSpace(string(raw)), 10, 64); err == nil && o >= 0 {
			out[p] = kgo.NewOffset().At(o)
			zc.stored[p] = o
		}
	}
	return map[string]map[int32]kgo.Offset{topic: out}, nil
}

// consumed records that rec was printed.
func (zc *zkConsumer) consumed(rec *kgo.Record) {
	if rec.Topic == zc.topic {
		zc.next[rec.Partition] = rec.Offset + 1
	}
}

// commit writes the next offset of every partition that advanced.
func (zc *zkConsumer) commit() error {
	for p, o := range zc.next {
		if s, ok := zc.stored[p]; ok && s >= o {
			continue
		}
		if err := zc.write(zc.offsetsDir()+"/"+strconv.Itoa(int(p)), []byte(strconv.FormatInt(o, 10))); err != nil {
			return err
		}
	}
	return nil
}

// write sets p's data, creating it and its parents if missing.
func (zc *zkConsumer) write(p string, data []byte) error {
	if _, err := zc.conn.Set(p, data, -1); !errors.Is(err, zk.ErrNoNode) {
		return err
	}
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	for i := 1; i < len(parts); i++ {
		dir := "/" + strings.Join(parts[:i], "/")
		if _, err := zc.conn.Create(dir, nil, 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return err
		}
	}
	_, err := zc.conn.Create(p, data, 0, zk.WorldACL(zk.PermAll))
	return err
}
