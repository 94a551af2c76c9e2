package zkstore

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/strom-broker/strom/coord/store"
	"github.com/strom-broker/strom/coord/znode"
)

// Watches. ZooKeeper watches fire once; the watcher re-arms each one when it
// fires and publishes the store event that says what to re-read:
//
//	/brokers/ids                          children  EventBrokers
//	/controller                           exists    EventController
//	/brokers/topics                       children  EventTopic for topics that appear or vanish
//	/brokers/topics/<t>                   data      EventTopic
//	/config/changes                       children  EventTopicConfig per new notification of a topic
//	/admin/delete_topics                  children  EventTopicDeletion for marks that appear or vanish
//	/admin/preferred_replica_election     exists    EventPreferredElection
//	/admin/reassign_partitions            exists    EventReassignment
//
// As in Kafka, nobody watches partition states: the controller is their
// only writer (ISR changes reach it as AlterPartition requests) and it
// pushes them to the brokers; the store publishes its own state writes.
// Nor is each topic's config watched: whoever changes one writes a
// sequential change notification under /config/changes (Kafka's
// ZkConfigManager protocol), so one children watch covers every topic, and
// notifications older than configChangeExpiry are purged as Kafka does.
//
// Arming is reading: a watch (re-)armed publishes its event whether or not
// anything changed, so nothing that changed between the fire and the re-arm
// (or before a topic was first seen) goes unreported; subscribers may see an
// event twice, never miss one. The store also publishes its own writes at
// once, as the embedded store does.
//
// Sessions: on a reconnect within the session the client re-sends the
// watches itself. When a new session begins (the old one expired), all
// watches were lost: the watcher publishes EventSessionExpired and re-arms
// every watch. Arms that fail (ZooKeeper unreachable) are retried.
//
// Concurrency: the client's event callback only queues events (it must not
// block); one goroutine (run) owns the rest of the watcher's state and does
// all arming.

// retryInterval is how long the watcher waits before retrying failed arms.
const retryInterval = 200 * time.Millisecond

type targetKind uint8

const (
	tBrokers targetKind = iota + 1
	tController
	tTopics
	tTopic
	tChanges
	tDeletions
	tElection
	tReassign
)

// target is one watch.
type target struct {
	kind  targetKind
	topic string
}

type watcher struct {
	c       *conn
	ready   chan struct{} // closed once the first session exists
	armed   chan struct{} // closed once the first arming of every watch is done
	signal  chan struct{} // capacity 1: events or work queued
	done    chan struct{} // closed by stop
	stopped chan struct{} // closed when run returns

	mu        sync.Mutex
	events    []zk.Event // queued by onEvent, oldest first
	wantRoots bool

	// Owned by run.
	dirty      []target
	dirtySet   map[target]bool
	topics     map[string]bool // known topics (each with a data watch)
	marked     map[string]bool // children of /admin/delete_topics
	roots      bool            // root watches requested (armRoots)
	lastChange int64           // highest config change notification processed (-1: none)
	changes    map[int64]int64 // notifications read: sequence -> creation time (ms), for purging
}

func newWatcher(c *conn) *watcher {
	return &watcher{
		c: c, ready: make(chan struct{}), armed: make(chan struct{}),
		signal: make(chan struct{}, 1), done: make(chan struct{}), stopped: make(chan struct{}),
		dirtySet: make(map[target]bool), topics: make(map[string]bool), marked: make(map[string]bool),
		lastChange: -1, changes: make(map[int64]int64),
	}
}

// onEvent is the client's event callback: it queues and returns. It runs
// on the client's goroutines, some holding the client's locks: it must not
// call the client.
func (w *watcher) onEvent(ev zk.Event) {
	if ev.Type == zk.EventNotWatching {
		w.c.gate.watching.Store(false) // the client dropped its watches
	}
	w.mu.Lock()
	w.events = append(w.events, ev)
	w.mu.Unlock()
	w.wake()
}

func (w *watcher) wake() {
	select {
	case w.signal <- struct{}{}:
	default:
	}
}

// armRoots asks run to arm every watch and waits (up to the connection
// timeout) until the first pass is done, so that a Store returned by Open
// already watches everything.
func (w *watcher) armRoots() {
	w.mu.Lock()
	w.wantRoots = true
	w.mu.Unlock()
	w.wake()
	select {
	case <-w.armed:
	case <-time.After(w.c.cfg.ConnectionTimeout):
	case <-w.done:
	}
}

// stop asks run to return; wait waits until it has.
func (w *watcher) stop() { close(w.done) }
func (w *watcher) wait() { <-w.stopped }

func (w *watcher) run() {
	defer close(w.stopped)
	var retry <-chan time.Time
	armedClosed := false
	for {
		select {
		case <-w.done:
			return
		case <-w.signal:
		case <-retry:
		}
		retry = nil
		w.mu.Lock()
		events := w.events
		w.events = nil
		if w.wantRoots && !w.roots {
			w.roots = true
			w.markRoots()
		}
		w.mu.Unlock()
		for _, ev := range events {
			w.handle(ev)
		}
		if !w.roots {
			continue
		}
		if err := w.armDirty(); err != nil {
			select {
			case <-w.done:
				return
			default:
			}
			w.c.log.Debug("zkstore: arming watches failed; retrying", "err", err)
			retry = time.After(retryInterval)
			continue
		}
		if !armedClosed {
			close(w.armed)
			armedClosed = true
		}
	}
}

