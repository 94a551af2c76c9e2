package broker

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/strom-broker/strom/coord/store"
	"github.com/strom-broker/strom/coord/zkstore"
	"github.com/strom-broker/strom/engine/checkpoint"
)

// This file is how a broker joins a cluster coordinated by ZooKeeper
// (zookeeper.connect set), following Kafka's KafkaServer.startup:
//
//  1. connect (zookeeper.connection.timeout.ms, else a clear error);
//  2. the cluster id: /cluster/id, created by the first broker; a log dir
//     whose meta.properties names another cluster is refused (New);
//  3. broker.id=-1: the id in the log dirs' meta.properties, else a new one
//     from /brokers/seqid above reserved.broker.max.id (kept in
//     meta.properties from then on);
//  4. register /brokers/ids/<id> (ephemeral; its czxid is the broker
//     epoch); a live broker with the same id is a clear error;
//  5. the controller election runs in the background (Serve), and a
//     session expiry re-registers the broker (the controller steps down
//     and re-elects by itself).

// joinZooKeeper connects to the ensemble and settles the cluster id and
// the broker id (steps 1-3).
func (b *Broker) joinZooKeeper() error {
	cfg := b.cfg
	ms := func(v int32) time.Duration { return time.Duration(v) * time.Millisecond }
	zs, err := zkstore.Open(b.ctx, zkstore.Config{
		Connect:           cfg.ZookeeperConnect,
		SessionTimeout:    ms(cfg.ZookeeperSessionTimeoutMs),
		ConnectionTimeout: ms(cfg.ZookeeperConnectionTimeoutMs),
		Logger:            b.log,
	})
	if err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	b.store = zs
	stored := storedMeta(cfg.LogDirs)
	candidate := stored.ClusterID
	if candidate == "" {
		u, err := store.NewUUID()
		if err != nil {
			return err
		}
		candidate = u.String()
	}
	if err := b.retryUnavailable(func() (err error) {
		b.clusterID, err = zs.GetOrCreateClusterID(b.ctx, candidate)
		return err
	}); err != nil {
		return fmt.Errorf("broker: cluster id: %w", err)
	}
	if cfg.BrokerID < 0 {
		if stored.found {
			cfg.BrokerID = stored.BrokerID
		} else if err := b.retryUnavailable(func() (err error) {
			cfg.BrokerID, err = zs.GenerateBrokerID(b.ctx, cfg.ReservedBrokerMaxID)
			return err
		}); err != nil {
			return fmt.Errorf("broker: generating broker.id: %w", err)
		}
		b.log.Info("broker id", "broker.id", cfg.BrokerID, "from", map[bool]string{true: "meta.properties", false: "/brokers/seqid"}[stored.found])
	}
	return nil
}

// retryUnavailable runs fn again while it fails with store.ErrUnavailable
// (the ZooKeeper connection was lost; the session may live on), up to
// zookeeper.connection.timeout.ms, as Kafka's ZooKeeperClient waits out a
// reconnect. Embedded, it runs fn once.
func (b *Broker) retryUnavailable(fn func() error) error {
	deadline := time.Now().Add(time.Duration(b.cfg.ZookeeperConnectionTimeoutMs) * time.Millisecond)
	for {
		err := fn()
		if err == nil || b.cfg.Embedded() || !errors.Is(err, store.ErrUnavailable) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-time.After(100 * time.Millisecond):
		case <-b.ctx.Done():
			return err
		}
	}
}

// metaFound is the first meta.properties found in the log dirs.
type metaFound struct {
	checkpoint.MetaProperties
	found bool
}

// storedMeta reads the first log dir's meta.properties that exists (the
// log manager checks later that all of them agree).
func storedMeta(dirs []string) metaFound {
	for _, d := range dirs {
		m, err := checkpoint.ReadMeta(filepath.Join(d, checkpoint.MetaPropertiesFile))
		if err == nil {
			return metaFound{MetaProperties: m, found: true}
		}
	}
	return metaFound{}
}

// register publishes this broker (step 4) and records its broker epoch.
func (b *Broker) register() error {
	info := store.BrokerInfo{ID: b.cfg.BrokerID, Endpoints: b.endpoints, Rack: b.cfg.BrokerRack, JMXPort: -1,
		Timestamp: b.now().UnixMilli()}
	lost := false // an attempt whose answer a lost connection swallowed
	if err := b.retryUnavailable(func() error {
		err := b.store.RegisterBroker(b.ctx, info)
		if errors.Is(err, store.ErrBrokerExists) && lost {
			// It may be our own create that landed: the same endpoints
			// and registration time.
			if cur, gerr := b.store.Broker(b.ctx, info.ID); gerr == nil && cur.Timestamp == info.Timestamp &&
				slices.Equal(cur.Endpoints, info.Endpoints) {
				return nil
			}
		}
		lost = errors.Is(err, store.ErrUnavailable)
		return err
	}); err != nil {
		if errors.Is(err, store.ErrBrokerExists) {
			return fmt.Errorf("broker: broker.id %d is registered by another live broker (two brokers cannot share an id; give each its own broker.id): %w",
				b.cfg.BrokerID, err)
		}
		return fmt.Errorf("broker: register: %w", err)
	}
	var me store.BrokerInfo
	if err := b.retryUnavailable(func() (err error) {
		me, err = b.store.Broker(b.ctx, b.cfg.BrokerID)
		return err
	}); err != nil {
		return fmt.Errorf("broker: register: %w", err)
	}
	b.fence.SetBrokerEpoch(me.Epoch)
	return nil
}

// reregisterOnExpiry registers this broker again after every ZooKeeper
// session expiry, until ctx ends (step 5). The controller loop (Run) steps
// down and re-elects by itself.
func (b *Broker) reregisterOnExpiry(ctx context.Context) {
	sub := b.store.Subscribe(store.EventSessionExpired)
	defer sub.Close()
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-sub.Ready():
			if !ok {
				return
			}
			sub.Drain()
			b.log.Warn("ZooKeeper session expired; registering again")
			for ctx.Err() == nil {
				err := b.register()
				if err == nil {
					break
				}
				b.log.Error("registering after session expiry", "err", err)
				select {
				case <-time.After(time.Second):
				case <-ctx.Done():
				}
			}
		}
	}
}

// rebalanceLeaders runs the controller's automatic leader rebalance
// (auto.leader.rebalance.enable) every leader.imbalance.check.interval.seconds
// until ctx ends, as Kafka's controller schedules it (the first check
// after 5 s). It does nothing while this broker is not the controller.
func (b *Broker) rebalanceLeaders(ctx context.Context) {
	interval := time.Duration(b.cfg.LeaderImbalanceCheckIntervalSeconds) * time.Second
	next := time.NewTimer(min(5*time.Second, interval))
	defer next.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-next.C:
		}
		if moved, err := b.ctrl.RebalanceLeaders(ctx, int(b.cfg.LeaderImbalancePerBrokerPercentage)); err != nil && ctx.Err() == nil {
			b.log.Warn("automatic leader rebalance", "err", err)
		} else if moved > 0 {
			b.log.Info("automatic leader rebalance", "moved", moved)
		}
		next.Reset(interval)
	}
}
