package sim

import (
	"errors"
	"slices"
	"time"
)

// This file is the ZooKeeper model: one always-available ensemble (its own
// failures are not modelled) holding Kafka's znodes for one partition —
// /brokers/ids/<id> and /controller as ephemeral nodes of sessions,
// /controller_epoch, the partition's state znode with its version — and
// sessions that expire when their owner has not reached the ensemble for
// SessionTimeout. A call is atomic and instantaneous (ZooKeeper's
// linearizable writes); a broker makes it only while its link to the
// ensemble is up (zkConn), so a broker cut off from ZooKeeper loses its
// session as Kafka's does, and learns it only when it gets through again.

// Errors of ZooKeeper calls.
var (
	errDisconnected   = errors.New("zk: not connected")
	errSessionExpired = errors.New("zk: session expired")
	errNodeExists     = errors.New("zk: node exists")
	errBadVersion     = errors.New("zk: bad version")
)

type registration struct {
	session int64
	epoch   int64 // czxid: the broker epoch
}

// zkModel is the ensemble's state.
type zkModel struct {
	timeout  time.Duration
	zxid     int64
	sessions map[int64]time.Time // session -> last time its owner reached the ensemble
	brokers  map[int32]registration

	controller        int32 // -1: none
	controllerSession int64
	controllerEpoch   int32

	replicas []int32
	state    PartitionState
	hasState bool
}

func newZK(timeout time.Duration, replicas []int32) *zkModel {
	return &zkModel{timeout: timeout, sessions: map[int64]time.Time{}, brokers: map[int32]registration{},
		controller: -1, replicas: replicas}
}

// expire ends the sessions not heard from within the timeout, deleting
// their ephemeral znodes. It reports whether any expired.
func (z *zkModel) expire(now time.Time) bool {
	expired := false
	for _, s := range sortedKeys(z.sessions) {
		if now.Sub(z.sessions[s]) > z.timeout {
			delete(z.sessions, s)
			expired = true
		}
	}
	if !expired {
		return false
	}
	for id, r := range z.brokers {
		if _, ok := z.sessions[r.session]; !ok {
			delete(z.brokers, id)
		}
	}
	if _, ok := z.sessions[z.controllerSession]; z.controller >= 0 && !ok {
		z.controller = -1
	}
	return true
}

// liveBrokers returns the registered brokers: id -> broker epoch.
func (z *zkModel) liveBrokers() map[int32]int64 {
	out := make(map[int32]int64, len(z.brokers))
	for id, r := range z.brokers {
		out[id] = r.epoch
	}
	return out
}

// zkConn is one broker's connection: every call first checks the link
// and the session, and counts as the session's heartbeat.
type zkConn struct {
	z         *zkModel
	now       func() time.Time
	reachable func() bool
	session   int64
}

func (c *zkConn) touch() error {
	if !c.reachable() {
		return errDisconnected
	}
	if _, ok := c.z.sessions[c.session]; !ok || c.session == 0 {
		return errSessionExpired
	}
	c.z.sessions[c.session] = c.now()
	return nil
}

// connect opens a new session (a broker start, or after expiry).
func (c *zkConn) connect() error {
	if !c.reachable() {
		return errDisconnected
	}
	c.z.zxid++
	c.session = c.z.zxid
	c.z.sessions[c.session] = c.now()
	return nil
}

// register creates /brokers/ids/<id>; it fails while another session's
// registration is there (Kafka's checkedEphemeralCreate waits for it).
func (c *zkConn) register(id int32) (int64, error) {
	if err := c.touch(); err != nil {
		return 0, err
	}
	if r, ok := c.z.brokers[id]; ok {
		if r.session == c.session {
			return r.epoch, nil
		}
		return 0, errNodeExists
	}
	c.z.zxid++
	c.z.brokers[id] = registration{session: c.session, epoch: c.z.zxid}
	return c.z.zxid, nil
}

// controller reads /controller and /controller_epoch.
func (c *zkConn) controller() (int32, int32, error) {
	if err := c.touch(); err != nil {
		return -1, 0, err
	}
	return c.z.controller, c.z.controllerEpoch, nil
}

// tryBecomeController creates /controller and bumps /controller_epoch in
// one multi; it returns the new epoch.
func (c *zkConn) tryBecomeController(id int32) (int32, error) {
	if err := c.touch(); err != nil {
		return 0, err
	}
	if c.z.controller >= 0 {
		return 0, errNodeExists
	}
	c.z.controller, c.z.controllerSession = id, c.session
	c.z.controllerEpoch++
	return c.z.controllerEpoch, nil
}

// brokers reads /brokers/ids.
func (c *zkConn) brokers() (map[int32]int64, error) {
	if err := c.touch(); err != nil {
		return nil, err
	}
	return c.z.liveBrokers(), nil
}

// partitionState reads the partition's state znode.
func (c *zkConn) partitionState() (PartitionState, bool, error) {
	if err := c.touch(); err != nil {
		return PartitionState{}, false, err
	}
	st := c.z.state
	st.ISR = slices.Clone(st.ISR)
	return st, c.z.hasState, nil
}

// setPartitionState writes the state znode by compare-and-set on its
// version (-1: create), in a multi that checks /controller_epoch: a
// controller whose epoch is not the current one writes nothing (Kafka's
// fenced writes). It returns the new version.
func (c *zkConn) setPartitionState(controllerEpoch int32, st PartitionState, version int32) (int32, error) {
	if err := c.touch(); err != nil {
		return 0, err
	}
	switch {
	case controllerEpoch != c.z.controllerEpoch:
		return 0, errBadVersion
	case version < 0 && c.z.hasState, version >= 0 && (!c.z.hasState || c.z.state.Version != version):
		return 0, errBadVersion
	}
	st.ISR = slices.Clone(st.ISR)
	st.Version = version + 1
	c.z.state, c.z.hasState = st, true
	return st.Version, nil
}
