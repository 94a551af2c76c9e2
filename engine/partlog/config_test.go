package partlog

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strom-broker/strom/engine/record"
)

// TestSetConfig: a runtime config change takes effect on the next append
// (a smaller segment.bytes rolls), and an invalid config changes nothing.
func TestSetConfig(t *testing.T) {
	l, err := Open(t.TempDir(), DefaultConfig())
	require.NoError(t, err)
	defer l.Close()
	batch := record.NewBuilder(0).Add(1, []byte("k"), make([]byte, 200)).Build()
	_, err = l.Append(batch, 0)
	require.NoError(t, err)
	require.Equal(t, 1, l.SegmentCount())

	bad := DefaultConfig()
	bad.SegmentBytes = 1
	require.ErrorIs(t, l.SetConfig(bad), ErrInvalidConfig)
	assert.Equal(t, DefaultConfig(), l.Config())

	small := DefaultConfig()
	small.SegmentBytes = int64(len(batch)) + 10
	require.NoError(t, l.SetConfig(small))
	assert.Equal(t, small, l.Config())
	batch = record.NewBuilder(0).Add(1, []byte("k"), make([]byte, 200)).Build()
	_, err = l.Append(batch, 0)
	require.NoError(t, err)
	assert.Equal(t, 2, l.SegmentCount(), "the new segment.bytes rolled the segment")
}
