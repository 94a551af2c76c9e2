package zkstore

// AddPastSession records id as one of s's expired sessions, as if the
// client had moved on from it while ZooKeeper still held its ephemerals
// (the race of ZOOKEEPER-2985 that a test cannot provoke at will).
func (s *Store) AddPastSession(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pastSessions[id] = true
}

// Server returns the address of the ZooKeeper server the store is
// connected to.
func (s *Store) Server() string { return s.zk.Server() }
