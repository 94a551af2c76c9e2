package clitool

import (
	"context"
	"fmt"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/strom-broker/strom/coord/zkstore"
)

// ZooKeeperTimeout bounds how long DialZooKeeper waits for a session.
const ZooKeeperTimeout = 15 * time.Second

// DialZooKeeper connects to a cluster's ZooKeeper for the tools that talk
// to it directly (--zookeeper, zookeeper-shell): connect is
// zookeeper.connect, "host:port[,host:port...][/chroot]". It waits for a
// session (ZooKeeperTimeout at most) and returns the connection and the
// chroot ("" for none), which every path the caller uses must be prefixed
// with. A malformed connect string is a usage error.
func DialZooKeeper(ctx context.Context, connect string) (*zk.Conn, string, error) {
	servers, chroot, err := zkstore.ParseConnect(connect)
	if err != nil {
		return nil, "", Usagef("%v", err)
	}
	conn, events, err := zk.Connect(servers, ZooKeeperTimeout, zk.WithLogInfo(false))
	if err != nil {
		return nil, "", err
	}
	timer := time.NewTimer(ZooKeeperTimeout)
	defer timer.Stop()
	for {
		select {
		case ev := <-events:
			if ev.State == zk.StateHasSession {
				return conn, chroot, nil
			}
		case <-timer.C:
			conn.Close()
			return nil, "", fmt.Errorf("no ZooKeeper session with %s within %s: is ZooKeeper running there?", connect, ZooKeeperTimeout)
		case <-ctx.Done():
			conn.Close()
			return nil, "", ctx.Err()
		}
	}
}
