package faultbed

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/go-zookeeper/zk"
)

// canary checks ZooKeeper itself under the nemesis: it increments a
// counter znode with conditional writes (set data n+1 if the version is
// still the one read with n) and records every value a write was
// acknowledged with. ZooKeeper applies a conditional write only on the
// version it read, so each value can be acknowledged at most once; a value
// acknowledged twice means ZooKeeper lost an acknowledged write (the second
// write read the state from before the first). This tells a lost
// ZooKeeper write apart from a Strom bug when broker metadata (producer id
// blocks, partition state) looks reused.
type canary struct {
	conn  *zk.Conn
	path  string
	acked map[int64]int // value -> times acknowledged
	lost  []string
}

func newCanary(servers []string, path string) (*canary, error) {
	conn, _, err := zk.Connect(servers, 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		return nil, fmt.Errorf("faultbed: canary: %w", err)
	}
	return &canary{conn: conn, path: path, acked: map[int64]int{}}, nil
}

// run increments the counter every 50 ms until ctx ends.
func (c *canary) run(ctx context.Context) {
	for ctx.Err() == nil {
		c.step()
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (c *canary) step() {
	data, st, err := c.conn.Get(c.path)
	if err == zk.ErrNoNode {
		_, _ = c.conn.Create(c.path, []byte("0"), 0, zk.WorldACL(zk.PermAll))
		return
	}
	if err != nil {
		return // unavailable: try again
	}
	n, err := strconv.ParseInt(string(data), 10, 64)
	if err != nil {
		c.lost = append(c.lost, fmt.Sprintf("canary holds %q", data))
		return
	}
	if _, err := c.conn.Set(c.path, []byte(strconv.FormatInt(n+1, 10)), st.Version); err == nil {
		c.acked[n+1]++
		if c.acked[n+1] == 2 {
			c.lost = append(c.lost, fmt.Sprintf("ZooKeeper acknowledged the write of %d twice: an acknowledged write was lost", n+1))
		}
	}
}

// close checks the final value against the highest acknowledged one.
func (c *canary) close() []string {
	defer c.conn.Close()
	var high int64
	for v := range c.acked {
		high = max(high, v)
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		data, _, err := c.conn.Get(c.path)
		if err != nil {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		if n, _ := strconv.ParseInt(string(data), 10, 64); n < high {
			c.lost = append(c.lost, fmt.Sprintf("canary reads %d after %d was acknowledged", n, high))
		}
		break
	}
	return c.lost
}
