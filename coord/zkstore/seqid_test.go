package zkstore_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGenerateBrokerIDStartsAfterReserved(t *testing.T) {
	s, chroot := openChroot(t)
	ctx := context.Background()
	first, err := s.GenerateBrokerID(ctx, 1000)
	require.NoError(t, err)
	assert.Equal(t, int32(1001), first, "Kafka's first generated id is reserved.broker.max.id + 1")
	second, err := s.GenerateBrokerID(ctx, 1000)
	require.NoError(t, err)
	assert.Equal(t, int32(1002), second)
	// The sequence is the cluster's: another broker's store continues it.
	s2 := open(t, ens.Connect()+chroot, sessionTimeout)
	third, err := s2.GenerateBrokerID(ctx, 500)
	require.NoError(t, err)
	assert.Equal(t, int32(503), third)
}
