package zkstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/go-zookeeper/zk"

	"github.com/strom-broker/strom/coord/store"
	"github.com/strom-broker/strom/coord/znode"
)

// GetOrCreateClusterID implements store.Store (Kafka's createOrGetClusterId:
// create /cluster/id, and on NODEEXISTS read the winner).
func (s *Store) GetOrCreateClusterID(ctx context.Context, candidate string) (string, error) {
	for range maxAttempts {
		data, _, err := s.get(ctx, znode.ClusterIDPath)
		if err == nil {
			return znode.DecodeClusterID(data)
		}
		if !errors.Is(err, zk.ErrNoNode) {
			return "", s.wrap("get", znode.ClusterIDPath, err)
		}
		if candidate == "" {
			return "", fmt.Errorf("zkstore: empty cluster id: %w", store.ErrInvalidArgument)
		}
		_, err = s.multi(ctx, "create cluster id", createOp(s.conn, znode.ClusterIDPath, znode.EncodeClusterID(candidate), 0))
		if err == nil {
			return candidate, nil
		}
		if oe := failedAt(err); oe == nil || !errors.Is(oe.Err, zk.ErrNodeExists) {
			return "", err
		}
	}
	return "", fmt.Errorf("zkstore: %s keeps changing: %w", znode.ClusterIDPath, store.ErrBadVersion)
}

// RegisterBroker implements store.Store. A registration owned by one of this
// store's expired sessions (ZooKeeper had not removed it yet) is deleted and
// re-created in one multi; one owned by any other session is a live broker
// with the same id: ErrBrokerExists.
func (s *Store) RegisterBroker(ctx context.Context, b store.BrokerInfo) error {
	p := znode.BrokerPath(b.ID)
	data := znode.EncodeBroker(b)
	for range maxAttempts {
		_, err := s.multi(ctx, "register broker "+strconv.Itoa(int(b.ID)), createOp(s.conn, p, data, zk.FlagEphemeral))
		if err == nil {
			s.notifier.Publish(store.Event{Kind: store.EventBrokers})
			return nil
		}
		if oe := failedAt(err); oe == nil || !errors.Is(oe.Err, zk.ErrNodeExists) {
			return err
		}
		_, st, err := s.get(ctx, p)
		if errors.Is(err, zk.ErrNoNode) {
			continue // gone meanwhile: try again
		}
		if err != nil {
			return s.wrap("get", p, err)
		}
		s.mu.Lock()
		session, stale := s.session, s.pastSessions[st.EphemeralOwner]
		s.mu.Unlock()
		if !stale {
			return fmt.Errorf("zkstore: register broker %d: %s is held by ZooKeeper session 0x%x (this store's session is 0x%x): %w",
				b.ID, p, st.EphemeralOwner, session, store.ErrBrokerExists)
		}
		_, err = s.multi(ctx, "replace stale registration of broker "+strconv.Itoa(int(b.ID)),
			deleteOp(s.conn, p, st.Version), createOp(s.conn, p, data, zk.FlagEphemeral))
		if err == nil {
			s.log.Warn("replaced this broker's registration left by its expired ZooKeeper session",
				"path", p, "old_session", fmt.Sprintf("0x%x", st.EphemeralOwner), "session", fmt.Sprintf("0x%x", session))
			s.notifier.Publish(store.Event{Kind: store.EventBrokers})
			return nil
		}
		if failedAt(err) == nil {
			return err
		}
		// Deleted or replaced meanwhile: look again.
	}
	return fmt.Errorf("zkstore: register broker %d: %s keeps changing: %w", b.ID, p, store.ErrBrokerExists)
}

// UnregisterBroker implements store.Store. If the broker is the controller,
// /controller goes in the same multi, as both vanish when a broker's
// session ends.
func (s *Store) UnregisterBroker(ctx context.Context, id int32) error {
	p := znode.BrokerPath(id)
	for range maxAttempts {
		_, st, err := s.get(ctx, p)
		if errors.Is(err, zk.ErrNoNode) {
			return fmt.Errorf("zkstore: unregister broker %d: %w", id, store.ErrUnknownBroker)
		}
		if err != nil {
			return s.wrap("get", p, err)
		}
		ops := []op{deleteOp(s.conn, p, st.Version)}
		wasController := false
		cdata, cst, err := s.get(ctx, znode.ControllerPath)
		switch {
		case err == nil:
			if cid, derr := znode.DecodeController(cdata); derr == nil && cid == id {
				ops = append(ops, deleteOp(s.conn, znode.ControllerPath, cst.Version))
				wasController = true
			}
		case !errors.Is(err, zk.ErrNoNode):
			return s.wrap("get", znode.ControllerPath, err)
		}
		_, err = s.multi(ctx, "unregister broker "+strconv.Itoa(int(id)), ops...)
		if err == nil {
			s.notifier.Publish(store.Event{Kind: store.EventBrokers})
			if wasController {
				s.notifier.Publish(store.Event{Kind: store.EventController})
			}
			return nil
		}
		if failedAt(err) == nil {
			return err
		}
	}
	return fmt.Errorf("zkstore: unregister broker %d: %s keeps changing: %w", id, p, store.ErrBadVersion)
}

// Broker implements store.Store; Epoch is the registration's czxid.
func (s *Store) Broker(ctx context.Context, id int32) (store.BrokerInfo, error) {
	p := znode.BrokerPath(id)
	data, st, err := s.get(ctx, p)
	if errors.Is(err, zk.ErrNoNode) {
		return store.BrokerInfo{}, fmt.Errorf("zkstore: broker %d: %w", id, store.ErrUnknownBroker)
	}
	if err != nil {
		return store.BrokerInfo{}, s.wrap("get", p, err)
	}
	b, err := znode.DecodeBroker(id, data)
	if err != nil {
		return store.BrokerInfo{}, fmt.Errorf("zkstore: %s: %w", p, err)
	}
	b.Epoch = st.Czxid
	return b, nil
}

// Brokers implements store.Store. Children of /brokers/ids that are not
// broker ids are ignored.
func (s *Store) Brokers(ctx context.Context) ([]store.BrokerInfo, error) {
	names, err := s.children(ctx, znode.BrokerIDsPath)
	if err != nil {
		return nil, s.wrap("children", znode.BrokerIDsPath, err)
	}
	ids := make([]int32, 0, len(names))
	for _, n := range names {
		if id, err := strconv.ParseInt(n, 10, 32); err == nil {
			ids = append(ids, int32(id))
		}
	}
	slices.Sort(ids)
	out := make([]store.BrokerInfo, 0, len(ids))
	for _, id := range ids {
		b, err := s.Broker(ctx, id)
		if errors.Is(err, store.ErrUnknownBroker) {
			continue // left meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}
