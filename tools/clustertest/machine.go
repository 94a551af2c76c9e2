package clustertest

import (
	"fmt"
	"os"
	"sync"
	"syscall"

	"github.com/strom-broker/strom/tools/faultbed/lazyfs"
)

// This file is the machine crash: a broker whose log dir is a lazyfs
// mount (faultbed/lazyfs) loses every write it did not fsync when its
// "machine" crashes: kill -9 of the process, then lazyfs.Crash of its log
// dir (which reverts every file to its last fsync and remounts it).

// NewBrokerOnLazyFS prepares a broker as NewBroker does, with its log dir
// a lazyfs mount backed by a sibling directory. The mount is removed when
// the test ends (after the process is killed). It fails the test if the
// mount fails; callers skip first when lazyfs.Available fails.
func (c *Cluster) NewBrokerOnLazyFS(id int32, extra ...string) (*Broker, *lazyfs.FS) {
	c.t.Helper()
	b := c.NewBroker(id, extra...)
	disk := b.Dir + "-disk"
	for _, d := range []string{b.Dir, disk} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			c.t.Fatal(err)
		}
	}
	fs, err := lazyfs.Mount(disk, b.Dir)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() {
		b.Kill()
		if err := fs.Unmount(); err != nil {
			c.t.Errorf("broker %s: %v", b.name, err)
		}
	})
	return b, fs
}

// KillAll sends SIGKILL to every broker in bs at once, then waits until
// all are gone.
func KillAll(bs ...*Broker) {
	for _, b := range bs {
		b.signal(syscall.SIGKILL)
	}
	var wg sync.WaitGroup
	for _, b := range bs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b.Kill()
		}()
	}
	wg.Wait()
}

// CrashMachines crashes the machines of bs at once: every process is
// killed with SIGKILL, then every file system drops what its broker had
// not fsynced. fss[i] is bs[i]'s log dir. It returns how many files the
// crash reverted in all.
func CrashMachines(bs []*Broker, fss []*lazyfs.FS) (int, error) {
	KillAll(bs...)
	total := 0
	for i, fs := range fss {
		n, err := fs.Crash()
		if err != nil {
			return total, fmt.Errorf("clustertest: crash of broker %s's machine: %w", bs[i].name, err)
		}
		total += n
	}
	return total, nil
}
