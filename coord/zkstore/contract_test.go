package zkstore_test

import (
	"testing"

	"github.com/strom-broker/strom/coord/store"
	"github.com/strom-broker/strom/coord/store/storetest"
)

// TestStoreContract runs the Store contract against the real ensemble, each
// subtest in its own chroot.
func TestStoreContract(t *testing.T) {
	storetest.RunStoreTests(t, func(t *testing.T) store.Store {
		s, _ := openChroot(t)
		return s
	})
}
