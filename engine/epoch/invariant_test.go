package epoch

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRandomOpsKeepInvariant runs random operation sequences and checks
// after every step that entries stay strictly increasing in epoch and
// start offset, and that the file on disk equals memory (reopen).
func TestRandomOpsKeepInvariant(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 0))
	dir := t.TempDir()
	c, err := Open(dir)
	require.NoError(t, err)
	for step := range 400 {
		switch r.IntN(4) {
		case 0, 1:
			require.NoError(t, c.Assign(int32(r.IntN(20)), int64(r.IntN(200))))
		case 2:
			require.NoError(t, c.TruncateFromEnd(int64(r.IntN(220))))
		case 3:
			require.NoError(t, c.TruncateFromStart(int64(r.IntN(100))))
		}
		es := c.Entries()
		for i := 1; i < len(es); i++ {
			require.Less(t, es[i-1].Epoch, es[i].Epoch, "step %d: %v", step, es)
			require.Less(t, es[i-1].StartOffset, es[i].StartOffset, "step %d: %v", step, es)
		}
		if step%20 == 0 {
			again, err := Open(dir)
			require.NoError(t, err)
			require.Equal(t, len(es), len(again.Entries()), "step %d", step)
			if len(es) > 0 {
				require.Equal(t, es, again.Entries(), "step %d", step)
			}
		}
	}
}
