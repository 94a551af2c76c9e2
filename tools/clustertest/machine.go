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
// a lazyfs mount backed by a sibling directory, and returns the mount.
// Callers skip first when lazyfs.Available fails.
func (c *Cluster) NewBrokerOnLazyFS(id int32, extra ...string) (*Broker, *lazyfs.FS) {
	c.t.Helper()
	b := c.NewBroker(id, extra...)
	if b.disk == nil {
		b.disk = c.mountLazyFS(b)
	}
	return b, b.disk
}

// mountLazyFS mounts a lazyfs at b's log dir, backed by a sibling
// directory; the mount is removed when the test ends (after the process
// is killed). It fails the test if the mount fails.
func (c *Cluster) mountLazyFS(b *Broker) *lazyfs.FS {
	c.t.Helper()
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
	return fs
}

// CrashMachine crashes the broker's machine: kill -9, then its log dir
// drops every write not fsynced (it must be on lazyfs: NewBrokerOnLazyFS
// or Cluster.LazyFS). It returns how many files the crash reverted.
func (b *Broker) CrashMachine() (int, error) {
	if b.disk == nil {
		return 0, fmt.Errorf("clustertest: broker %s's log dir is not on lazyfs", b.name)
	}
	b.Kill()
	n, err := b.disk.Crash()
	if err != nil {
		return n, fmt.Errorf("clustertest: crash of broker %s's machine: %w", b.name, err)
	}
	return n, nil
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
// killed with SIGKILL first, then every log dir drops what its broker had
// not fsynced. It returns how many files the crash reverted in all.
func CrashMachines(bs ...*Broker) (int, error) {
	KillAll(bs...)
	total := 0
	for _, b := range bs {
		n, err := b.CrashMachine()
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}
