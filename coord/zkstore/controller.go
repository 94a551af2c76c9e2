package zkstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-zookeeper/zk"

	"github.com/strom-broker/strom/coord/store"
	"github.com/strom-broker/strom/coord/znode"
)

// TryBecomeController implements store.Store as Kafka 2.1+ elects
// (registerControllerAndIncrementControllerEpoch): read /controller_epoch
// (creating it with 0 if missing), then in one multi create the ephemeral
// /controller and set /controller_epoch to epoch+1 at the version read.
func (s *Store) TryBecomeController(ctx context.Context, brokerID int32) (int32, error) {
	for range maxAttempts {
		if cur, err := s.controllerID(ctx); err == nil {
			return 0, fmt.Errorf("zkstore: broker %d cannot become controller, broker %d is: %w",
				brokerID, cur, store.ErrControllerExists)
		} else if !errors.Is(err, store.ErrNoController) {
			return 0, err
		}
		data, st, err := s.get(ctx, znode.ControllerEpochPath)
		if errors.Is(err, zk.ErrNoNode) {
			_, err = s.multi(ctx, "create controller epoch",
				createOp(s.conn, znode.ControllerEpochPath, znode.EncodeControllerEpoch(0), 0))
			if err != nil && failedAt(err) == nil {
				return 0, err
			}
			continue
		}
		if err != nil {
			return 0, s.wrap("get", znode.ControllerEpochPath, err)
		}
		epoch, err := znode.DecodeControllerEpoch(data)
		if err != nil {
			return 0, fmt.Errorf("zkstore: %s: %w", znode.ControllerEpochPath, err)
		}
		resp, err := s.multi(ctx, "elect controller",
			createOp(s.conn, znode.ControllerPath, znode.EncodeController(brokerID, s.cfg.Now().UnixMilli()), zk.FlagEphemeral),
			setOp(s.conn, znode.ControllerEpochPath, znode.EncodeControllerEpoch(epoch+1), st.Version))
		if err == nil {
			s.mu.Lock()
			s.election.epoch, s.election.version, s.election.ok = epoch+1, resp[1].Stat.Version, true
			s.mu.Unlock()
			s.notifier.Publish(store.Event{Kind: store.EventController})
			return epoch + 1, nil
		}
		oe := failedAt(err)
		if oe == nil {
			return 0, err
		}
		// NODEEXISTS on /controller: someone won (reported by the next
		// round); BADVERSION on the epoch: an election raced ours.
	}
	return 0, fmt.Errorf("zkstore: broker %d: controller election keeps racing: %w", brokerID, store.ErrControllerExists)
}

// controllerID reads /controller.
func (s *Store) controllerID(ctx context.Context) (int32, error) {
	data, _, err := s.get(ctx, znode.ControllerPath)
	if errors.Is(err, zk.ErrNoNode) {
		return 0, fmt.Errorf("zkstore: %w", store.ErrNoController)
	}
	if err != nil {
		return 0, s.wrap("get", znode.ControllerPath, err)
	}
	id, err := znode.DecodeController(data)
	if err != nil {
		return 0, fmt.Errorf("zkstore: %s: %w", znode.ControllerPath, err)
	}
	return id, nil
}

// Controller implements store.Store. /controller and /controller_epoch are
// two reads; the epoch is read before and after, and the pair is returned
// only if no election happened in between.
func (s *Store) Controller(ctx context.Context) (store.ControllerInfo, error) {
	for range maxAttempts {
		before, v1, err := s.controllerEpoch(ctx)
		if err != nil {
			return store.ControllerInfo{}, err
		}
		id, err := s.controllerID(ctx)
		if err != nil {
			return store.ControllerInfo{}, err
		}
		_, v2, err := s.controllerEpoch(ctx)
		if err != nil {
			return store.ControllerInfo{}, err
		}
		if v1 == v2 {
			return store.ControllerInfo{BrokerID: id, Epoch: before}, nil
		}
	}
	return store.ControllerInfo{}, fmt.Errorf("zkstore: controller keeps changing: %w", store.ErrNoController)
}

// controllerEpoch reads /controller_epoch and its version; missing means
// no election ever happened (ErrNoController).
func (s *Store) controllerEpoch(ctx context.Context) (int32, int32, error) {
	data, st, err := s.get(ctx, znode.ControllerEpochPath)
	if errors.Is(err, zk.ErrNoNode) {
		return 0, 0, fmt.Errorf("zkstore: %w", store.ErrNoController)
	}
	if err != nil {
		return 0, 0, s.wrap("get", znode.ControllerEpochPath, err)
	}
	e, err := znode.DecodeControllerEpoch(data)
	if err != nil {
		return 0, 0, fmt.Errorf("zkstore: %s: %w", znode.ControllerEpochPath, err)
	}
	return e, st.Version, nil
}

// ResignController implements store.Store: it deletes /controller at the
// version read, if it names brokerID.
func (s *Store) ResignController(ctx context.Context, brokerID int32) error {
	data, st, err := s.get(ctx, znode.ControllerPath)
	if errors.Is(err, zk.ErrNoNode) {
		return fmt.Errorf("zkstore: broker %d resign: no controller: %w", brokerID, store.ErrNotController)
	}
	if err != nil {
		return s.wrap("get", znode.ControllerPath, err)
	}
	id, err := znode.DecodeController(data)
	if err != nil {
		return fmt.Errorf("zkstore: %s: %w", znode.ControllerPath, err)
	}
	if id != brokerID {
		return fmt.Errorf("zkstore: broker %d resign: broker %d is controller: %w", brokerID, id, store.ErrNotController)
	}
	_, err = s.multi(ctx, "resign controller", deleteOp(s.conn, znode.ControllerPath, st.Version))
	if failedAt(err) != nil {
		return fmt.Errorf("zkstore: broker %d resign: control changed meanwhile: %w", brokerID, store.ErrNotController)
	}
	if err != nil {
		return err
	}
	s.notifier.Publish(store.Event{Kind: store.EventController})
	return nil
}
