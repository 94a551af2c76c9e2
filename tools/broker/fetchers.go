package broker

import (
	"context"
	"net"
	"strconv"
	"time"

	"github.com/strom-broker/strom/coord/store"
	"github.com/strom-broker/strom/replication"
)

// This file connects the replicas to the replication layer's background
// work: follower fetchers (a follower with a live leader copies it; a
// leader or a stopped replica does not fetch) and the leader's periodic ISR
// shrink check (every replica.lag.time.max.ms / 2, as Kafka's
// isr-expiration task). ISR changes go to the controller (alterpartition.go).

// newFetchers returns the broker's follower fetchers, from its config.
func newFetchers(b *Broker) *replication.Fetchers {
	c := b.cfg
	return replication.NewFetchers(replication.FetcherConfig{
		BrokerID:    c.BrokerID,
		NumFetchers: int(c.NumReplicaFetchers),
		MaxBytes:    c.ReplicaFetchMaxBytes,
		MinBytes:    c.ReplicaFetchMinBytes,
		MaxWait:     time.Duration(c.ReplicaFetchWaitMaxMs) * time.Millisecond,
		Backoff:     time.Duration(c.ReplicaFetchBackoffMs) * time.Millisecond,
		Logger:      b.log,
	})
}

// interBrokerAddr is a broker's endpoint on the inter-broker listener
// (inter.broker.listener.name, else this broker's first listener).
func (b *Broker) interBrokerAddr(to store.BrokerInfo) (string, bool) {
	name := b.cfg.InterBrokerListenerName
	if name == "" {
		name = b.cfg.Listeners[0].Name
	}
	for _, ep := range to.Endpoints {
		if ep.Listener == name {
			return net.JoinHostPort(ep.Host, strconv.Itoa(int(ep.Port))), true
		}
	}
	return "", false
}

// follow makes p, a follower in epoch, fetch from leader: its endpoint on
// this broker's inter-broker listener is looked up in liveLeaders (from an
// in-process LeaderAndIsr, which carries listener names), else in the
// metadata cache; only a leader the cache does not know yet is reached at
// the nameless endpoint a LeaderAndIsr from the wire carries. A leader that is not live (or has no inter-broker
// endpoint) leaves p without a fetcher until the controller names one
// (Kafka's makeFollowers skips such partitions too).
func (b *Broker) follow(p *replication.Partition, leader, epoch int32, liveLeaders []store.BrokerInfo) {
	var addr string
	found, known := false, false
	for _, l := range liveLeaders {
		if l.ID == leader {
			addr, found = b.interBrokerAddr(l)
		}
	}
	if !found {
		// The metadata cache, on this broker's own inter-broker listener
		// (Kafka's makeFollowers: metadataCache.getAliveBrokerNode).
		for _, l := range b.meta.Snapshot().Brokers() {
			if l.ID == leader {
				known = true
				addr, found = b.interBrokerAddr(l)
			}
		}
	}
	if !found && !known {
		// A leader the cache does not know yet: LiveLeaders from the wire
		// carry its endpoint on the controller's inter-broker listener,
		// without the listener's name.
		for _, l := range liveLeaders {
			if l.ID == leader && len(l.Endpoints) == 1 && l.Endpoints[0].Listener == "" {
				ep := l.Endpoints[0]
				addr, found = net.JoinHostPort(ep.Host, strconv.Itoa(int(ep.Port))), true
			}
		}
	}
	if !found || leader == b.cfg.BrokerID {
		b.fetchers.Remove(p)
		if leader >= 0 {
			b.log.Info("follower has no live leader to fetch from yet", "partition", p.Topic()+"-"+strconv.Itoa(int(p.Index())),
				"leader", leader, "leader_epoch", epoch)
		}
		return
	}
	if cur, ok := b.fetchers.Fetching(p); ok && cur == leader && b.fetchers.Address(p) == addr && b.fetchers.Epoch(p) == epoch {
		return // already fetching from it in this epoch
	}
	b.fetchers.Add(p, leader, addr, epoch)
}

// refollow gives every follower that has a live leader in the metadata
// cache but no fetcher (its leader was not known when it became follower,
// or moved to another address) its fetcher. Called after each
// UpdateMetadata.
func (b *Broker) refollow() {
	for _, p := range b.parts.all() {
		st := p.State()
		if st.Leader < 0 || st.Leader == b.cfg.BrokerID {
			continue
		}
		b.follow(p, st.Leader, st.LeaderEpoch, nil)
	}
}

// shrinkISRs checks every partition this broker leads for out-of-sync
// followers every replica.lag.time.max.ms / 2 until ctx ends.
func (b *Broker) shrinkISRs(ctx context.Context) {
	lag := time.Duration(b.cfg.ReplicaLagTimeMaxMs) * time.Millisecond
	t := time.NewTicker(max(lag/2, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			for _, p := range b.parts.all() {
				p.ShrinkISR(lag)
			}
		}
	}
}
