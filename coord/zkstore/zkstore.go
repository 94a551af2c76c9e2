// Package zkstore is the ZooKeeper store.Store: a thin mapping of the Store
// onto Kafka's znode layout and JSON (package znode), through
// github.com/go-zookeeper/zk, so that a Strom cluster's ZooKeeper reads like
// a Kafka cluster's and Kafka's tools (and a plain ZooKeeper client) can
// read and write it.
//
// Mapping:
//   - Every write is one ZooKeeper multi: a topic with its config, a batch
//     of partition states (with the partition parents they need), a topic's
//     whole subtree on deletion, and the controller election
//     (create /controller + conditional set of /controller_epoch), so each
//     is all-or-nothing. A fenced view (Fenced) puts a check of
//     /controller_epoch's znode version first in every multi, as Kafka 2.1+
//     does, so a deposed controller's writes fail with
//     store.ErrControllerMoved.
//   - Versions are znode versions; the broker epoch is the czxid of
//     /brokers/ids/<id>.
//   - Watches become the Store's events (see watch.go): they are re-armed
//     after every fire and after a new session; on a reconnect within the
//     session the client re-sends them itself.
//   - Session expiry: the client opens a new session; the store publishes
//     store.EventSessionExpired and remembers the old session id, so that a
//     RegisterBroker after it replaces this store's own stale registration
//     (ZOOKEEPER-2985, KAFKA-7165) and never another live broker's.
//   - ZooKeeper unreachable or without quorum: calls fail with
//     store.ErrUnavailable (the outcome of a write is then unknown). A call
//     in progress is bounded by the session timeout: the client drops a
//     connection that answers nothing for 2/3 of it and fails its requests.
//     The context is checked before each call, not during it.
//
// A Store and its fenced views are safe for concurrent use.
package zkstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/strom-broker/strom/coord/store"
	"github.com/strom-broker/strom/coord/znode"
)

// maxAttempts bounds the re-read-and-retry loops of writes that lose a race
// with another writer (the caller sees the conflict after that).
const maxAttempts = 16

// maxMultiBytes bounds one multi's paths and data. ZooKeeper refuses (and
// drops the connection of) requests larger than jute.maxbuffer, 1 MiB by
// default; this leaves room for the framing.
const maxMultiBytes = 900 << 10

// acl is Kafka's default (zookeeper.set.acl=false): open to all.
var acl = zk.WorldACL(zk.PermAll)

// Store is the ZooKeeper store.Store, or a fenced view of one (Fenced).
type Store struct {
	*conn
	// fence, if not nil, makes every write of this view check the
	// controller epoch (store.Store.Fenced); nil for the store itself.
	fence *fence
}

var _ store.Store = (*Store)(nil)

// conn is the state a Store shares with its fenced views.
type conn struct {
	cfg      Config
	servers  []string
	chroot   string
	zk       *zk.Conn
	notifier *store.Notifier
	log      *slog.Logger
	w        *watcher
	gate     *gate

	mu           sync.Mutex
	closed       bool
	session      int64          // current session id; 0 before the first
	pastSessions map[int64]bool // this store's expired sessions
	// election is the epoch and /controller_epoch znode version of this
	// store's last successful TryBecomeController (for fences).
	election struct {
		epoch, version int32
		ok             bool
	}
}

// Open connects to ZooKeeper, creates the chroot and Kafka's top-level
// znodes if missing, and arms the watches. If no session is established
// within cfg.ConnectionTimeout (or before ctx ends) it fails with an error
// wrapping store.ErrUnavailable that names the servers.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	servers, chroot, _ := ParseConnect(cfg.Connect)
	c := &conn{
		cfg: cfg, servers: servers, chroot: chroot,
		notifier:     store.NewNotifier(),
		log:          cfg.Logger.With("zookeeper", cfg.Connect),
		pastSessions: make(map[int64]bool),
		gate:         &gate{wait: cfg.SessionTimeout / 3},
	}
	c.w = newWatcher(c)
	z, _, err := zk.Connect(servers, cfg.SessionTimeout,
		zk.WithDialer(c.gate.dial),
		zk.WithEventCallback(c.w.onEvent),
		zk.WithLogger(zkLogger{c.log}),
		zk.WithLogInfo(false))
	if err != nil {
		return nil, fmt.Errorf("zkstore: connect %s: %w", cfg.Connect, err)
	}
	c.zk = z
	s := &Store{conn: c}
	go c.w.run()

	timer := time.NewTimer(cfg.ConnectionTimeout)
	defer timer.Stop()
	select {
	case <-c.w.ready:
	case <-timer.C:
		_ = s.Close()
		return nil, fmt.Errorf("zkstore: no ZooKeeper session with %s within zookeeper.connection.timeout.ms=%d: %w",
			cfg.Connect, cfg.ConnectionTimeout.Milliseconds(), store.ErrUnavailable)
	case <-ctx.Done():
		_ = s.Close()
		return nil, fmt.Errorf("zkstore: connect %s: %w", cfg.Connect, ctx.Err())
	}
	if err := s.createPaths(ctx); err != nil {
		_ = s.Close()
		return nil, err
	}
	c.w.armRoots()
	return s, nil
}

