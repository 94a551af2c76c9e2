package sim

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The seeded runs: each is Run with one seed (3 s of random faults, 2 s of
// healing, virtual time), invariants checked after every event. SIM_SEEDS
// sets the number of seeds per configuration (make sim-soak raises it);
// SIM_TRACE=<seed> prints one run's protocol trace (TestTraceSeed).

const (
	faultTime = 3 * time.Second
	healTime  = 2 * time.Second
)

// seedBudget is SIM_SEEDS, else def (a tenth of it with -short).
func seedBudget(t *testing.T, def int) int {
	t.Helper()
	if s := os.Getenv("SIM_SEEDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			t.Fatalf("SIM_SEEDS=%q: want a positive number", s)
		}
		return n
	}
	if testing.Short() {
		return max(1, def/10)
	}
	return def
}

// configs are the clusters the seeded runs cover.
func configs() map[string]Config {
	base := DefaultConfig()
	fourBrokers := DefaultConfig()
	fourBrokers.Brokers = 4 // the controller may sit on a broker without a replica
	minISR1 := DefaultConfig()
	minISR1.MinISR = 1
	lossy := DefaultConfig()
	lossy.Loss, lossy.MaxDelay = 0.15, 40*time.Millisecond
	unclean := DefaultConfig()
	unclean.Unclean = true
	return map[string]Config{"rf3-minisr2": base, "4-brokers": fourBrokers, "minisr1": minISR1, "lossy": lossy, "unclean": unclean}
}

func TestSeededRuns(t *testing.T) {
	n := seedBudget(t, 300)
	total, start := 0, time.Now()
	for _, name := range sortedKeys(configs()) {
		cfg := configs()[name]
		t.Run(name, func(t *testing.T) {
			events := 0
			for seed := uint64(1); seed <= uint64(n); seed++ {
				w, err := Run(cfg, seed, faultTime, healTime)
				if err != nil {
					t.Fatalf("seed %d (replay: SIM_TRACE=%d, config %s): %v\n%s", seed, seed, name, err, w.State())
				}
				events += w.Events()
			}
			total += n
			t.Logf("%d seeds, %d events", n, events)
		})
	}
	t.Logf("%d seeded runs in %v (%.0f runs/s)", total, time.Since(start).Round(time.Millisecond), float64(total)/time.Since(start).Seconds())
}

// firstViolation runs seeds 1..budget of cfg and returns the first seed
// whose run breaks an invariant, and the violation.
func firstViolation(cfg Config, budget int) (uint64, error) {
	for seed := uint64(1); seed <= uint64(budget); seed++ {
		if _, err := Run(cfg, seed, faultTime, healTime); err != nil {
			return seed, err
		}
	}
	return 0, nil
}

// TestBrokenVariantsAreCaught: each deliberately broken variant breaks a
// data invariant within the seed budget (the seeds are fixed, so this is
// not a matter of luck: the first catching seed is reported).
func TestBrokenVariantsAreCaught(t *testing.T) {
	data := []string{"acknowledged records survive", "replicas agree on the committed prefix"}
	for _, tc := range []struct {
		name   string
		broken Broken
	}{
		{"truncate-to-hw", Broken{TruncateToHW: true}},
		{"ack-before-isr", Broken{AckBeforeISR: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Broken = tc.broken
			seed, err := firstViolation(cfg, 500)
			if err == nil {
				t.Fatal("broke no invariant in 500 seeds")
			}
			v, ok := err.(*Violation)
			if !ok || !slices.Contains(data, v.Invariant) {
				t.Fatalf("seed %d: want one of %q, got %v", seed, data, err)
			}
			t.Logf("caught at seed %d: %s", seed, v.Invariant)
		})
	}
}

// TestDeterministic: a seed is a replayable bug report only if the same
// seed gives the same run.
func TestDeterministic(t *testing.T) {
	trace := func(seed uint64) string {
		var b strings.Builder
		cfg := DefaultConfig()
		cfg.Trace = func(l string) { b.WriteString(l + "\n") }
		w, err := Run(cfg, seed, faultTime, healTime)
		fmt.Fprintf(&b, "%v %d\n%s", err, w.Events(), w.State())
		return b.String()
	}
	for seed := uint64(1); seed <= 3; seed++ {
		a, b := trace(seed), trace(seed)
		if a != b {
			t.Fatalf("seed %d ran differently twice", seed)
		}
		if seed > 1 && a == trace(seed-1) {
			t.Fatalf("seeds %d and %d ran the same", seed-1, seed)
		}
	}
}

// TestTraceSeed prints the protocol trace of seed SIM_TRACE (config
// SIM_CONFIG, default rf3-minisr2): go test -run TestTraceSeed -v.
func TestTraceSeed(t *testing.T) {
	seed, _ := strconv.ParseUint(os.Getenv("SIM_TRACE"), 10, 64)
	if seed == 0 {
		t.Skip("set SIM_TRACE=<seed>")
	}
	name := os.Getenv("SIM_CONFIG")
	if name == "" {
		name = "rf3-minisr2"
	}
	cfg, ok := configs()[name]
	if !ok {
		t.Fatalf("SIM_CONFIG=%q: no such config", name)
	}
	cfg.Trace = func(l string) { t.Log(l) }
	w, err := Run(cfg, seed, faultTime, healTime)
	t.Logf("result: %v\n%s", err, w.State())
}

// TestSoak runs seeds of every configuration in turn until SIM_DURATION
// (a Go duration) has passed, from seed SIM_SEED_BASE (default 1000000,
// beyond make test's seeds): make sim-soak DURATION=10m.
func TestSoak(t *testing.T) {
	d, err := time.ParseDuration(os.Getenv("SIM_DURATION"))
	if err != nil {
		t.Skip("set SIM_DURATION")
	}
	base := uint64(1_000_000)
	if s := os.Getenv("SIM_SEED_BASE"); s != "" {
		if base, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("SIM_SEED_BASE=%q: %v", s, err)
		}
	}
	names, all := sortedKeys(configs()), configs()
	start, runs := time.Now(), 0
	for seed := base; time.Since(start) < d; seed++ {
		for _, name := range names {
			if w, err := Run(all[name], seed, faultTime, healTime); err != nil {
				t.Fatalf("seed %d (replay: SIM_TRACE=%d SIM_CONFIG=%s): %v\n%s", seed, seed, name, err, w.State())
			}
			runs++
		}
	}
	t.Logf("%d seeded runs (seeds %d-%d of %d configs) in %v: %.0f runs/s", runs, base, base+uint64(runs/len(names))-1,
		len(names), time.Since(start).Round(time.Second), float64(runs)/time.Since(start).Seconds())
}
