package faultbed_test

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strom-broker/strom/coord/zktest"
	"github.com/strom-broker/strom/tools/faultbed"
	"github.com/strom-broker/strom/tools/faultbed/checker"
)

var ens *zktest.Ensemble

func TestMain(m *testing.M) {
	zktest.Main(m, zktest.Options{Nodes: 3}, func(e *zktest.Ensemble) { ens = e })
}

// mustBeClean asserts the properties every run must have on an RF 1 topic
// with acks=all: a process kill keeps the page cache, so nothing
// acknowledged may be lost, duplicated, reordered or left unseen.
func mustBeClean(t *testing.T, res *faultbed.Result, opts faultbed.Options) {
	t.Helper()
	t.Logf("seed %d:\n%s", opts.Seed, res.Summary())
	require.NoError(t, res.FinalErr, "recovery and final reads (history in %s)", opts.Dir)
	rep := res.Report
	for _, a := range checker.Anomalies {
		if !checker.Allowed(a) {
			assert.Zero(t, rep.Counts[a], "%s (seed %d, history in %s)", a, opts.Seed, opts.Dir)
		}
	}
	assert.True(t, rep.Valid)
	assert.True(t, rep.FinalReadsChecked)
}

// TestShortRun is the fault bed's run in make test: 3 brokers, an RF 1
// topic, acks=all, every fault kind at least once, about 40 s of faults.
func TestShortRun(t *testing.T) {
	if testing.Short() {
		t.Skip("fault bed: not in -short")
	}
	opts := faultbed.Options{Duration: 40 * time.Second, Seed: 1, CoverAll: true, Subscribers: 1, Dir: keepDir(t, 1)}
	res := faultbed.Run(t, ens, opts)
	mustBeClean(t, res, opts)
	for _, k := range faultbed.Kinds {
		assert.Positive(t, res.Faults[k], "fault %s injected", k)
	}
	assert.Greater(t, res.Report.Stats.ValuesAcked, 100, "the workload did work")
	assert.Positive(t, res.Report.Stats.FinalPolls)
}

// TestChaos is make chaos: FAULTBED_DURATION (e.g. 10m) and FAULTBED_SEED
// (default: the time); skipped when FAULTBED_DURATION is unset.
func TestChaos(t *testing.T) {
	d := os.Getenv("FAULTBED_DURATION")
	if d == "" {
		t.Skip("set FAULTBED_DURATION (make chaos DURATION=10m SEED=7)")
	}
	dur, err := time.ParseDuration(d)
	require.NoError(t, err, "FAULTBED_DURATION")
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("FAULTBED_SEED"); s != "" {
		seed, err = strconv.ParseUint(s, 10, 64)
		require.NoError(t, err, "FAULTBED_SEED")
	}
	opts := faultbed.Options{Duration: dur, Seed: seed, CoverAll: true, Subscribers: 1, Dir: keepDir(t, seed)}
	res := faultbed.Run(t, ens, opts)
	mustBeClean(t, res, opts)
}

// keepDir is where a run's history, nemesis log and report go: under
// FAULTBED_OUT if set, else a temporary directory that is kept only when
// the test fails.
func keepDir(t *testing.T, seed uint64) string {
	base := os.Getenv("FAULTBED_OUT")
	if base == "" {
		dir, err := os.MkdirTemp("", "strom-faultbed-")
		require.NoError(t, err)
		t.Cleanup(func() {
			if !t.Failed() {
				_ = os.RemoveAll(dir)
			}
		})
		return dir
	}
	dir := filepath.Join(base, time.Now().UTC().Format("20060102-150405")+"-seed-"+strconv.FormatUint(seed, 10))
	t.Logf("run directory: %s", dir)
	return dir
}