func (w *watcher) mark(t target) {
	if !w.dirtySet[t] {
		w.dirtySet[t] = true
		w.dirty = append(w.dirty, t)
	}
}

func (w *watcher) markRoots() {
	for _, k := range []targetKind{tBrokers, tController, tTopics, tChanges, tDeletions, tElection, tReassign} {
		w.mark(target{kind: k})
	}
}

// handle turns one client event into work.
func (w *watcher) handle(ev zk.Event) {
	if ev.Type == zk.EventSession {
		w.session(ev)
		return
	}
	if ev.Type == zk.EventNotWatching || ev.Path == "" {
		return
	}
	if t, ok := w.targetOf(w.c.rel(ev.Path)); ok {
		w.mark(t)
	}
}

// session tracks the session id: a new id after an earlier one means the
// old session expired and every watch is gone.
func (w *watcher) session(ev zk.Event) {
	if ev.State != zk.StateHasSession {
		return
	}
	c := w.c
	sid := c.zk.SessionID()
	c.mu.Lock()
	old := c.session
	c.session = sid
	expired := old != 0 && old != sid
	if expired {
		c.pastSessions[old] = true
	}
	c.mu.Unlock()
	select {
	case <-w.ready:
	default:
		close(w.ready)
	}
	if !expired {
		return
	}
	c.log.Warn("ZooKeeper session expired; a new session began: ephemeral znodes of the old one are gone",
		"old_session", fmt.Sprintf("0x%x", old), "session", fmt.Sprintf("0x%x", sid))
	c.notifier.Publish(store.Event{Kind: store.EventSessionExpired})
	if !w.roots {
		return
	}
	w.markRoots()
	for t := range w.topics {
		w.mark(target{kind: tTopic, topic: t})
	}
}

// targetOf maps a Kafka path to its watch.
func (w *watcher) targetOf(p string) (target, bool) {
	switch p {
	case znode.BrokerIDsPath:
		return target{kind: tBrokers}, true
	case znode.ControllerPath:
		return target{kind: tController}, true
	case znode.TopicsPath:
		return target{kind: tTopics}, true
	case znode.DeleteTopicsPath:
		return target{kind: tDeletions}, true
	case znode.PreferredReplicaElectionPath:
		return target{kind: tElection}, true
	case znode.ConfigChangesPath:
		return target{kind: tChanges}, true
	case znode.ReassignPartitionsPath:
		return target{kind: tReassign}, true
	}
	if t, ok := strings.CutPrefix(p, znode.TopicsPath+"/"); ok && !strings.Contains(t, "/") {
		return target{kind: tTopic, topic: t}, true
	}
	return target{}, false
}

// armParallel is how many leaf watches are armed at once (pipelined on the
// one connection): a store over thousands of partitions arms as many state
// watches when it opens or gets a new session.
const armParallel = 64

// leaf reports whether arming t touches no watcher state (it only sets a
// watch and publishes), so that leaves can be armed concurrently.
func leaf(t target) bool { return t.kind == tTopic }

// armDirty arms every dirty watch, in order, runs of leaves concurrently;
// arming may mark more. On a failure it stops, leaving the failed watches
// and the rest dirty.
func (w *watcher) armDirty() error {
	for len(w.dirty) > 0 {
		n := 1
		for n < len(w.dirty) && n < 16*armParallel && leaf(w.dirty[0]) && leaf(w.dirty[n]) {
			n++
		}
		batch := w.dirty[:n]
		var err error
		if n == 1 {
			err = w.arm(batch[0])
		} else {
			err = w.armLeaves(batch)
		}
		if err != nil {
			return err
		}
		w.c.gate.watching.Store(true)
		for _, t := range batch {
			delete(w.dirtySet, t)
		}
		w.dirty = w.dirty[n:]
	}
	w.dirty = nil
	return nil
}

