package logmgr

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strom-broker/strom/engine/partlog"
)

func requests(m *Manager, topic string, parts ...int32) []CreateRequest {
	out := make([]CreateRequest, len(parts))
	for i, p := range parts {
		out[i] = CreateRequest{Topic: topic, Partition: p, Config: m.TopicConfig(topic)}
	}
	return out
}

func TestGetOrCreateAllCreatesSpreadsAndReopens(t *testing.T) {
	e := newEnv(t, 2)
	m := e.open(t)
	existing := create(t, m, "t", 0)
	reqs := requests(m, "t", 0, 1, 2, 3, 4, 5, 6, 7, 8, 3)
	reqs = append(reqs, CreateRequest{Topic: "bad/name", Partition: 0, Config: m.TopicConfig("t")},
		CreateRequest{Topic: "t", Partition: -1, Config: m.TopicConfig("t")})

	logs, err := m.GetOrCreateAll(reqs)
	require.ErrorIs(t, err, ErrInvalidPartition)
	require.Len(t, logs, len(reqs))
	assert.Same(t, existing, logs[0], "an open log is returned, not recreated")
	assert.Same(t, logs[3], logs[9], "a partition named twice is created once")
	assert.Nil(t, logs[10])
	assert.Nil(t, logs[11])
	for i, l := range logs[:10] {
		require.NotNil(t, l, "request %d", i)
		got, ok := m.Get("t", reqs[i].Partition)
		require.True(t, ok)
		assert.Same(t, got, l)
		_, err := os.Stat(l.Dir())
		assert.NoError(t, err)
	}
	st := m.Stats()
	assert.Equal(t, 9, st.Partitions)
	require.Len(t, st.Dirs, 2)
	assert.InDelta(t, st.Dirs[0].Partitions, st.Dirs[1].Partitions, 1, "fewest-partitions placement spreads the batch")

	leos := map[int32]int64{}
	for p := range int32(9) {
		l, _ := m.Get("t", p)
		leos[p] = appendN(t, l, int(p)+1, 1000)
	}
	require.NoError(t, m.Close())
	m = e.open(t)
	defer func() { require.NoError(t, m.Close()) }()
	require.Len(t, m.Partitions(), 9)
	for p, leo := range leos {
		l, ok := m.Get("t", p)
		require.True(t, ok)
		assert.Equal(t, leo, l.LogEndOffset())
	}
}

// Calls creating overlapping partitions at once all get the one log of
// each partition.
func TestGetOrCreateAllConcurrentOverlap(t *testing.T) {
	e := newEnv(t, 2)
	m := e.open(t)
	defer func() { require.NoError(t, m.Close()) }()
	const callers, parts = 4, 24
	got := make([][]*partlog.Log, callers)
	var wg sync.WaitGroup
	for c := range callers {
		wg.Go(func() {
			var ps []int32
			for p := range int32(parts) {
				if (int(p)+c)%3 != 0 { // each caller misses a different third
					ps = append(ps, p)
				}
			}
			logs, err := m.GetOrCreateAll(requests(m, "o", ps...))
			assert.NoError(t, err)
			got[c] = make([]*partlog.Log, parts)
			for i, p := range ps {
				got[c][p] = logs[i]
			}
		})
	}
	wg.Wait()
	require.Len(t, m.Partitions(), parts)
	for p := range parts {
		want, ok := m.Get("o", int32(p))
		require.True(t, ok)
		for c := range callers {
			if got[c][p] != nil {
				assert.Same(t, want, got[c][p], "caller %d partition %d", c, p)
			}
		}
	}
}

// Delete of a partition another goroutine is creating waits for the
// creation and deletes what it made; the manager ends up consistent.
func TestDeleteDuringGetOrCreateAll(t *testing.T) {
	e := newEnv(t, 1)
	m := e.open(t)
	defer func() { require.NoError(t, m.Close()) }()
	for round := range 5 {
		topic := fmt.Sprintf("d%d", round)
		var wg sync.WaitGroup
		wg.Go(func() {
			_, err := m.GetOrCreateAll(requests(m, topic, 0, 1, 2, 3, 4, 5, 6, 7))
			assert.NoError(t, err)
		})
		var deleted bool
		wg.Go(func() {
			err := m.Delete(topic, 7)
			if err != nil {
				assert.ErrorIs(t, err, ErrUnknownPartition, "not created yet")
			}
			deleted = err == nil
		})
		wg.Wait()
		_, isOpen := m.Get(topic, 7)
		assert.Equal(t, !deleted, isOpen)
		dirs, err := filepath.Glob(filepath.Join(e.cfg.LogDirs[0], topic+"-*"))
		require.NoError(t, err)
		live, open := 0, 0
		for _, d := range dirs {
			if !isDeleteDir(filepath.Base(d)) {
				live++
			}
		}
		for _, tp := range m.Partitions() {
			if tp.Topic == topic {
				open++
			}
		}
		assert.Equal(t, open, live, "round %d: one dir per open partition", round)
		assert.Equal(t, 8-boolInt(deleted), open)
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
