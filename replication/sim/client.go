package sim

import (
	"fmt"
	"time"
)

// Client is a simulated producer: one request in flight, a new value
// every ProduceInterval, sent to the leader ZooKeeper names (its
// metadata; possibly stale by the time it arrives), with acks=all or
// acks=1. It does not retry a value: every value is produced once, so an
// acknowledgement names exactly one record.
type Client struct {
	id       int32
	acks     int16
	n        int
	inflight int64
	value    string
	deadline time.Time
	// auto produces on every tick; scenario clients produce on command.
	auto bool
}

// produce sends value to the broker to (the leader it believes in).
func (c *Client) produce(w *World, to int32, value string) {
	c.n++
	c.inflight, c.value, c.deadline = int64(c.n), value, w.now.Add(max(w.cfg.RequestTimeout, w.cfg.AckTimeout)*2)
	w.send(Msg{From: c.id, To: to, Kind: Produce, ReqID: c.inflight, Value: value, Acks: c.acks})
}

// tick produces the next value if nothing is in flight.
func (c *Client) tick(w *World) {
	if c.inflight != 0 && w.now.Before(c.deadline) {
		return
	}
	c.inflight = 0
	if !c.auto || !w.zk.hasState || w.zk.state.Leader < 0 {
		return
	}
	c.produce(w, w.zk.state.Leader, fmt.Sprintf("c%d.%d", c.id-ClientBase, c.n+1))
}

// step handles a produce response.
func (c *Client) step(w *World, m Msg) {
	if m.Kind != ProduceResp || m.ReqID != c.inflight {
		return
	}
	c.inflight = 0
	w.onProduceResult(c, c.value, m)
}
