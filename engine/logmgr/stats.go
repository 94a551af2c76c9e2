package logmgr

// Stats is a point-in-time snapshot of the manager for metrics.
type Stats struct {
	// Partitions is the number of open partition logs.
	Partitions int
	// Segments is the number of segments over all logs.
	Segments int
	// Bytes is the size of every log's .log files.
	Bytes int64
	// PendingDeletions counts "-delete" dirs not yet removed.
	PendingDeletions int
	// Dirs has one entry per log dir, in configuration order.
	Dirs []DirStats
}

// DirStats is the share of one log dir in Stats.
type DirStats struct {
	// Path is the log dir.
	Path string
	// Partitions, Segments and Bytes are as in Stats, for this dir only.
	Partitions int
	Segments   int
	Bytes      int64
}

// Stats returns a snapshot of the manager's partitions, segments and
// bytes, overall and per dir. After Close it reports no partitions.
func (m *Manager) Stats() Stats {
	m.mu.Lock()
	parts := m.partitionsLocked()
	m.mu.Unlock()
	s := Stats{PendingDeletions: m.del.pending(), Dirs: make([]DirStats, len(m.dirs))}
	idx := make(map[*logDir]int, len(m.dirs))
	for i, d := range m.dirs {
		s.Dirs[i].Path = d.path
		idx[d] = i
	}
	for _, p := range parts {
		ds := &s.Dirs[idx[p.dir]]
		segs, size := p.log.SegmentCount(), p.log.Size()
		ds.Partitions++
		ds.Segments += segs
		ds.Bytes += size
		s.Partitions++
		s.Segments += segs
		s.Bytes += size
	}
	return s
}
