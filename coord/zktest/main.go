package zktest

import (
	"fmt"
	"os"
	"testing"
)

// Main is a TestMain for packages that share one ensemble: it starts an
// ensemble with opts, hands it to set, runs the tests, closes the ensemble
// and exits with the tests' status. Java or ZooKeeper missing fails the
// package with a message saying how to install them (or, with
// STROM_SKIP_ZK=1, skips it); an ensemble that does not start fails it.
func Main(m *testing.M, opts Options, set func(*Ensemble)) {
	os.Exit(run(m, opts, set))
}

func run(m *testing.M, opts Options, set func(*Ensemble)) int {
	if err := Available(opts); err != nil {
		if os.Getenv(SkipEnv) == "1" {
			fmt.Fprintf(os.Stderr, "SKIP: ZooKeeper tests (%s=1): %v\n", SkipEnv, err)
			return 0
		}
		fmt.Fprintf(os.Stderr, "FAIL: ZooKeeper tests need Java and Debian's zookeeper package: %v\n"+
			"(set %s=1 to skip them on a machine without Java)\n", err, SkipEnv)
		return 1
	}
	e, err := Start(opts)
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: start ZooKeeper ensemble: %v\n", err)
		return 1
	}
	defer func() {
		if err := e.Close(); err != nil {
			fmt.Fprintf(os.Stderr, "zktest: close: %v\n", err)
		}
	}()
	set(e)
	return m.Run()
}
