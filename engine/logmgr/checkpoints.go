package logmgr

import (
	"errors"
	"maps"

	"github.com/strom-broker/strom/engine/checkpoint"
)

// WriteCheckpoints writes every dir's recovery-point and log-start-offset
// checkpoints (WriteRecoveryPoints, then WriteLogStartOffsets).
func (m *Manager) WriteCheckpoints() error {
	return errors.Join(m.WriteRecoveryPoints(), m.WriteLogStartOffsets())
}

// WriteRecoveryPoints writes recovery-point-offset-checkpoint in every dir:
// each log's RecoveryPoint (the offset below which it is fsync'd).
func (m *Manager) WriteRecoveryPoints() error {
	return m.writeEach(checkpoint.RecoveryPointFile, recoveryPoint)
}

// WriteLogStartOffsets writes log-start-offset-checkpoint in every dir.
func (m *Manager) WriteLogStartOffsets() error {
	return m.writeEach(checkpoint.LogStartOffsetFile, logStart)
}

func recoveryPoint(p *partition) int64 { return p.log.RecoveryPoint() }
func logStart(p *partition) int64      { return p.log.LogStartOffset() }

// writeEach writes the named checkpoint in every dir with value(p) for each
// partition the dir holds.
func (m *Manager) writeEach(name string, value func(*partition) int64) error {
	parts, err := m.beginSnapshot()
	if err != nil {
		return err
	}
	defer m.ops.Done()
	return m.writeOffsetFiles(m.dirs, parts, name, value)
}

// writeOffsetFiles writes name in every online dir of dirs from parts; a
// dir with no partition gets an empty checkpoint. A failed write takes
// the dir offline.
func (m *Manager) writeOffsetFiles(dirs []*logDir, parts []*partition, name string, value func(*partition) int64) error {
	per := make(map[*logDir]checkpoint.Offsets, len(dirs))
	for _, d := range dirs {
		per[d] = checkpoint.Offsets{}
	}
	for _, p := range parts {
		if offs, ok := per[p.dir]; ok {
			offs[p.tp] = value(p)
		}
	}
	var errs []error
	for _, d := range dirs {
		if d.offline.Load() {
			continue // an offline dir is written no more
		}
		errs = append(errs, m.ioErr(d, d.writeOffsets(name, per[d])))
	}
	return errors.Join(errs...)
}

// writeDirCheckpoints rewrites one dir's recovery-point and log-start
// checkpoints from the partitions it holds now. REQUIRES: an operation
// registered with begin (so Close has not closed the logs yet).
func (m *Manager) writeDirCheckpoints(d *logDir) error {
	m.mu.Lock()
	parts := m.partitionsLocked()
	m.mu.Unlock()
	dirs := []*logDir{d}
	return errors.Join(
		m.writeOffsetFiles(dirs, parts, checkpoint.RecoveryPointFile, recoveryPoint),
		m.writeOffsetFiles(dirs, parts, checkpoint.LogStartOffsetFile, logStart))
}

// truncated rewrites d's recovery-point checkpoint after one of its logs
// was truncated (called by the log under its writer lock, before any new
// append): the old checkpoint may claim offsets that were cut and will be
// rewritten unflushed. Other logs' recovery points are read lock-free.
func (m *Manager) truncated(d *logDir) error {
	if d.offline.Load() {
		return nil
	}
	m.mu.Lock()
	parts := m.partitionsLocked()
	m.mu.Unlock()
	return m.writeOffsetFiles([]*logDir{d}, parts, checkpoint.RecoveryPointFile, recoveryPoint)
}

// WriteHighWatermarks writes replication-offset-checkpoint in every dir:
// each dir gets the entries of hws for the partitions it holds, so a
// partition left out (or no longer hosted) disappears from the files.
// Entries for partitions the manager does not host are ignored. The
// replication layer owns the values and calls this periodically and at
// shutdown.
func (m *Manager) WriteHighWatermarks(hws map[TopicPartition]int64) error {
	parts, err := m.beginSnapshot()
	if err != nil {
		return err
	}
	defer m.ops.Done()
	var present []*partition
	for _, p := range parts {
		if _, ok := hws[p.tp]; ok {
			present = append(present, p)
		}
	}
	return m.writeOffsetFiles(m.dirs, present, checkpoint.ReplicationOffsetFile,
		func(p *partition) int64 { return hws[p.tp] })
}

// ReadHighWatermarks reads replication-offset-checkpoint from every dir
// and merges them. A missing file reads as empty.
func (m *Manager) ReadHighWatermarks() (map[TopicPartition]int64, error) {
	out := map[TopicPartition]int64{}
	for _, d := range m.dirs {
		d.cpMu.Lock()
		offs, err := checkpoint.Read(d.file(checkpoint.ReplicationOffsetFile))
		d.cpMu.Unlock()
		if err != nil {
			return nil, err
		}
		maps.Copy(out, offs)
	}
	return out, nil
}
