package zkstore

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/go-zookeeper/zk"

	"github.com/strom-broker/strom/coord/store"
	"github.com/strom-broker/strom/coord/znode"
)

// op is one write of a multi, on a Kafka path.
type op struct {
	path string
	req  any // *zk.CreateRequest, *zk.SetDataRequest, *zk.DeleteRequest or *zk.CheckVersionRequest
	size int // encoded size, at most
}

// opOverhead bounds an op's encoding beyond its path and data: the multi
// header, length prefixes, version or flags, and the open ACL.
const opOverhead = 64

func createOp(c *conn, p string, data []byte, flags int32) op {
	abs := c.abs(p)
	return op{path: p, req: &zk.CreateRequest{Path: abs, Data: data, Acl: acl, Flags: flags}, size: len(abs) + len(data) + opOverhead}
}

func setOp(c *conn, p string, data []byte, version int32) op {
	abs := c.abs(p)
	return op{path: p, req: &zk.SetDataRequest{Path: abs, Data: data, Version: version}, size: len(abs) + len(data) + opOverhead}
}

func deleteOp(c *conn, p string, version int32) op {
	abs := c.abs(p)
	return op{path: p, req: &zk.DeleteRequest{Path: abs, Version: version}, size: len(abs) + opOverhead}
}

// checkOp checks a path's version (-1: only that it exists).
func checkOp(c *conn, p string, version int32) op {
	abs := c.abs(p)
	return op{path: p, req: &zk.CheckVersionRequest{Path: abs, Version: version}, size: len(abs) + opOverhead}
}

// opsSize bounds the encoded size of ops.
func opsSize(ops []op) int {
	n := 0
	for _, o := range ops {
		n += o.size
	}
	return n
}

// opError is a multi that failed at one of the caller's ops: Index is that
// op's position, Err ZooKeeper's error for it (zk.ErrNodeExists, ...).
type opError struct {
	Index int
	Path  string
	Err   error
}

func (e *opError) Error() string { return fmt.Sprintf("%s: %v", e.Path, e.Err) }
func (e *opError) Unwrap() error { return e.Err }

// failedAt returns the op error of a failed multi, or nil if err is
// something else (a connection error, the fence).
func failedAt(err error) *opError {
	var oe *opError
	if errors.As(err, &oe) {
		return oe
	}
	return nil
}

// multi runs ops as one ZooKeeper multi: all or nothing. A fenced view puts
// the check of /controller_epoch's version first; if that check fails the
// error wraps store.ErrControllerMoved. If one of ops fails the error is an
// *opError naming it; connection errors wrap store.ErrUnavailable. On
// success it returns one response per op.
func (s *Store) multi(ctx context.Context, what string, ops ...op) ([]zk.MultiResponse, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if size := opsSize(ops); size > maxMultiBytes {
		return nil, fmt.Errorf("zkstore: %s: %d writes of %d bytes exceed ZooKeeper's request limit (jute.maxbuffer); split the batch: %w",
			what, len(ops), opsSize(ops), store.ErrInvalidArgument)
	}
	reqs := make([]any, 0, len(ops)+1)
	fenced := 0
	if s.fence != nil {
		check, err := s.fenceCheck(ctx)
		if err != nil {
			return nil, err
		}
		reqs = append(reqs, check)
		fenced = 1
	}
	for _, o := range ops {
		reqs = append(reqs, o.req)
	}
	resp, err := s.zk.Multi(reqs...)
	if err == nil {
		return resp[fenced:], nil
	}
	for i, r := range resp {
		if r.Error == nil {
			continue
		}
		if i < fenced {
			return nil, s.moved()
		}
		return nil, fmt.Errorf("zkstore: %s: %w", what, &opError{Index: i - fenced, Path: ops[i-fenced].path, Err: r.Error})
	}
	return nil, s.wrap(what, "(multi)", err)
}

// fence is a fenced view's controller epoch and, once looked up, the
// version of /controller_epoch that holds it.
type fence struct {
	epoch int32

	mu       sync.Mutex
	version  int32
	resolved bool
}

// Fenced implements store.Store.
func (s *Store) Fenced(controllerEpoch int32) store.Store {
	return &Store{conn: s.conn, fence: &fence{epoch: controllerEpoch}}
}

// moved is the error of a write whose fence failed.
func (s *Store) moved() error {
	return fmt.Errorf("zkstore: write fenced by controller epoch %d: %w", s.fence.epoch, store.ErrControllerMoved)
}

// fenceCheck returns the check of /controller_epoch's version that guards a
// fenced view's writes. The version is the one this store's election set,
// or else the one /controller_epoch has while it holds the view's epoch (it
// changes with every later election, epochs only grow).
func (s *Store) fenceCheck(ctx context.Context) (*zk.CheckVersionRequest, error) {
	f := s.fence
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.resolved {
		s.mu.Lock()
		el := s.election
		s.mu.Unlock()
		if el.ok && el.epoch == f.epoch {
			f.version = el.version
		} else {
			e, version, err := s.controllerEpoch(ctx)
			if err == nil && e < f.epoch {
				// Our server may lag behind the election: catch up once.
				if err := s.Sync(ctx); err != nil {
					return nil, err
				}
				e, version, err = s.controllerEpoch(ctx)
			}
			if errors.Is(err, store.ErrNoController) {
				return nil, s.moved()
			}
			if err != nil {
				return nil, err
			}
			if e != f.epoch {
				return nil, fmt.Errorf("zkstore: write fenced by controller epoch %d, stored epoch %d: %w",
					f.epoch, e, store.ErrControllerMoved)
			}
			f.version = version
		}
		f.resolved = true
	}
	return &zk.CheckVersionRequest{Path: s.abs(znode.ControllerEpochPath), Version: f.version}, nil
}