// createPaths creates the chroot and Kafka's persistent top-level znodes
// that are missing.
func (s *Store) createPaths(ctx context.Context) error {
	if s.chroot != "" {
		parts := strings.Split(s.chroot[1:], "/")
		for i := range parts {
			if err := s.ensure(ctx, "/"+strings.Join(parts[:i+1], "/")); err != nil {
				return err
			}
		}
	}
	for _, p := range znode.PersistentPaths {
		if err := s.ensure(ctx, s.abs(p)); err != nil {
			return err
		}
	}
	return nil
}

// ensure creates the absolute path abs with no data if it does not exist.
// A connection lost meanwhile (the session lives on) is waited out and the
// create retried, up to the connection timeout, as Kafka's ZooKeeperClient
// retries across a reconnect: a broker starting while a ZooKeeper node
// goes down must not fail (the fault bed's finding F1).
func (s *Store) ensure(ctx context.Context, abs string) error {
	deadline := time.Now().Add(s.cfg.ConnectionTimeout)
	for {
		if err := s.check(ctx); err != nil {
			return err
		}
		_, err := s.zk.Create(abs, nil, 0, acl)
		if err == nil || errors.Is(err, zk.ErrNodeExists) {
			return nil
		}
		err = s.wrap("create", abs, err)
		if !errors.Is(err, store.ErrUnavailable) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Connect returns the zookeeper.connect string the store was opened with.
func (s *Store) Connect() string { return s.cfg.Connect }

// SessionID returns the current ZooKeeper session id.
func (s *Store) SessionID() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.session
}

// Sync makes this store's following reads see every write the ensemble
// committed before the call (a ZooKeeper sync: the server the store talks
// to catches up with the leader). ZooKeeper reads are otherwise only as
// fresh as that server; the store's own writes are always visible to it.
func (s *Store) Sync(ctx context.Context) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	root := s.chroot
	if root == "" {
		root = "/"
	}
	if _, err := s.zk.Sync(root); err != nil {
		return s.wrap("sync", root, err)
	}
	return nil
}

// abs maps a Kafka path to its path under the chroot.
func (c *conn) abs(p string) string { return c.chroot + p }

// rel maps an absolute path back to a Kafka path ("" if it is outside the
// chroot).
func (c *conn) rel(abs string) string {
	if c.chroot == "" {
		return abs
	}
	if abs == c.chroot {
		return "/"
	}
	if r, ok := strings.CutPrefix(abs, c.chroot+"/"); ok {
		return "/" + r
	}
	return ""
}

// check fails if the store is closed or ctx has ended.
func (c *conn) check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return store.ErrClosed
	}
	return nil
}

// wrap gives a ZooKeeper error context, mapping the connection errors to
// store.ErrUnavailable (or store.ErrClosed once closed).
func (c *conn) wrap(op, path string, err error) error {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	switch {
	case closed:
		return fmt.Errorf("zkstore: %s %s: %w", op, path, store.ErrClosed)
	case errors.Is(err, zk.ErrConnectionClosed), errors.Is(err, zk.ErrNoServer),
		errors.Is(err, zk.ErrSessionExpired), errors.Is(err, zk.ErrSessionMoved),
		errors.Is(err, zk.ErrClosing):
		return fmt.Errorf("zkstore: %s %s: %w (ZooKeeper %s: %v)", op, path, store.ErrUnavailable, c.cfg.Connect, err)
	}
	return fmt.Errorf("zkstore: %s %s: %w", op, path, err)
}

// get reads a Kafka path.
func (s *Store) get(ctx context.Context, p string) ([]byte, *zk.Stat, error) {
	if err := s.check(ctx); err != nil {
		return nil, nil, err
	}
	data, st, err := s.zk.Get(s.abs(p))
	return data, st, err
}

// exists tells whether a Kafka path exists.
func (s *Store) exists(ctx context.Context, p string) (bool, error) {
	if err := s.check(ctx); err != nil {
		return false, err
	}
	ok, _, err := s.zk.Exists(s.abs(p))
	if err != nil {
		return false, s.wrap("exists", p, err)
	}
	return ok, nil
}

// children lists a Kafka path's children (ErrNoNode if it is missing).
func (s *Store) children(ctx context.Context, p string) ([]string, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	names, _, err := s.zk.Children(s.abs(p))
	return names, err
}

// Subscribe implements store.Store.
func (s *Store) Subscribe(kinds ...store.EventKind) *store.Subscription {
	return s.notifier.Subscribe(kinds...)
}

// Close implements store.Store: it ends the session (so this store's
// ephemeral znodes vanish at once), stops the watches and closes every
// subscription. Closing a fenced view does nothing.
func (s *Store) Close() error {
	if s.fence != nil {
		return nil
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.w.stop()
	s.zk.Close() // fails the watcher's request in progress, if any
	s.w.wait()
	s.notifier.CloseAll()
	return nil
}

// zkLogger sends the client library's messages to slog at debug level
// (it logs every reconnect attempt).
type zkLogger struct{ l *slog.Logger }

func (z zkLogger) Printf(format string, args ...any) {
	z.l.Debug("zk: " + fmt.Sprintf(format, args...))
}
