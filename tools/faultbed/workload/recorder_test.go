package workload

import (
	"bytes"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strom-broker/strom/tools/faultbed/checker"
)

// TestRecorder: concurrent Adds get dense indices and non-decreasing
// times, and the JSON lines read back as the same history.
func TestRecorder(t *testing.T) {
	var buf bytes.Buffer
	rec := NewRecorder(&buf)
	var wg sync.WaitGroup
	for p := range 8 {
		wg.Go(func() {
			for v := range 50 {
				rec.Add(checker.Op{Process: p, Type: checker.Invoke, F: checker.FSend, Sends: []checker.Send{{Key: 0, Value: int64(p*1000 + v)}}})
			}
		})
	}
	wg.Wait()
	require.NoError(t, rec.Flush())
	ops := rec.Ops()
	require.Len(t, ops, 400)
	for i, op := range ops {
		assert.Equal(t, i, op.Index)
		if i > 0 {
			assert.GreaterOrEqual(t, op.Time, ops[i-1].Time)
		}
	}
	back, err := checker.ReadJSONLines(&buf)
	require.NoError(t, err)
	assert.Equal(t, ops, back)
}
