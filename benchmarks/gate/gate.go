// Package gate decides whether a benchmark run passes: every gated metric
// (a ratio against a baseline measured in the same run; higher is better)
// must be at or above its floor and must not have fallen more than its
// tolerance below the last tracked result. The target is carried
// alongside and reported, but a miss above the floor does not fail.
//
// Targets file format, one gated metric per line, '#' starts a comment:
//
//	<benchmark name> <metric> <target> <floor> [tolerance]   # source of the numbers
//
// for example
//
//	EngineAppend/record=100B/batch=1MiB  x_raw  0.85  0.5  # target 0.85 (issue); floor 0.5 (...)
//
// Invariant of a parsed Target: 0 <= Floor and 0 <= Tolerance < 1.
package gate

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/strom-broker/strom/benchmarks/benchfile"
)

// ErrTargets reports a malformed targets file.
var ErrTargets = errors.New("gate: bad targets file")

// Target is one gated metric.
type Target struct {
	// Bench and Metric name the value (benchfile names, e.g. "Latency",
	// "x_kfake_p99").
	Bench, Metric string
	// Goal is the target; Floor is what CI enforces.
	Goal, Floor float64
	// Tolerance is the allowed fall below the tracked value (0.3 = 30%);
	// 0 means the checker's default.
	Tolerance float64
	// Note is the line's comment: where the numbers come from.
	Note string
}

// ParseTargets reads a targets file.
func ParseTargets(r io.Reader) ([]Target, error) {
	var out []Target
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		text, note, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(text)
		if len(f) == 0 {
			continue
		}
		if len(f) != 4 && len(f) != 5 {
			return nil, fmt.Errorf("%w: line %d: want <bench> <metric> <target> <floor> [tolerance], got %d fields", ErrTargets, line, len(f))
		}
		t := Target{Bench: f[0], Metric: f[1], Note: strings.TrimSpace(note)}
		nums := []*float64{&t.Goal, &t.Floor, &t.Tolerance}
		for i, s := range f[2:] {
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return nil, fmt.Errorf("%w: line %d: %q: %v", ErrTargets, line, s, err)
			}
			*nums[i] = v
		}
		if t.Floor < 0 || t.Tolerance < 0 || t.Tolerance >= 1 {
			return nil, fmt.Errorf("%w: line %d: floor must be >= 0 and tolerance in [0, 1)", ErrTargets, line)
		}
		out = append(out, t)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no targets", ErrTargets)
	}
	return out, nil
}

// ParseTargetsFile reads the targets file at path.
func ParseTargetsFile(path string) ([]Target, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	t, err := ParseTargets(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// Latest returns the newest tracked results file in dir: the greatest
// *.txt name (names start with the UTC date and time), or "" if there is none.
func Latest(dir string) (string, error) {
	m, err := filepath.Glob(filepath.Join(dir, "*.txt"))
	if err != nil {
		return "", err
	}
	if len(m) == 0 {
		return "", nil
	}
	return slices.Max(m), nil
}

// Status is the outcome for one metric.
type Status int

// Outcomes, worst last.
const (
	// Met: at or above the target, no regression.
	Met Status = iota
	// BelowTarget: above the floor but below the target.
	BelowTarget
	// Regressed: fell more than the tolerance below the tracked value.
	Regressed
	// BelowFloor: below the enforced floor.
	BelowFloor
	// Missing: the run has no value for the metric.
	Missing
)

func (s Status) String() string {
	return [...]string{"ok", "MISSES TARGET", "FAIL: REGRESSED", "FAIL: BELOW FLOOR", "FAIL: MISSING"}[s]
}

// Failing reports whether the status fails the gate.
func (s Status) Failing() bool { return s >= Regressed }

// Line is the verdict for one target.
type Line struct {
	Target
	// Value is the run's median; Tracked the tracked file's (HasTracked).
	Value, Tracked float64
	HasTracked     bool
	// Tolerance is the tolerance applied.
	Tolerance float64
	Status    Status
}

// Report is the verdict for a run.
type Report struct{ Lines []Line }

// Check judges cur against targets and, if ref is not nil, against ref
// with tolerance as the default allowed fall.
func Check(targets []Target, cur, ref *benchfile.File, tolerance float64) Report {
	var rep Report
	for _, t := range targets {
		l := Line{Target: t, Tolerance: tolerance}
		if t.Tolerance > 0 {
			l.Tolerance = t.Tolerance
		}
		v, ok := cur.Median(t.Bench, t.Metric)
		l.Value = v
		if ref != nil {
			l.Tracked, l.HasTracked = ref.Median(t.Bench, t.Metric)
		}
		switch {
		case !ok:
			l.Status = Missing
		case v < t.Floor:
			l.Status = BelowFloor
		case l.HasTracked && v < l.Tracked*(1-l.Tolerance):
			l.Status = Regressed
		case v < t.Goal:
			l.Status = BelowTarget
		}
		rep.Lines = append(rep.Lines, l)
	}
	return rep
}

// Failed reports whether any line fails the gate.
func (r Report) Failed() bool {
	return slices.ContainsFunc(r.Lines, func(l Line) bool { return l.Status.Failing() })
}

// Print writes the table: every metric next to its target, floor and
// tracked value, then a summary; misses are flagged with "<<<".
func (r Report) Print(w io.Writer, refName string) {
	if refName == "" {
		refName = "(none)"
	}
	fmt.Fprintf(w, "benchmark gate; tracked reference: %s\n", refName)
	fmt.Fprintf(w, "%-46s %-12s %8s %8s %8s %8s  %s\n", "benchmark", "metric", "value", "target", "floor", "tracked", "status")
	fails, misses := 0, 0
	for _, l := range r.Lines {
		tracked := "-"
		if l.HasTracked {
			tracked = fmt.Sprintf("%.3g", l.Tracked)
		}
		flag := ""
		switch {
		case l.Status.Failing():
			fails++
			flag = "  <<<"
		case l.Status == BelowTarget:
			misses++
			flag = "  <<<"
		}
		fmt.Fprintf(w, "%-46s %-12s %8.3g %8.3g %8.3g %8s  %s%s\n", l.Bench, l.Metric, l.Value, l.Goal, l.Floor, tracked, l.Status, flag)
	}
	fmt.Fprintf(w, "%d metrics: %d meet the issue's target, %d miss it (not enforced), %d fail the gate\n",
		len(r.Lines), len(r.Lines)-misses-fails, misses, fails)
	if fails > 0 {
		fmt.Fprintln(w, "FAIL: benchmark gate")
	} else {
		fmt.Fprintln(w, "PASS: benchmark gate (floors and regression tolerance)")
	}
}