// armLeaves arms leaf watches armParallel at a time. Watches of topics no
// longer known are dropped here, on the run goroutine that owns w.topics.
func (w *watcher) armLeaves(ts []target) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		sem  = make(chan struct{}, armParallel)
	)
	for _, t := range ts {
		if !w.watched(t) {
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := w.armLeaf(t); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// watched reports whether t's topic is still known.
// REQUIRES: on the run goroutine.
func (w *watcher) watched(t target) bool {
	return t.kind != tTopic || w.topics[t.topic]
}

// armLeaf arms a topic's data watch and publishes its event. It reads no
// watcher state, so several may run at once. A topic deleted meanwhile
// gets an exists watch (to see it created again) and its event.
func (w *watcher) armLeaf(t target) error {
	p := znode.TopicPath(t.topic)
	_, _, _, err := w.c.zk.GetW(w.c.abs(p))
	if errors.Is(err, zk.ErrNoNode) {
		err = w.exists(p)
	}
	if err != nil {
		return err
	}
	w.publish(store.Event{Kind: store.EventTopic, Topic: t.topic})
	return nil
}

func (w *watcher) publish(ev store.Event) { w.c.notifier.Publish(ev) }

// arm (re-)arms one watch and publishes its event.
func (w *watcher) arm(t target) error {
	switch t.kind {
	case tBrokers:
		if _, err := w.children(znode.BrokerIDsPath); err != nil {
			return err
		}
		w.publish(store.Event{Kind: store.EventBrokers})
	case tController:
		if err := w.exists(znode.ControllerPath); err != nil {
			return err
		}
		w.publish(store.Event{Kind: store.EventController})
	case tElection:
		if err := w.exists(znode.PreferredReplicaElectionPath); err != nil {
			return err
		}
		w.publish(store.Event{Kind: store.EventPreferredElection})
	case tReassign:
		if err := w.exists(znode.ReassignPartitionsPath); err != nil {
			return err
		}
		w.publish(store.Event{Kind: store.EventReassignment})
	case tTopics:
		names, err := w.children(znode.TopicsPath)
		if err != nil {
			return err
		}
		now := make(map[string]bool, len(names))
		for _, n := range names {
			now[n] = true
			if !w.topics[n] {
				w.topics[n] = true
				w.mark(target{kind: tTopic, topic: n})
			}
		}
		for n := range w.topics {
			if !now[n] {
				delete(w.topics, n)
				w.publish(store.Event{Kind: store.EventTopic, Topic: n})
			}
		}
	case tTopic:
		if !w.watched(t) {
			return nil // deleted: no more watches on it
		}
		return w.armLeaf(t)
	case tChanges:
		return w.configChanges()
	case tDeletions:
		names, err := w.children(znode.DeleteTopicsPath)
		if err != nil {
			return err
		}
		now := make(map[string]bool, len(names))
		for _, n := range names {
			now[n] = true
			if !w.marked[n] {
				w.marked[n] = true
				w.publish(store.Event{Kind: store.EventTopicDeletion, Topic: n})
			}
		}
		for n := range w.marked {
			if !now[n] {
				delete(w.marked, n)
				w.publish(store.Event{Kind: store.EventTopicDeletion, Topic: n})
			}
		}
	}
	return nil
}

// configChangeExpiry is how long a config change notification is kept
// (Kafka's ZkNodeChangeNotificationListener changeExpirationMs, 15 min).
const configChangeExpiry = 15 * time.Minute

// configChanges re-arms the watch on /config/changes, publishes
// EventTopicConfig for each topic named by a notification newer than the
// last one processed (all of them on the first pass: subscribers re-read),
// and purges notifications older than configChangeExpiry, as every Kafka
// broker does. A notification that does not decode is logged with its
// path and skipped.
func (w *watcher) configChanges() error {
	c := w.c
	names, err := w.children(znode.ConfigChangesPath)
	if err != nil {
		return err
	}
	type notice struct {
		seq  int64
		name string
	}
	var fresh []notice
	present := make(map[int64]bool, len(names))
	for _, n := range names {
		seq, ok := znode.ConfigChangeSeq(n)
		if !ok {
			continue
		}
		present[seq] = true
		if seq > w.lastChange {
			fresh = append(fresh, notice{seq, n})
		}
	}
	slices.SortFunc(fresh, func(a, b notice) int { return cmp.Compare(a.seq, b.seq) })
	for _, n := range fresh {
		p := znode.ConfigChangesPath + "/" + n.name
		data, st, err := c.zk.Get(c.abs(p))
		if errors.Is(err, zk.ErrNoNode) {
			continue // purged meanwhile
		}
		if err != nil {
			return err
		}
		w.lastChange = n.seq
		w.changes[n.seq] = st.Ctime
		kind, name, err := znode.DecodeConfigChange(data)
		if err != nil {
			c.log.Error("undecodable config change notification skipped", "path", c.abs(p), "err", err)
			continue
		}
		if kind == znode.ConfigEntityTopics {
			w.publish(store.Event{Kind: store.EventTopicConfig, Topic: name})
		}
	}
	expired := c.cfg.Now().Add(-configChangeExpiry).UnixMilli()
	for seq, ctime := range w.changes {
		if !present[seq] {
			delete(w.changes, seq)
			continue
		}
		if ctime >= expired {
			continue
		}
		p := fmt.Sprintf("%s/%s%010d", znode.ConfigChangesPath, znode.ConfigChangePrefix, seq)
		if err := c.zk.Delete(c.abs(p), -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
			return err
		}
		delete(w.changes, seq)
	}
	return nil
}

// children arms a children watch on a Kafka path; if the path is missing it
// arms an exists watch instead (to see it created) and reports no children.
func (w *watcher) children(p string) ([]string, error) {
	names, _, _, err := w.c.zk.ChildrenW(w.c.abs(p))
	if errors.Is(err, zk.ErrNoNode) {
		return nil, w.exists(p)
	}
	return names, err
}

// exists arms an exists watch (fires on create, delete and data change).
func (w *watcher) exists(p string) error {
	_, _, _, err := w.c.zk.ExistsW(w.c.abs(p))
	return err
}
