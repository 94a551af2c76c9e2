// Command benchcheck is the benchmark gate CI runs (make bench-check). It
// reads a results file of the current run, the targets file and the last
// tracked results file, prints every gated metric next to its target,
// floor and tracked value, and exits 1 when a metric is below its floor or
// fell more than its tolerance below the tracked value. Missing the
// issue's target while above the floor is reported loudly but does not
// fail: the floor is what the current code reaches with margin on a
// loaded machine, the target is the goal.
//
//	benchcheck -targets targets.txt -tracked results/ current.txt
//
// Every gated metric is a ratio against a baseline measured in the same
// run (higher is better); there are no wall-clock constants.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/strom-broker/strom/benchmarks/benchfile"
	"github.com/strom-broker/strom/benchmarks/gate"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("benchcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	targetsPath := fs.String("targets", "targets.txt", "targets file")
	tracked := fs.String("tracked", "results", "directory of tracked results files; the newest by name is the reference (empty: no regression check)")
	tolerance := fs.Float64("tolerance", 0.30, "default allowed fall below the tracked value (0.30 = 30%)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: benchcheck [-targets f] [-tracked dir] [-tolerance x] current.txt")
		return 2
	}
	targets, err := gate.ParseTargetsFile(*targetsPath)
	if err != nil {
		fmt.Fprintln(stderr, "benchcheck:", err)
		return 2
	}
	cur, err := benchfile.ParseFile(fs.Arg(0))
	if err != nil {
		fmt.Fprintln(stderr, "benchcheck:", err)
		return 2
	}
	var ref *benchfile.File
	refName := ""
	if *tracked != "" {
		refName, err = gate.Latest(*tracked)
		if err != nil {
			fmt.Fprintln(stderr, "benchcheck:", err)
			return 2
		}
		if refName != "" {
			if ref, err = benchfile.ParseFile(refName); err != nil {
				fmt.Fprintln(stderr, "benchcheck:", err)
				return 2
			}
		}
	}
	rep := gate.Check(targets, cur, ref, *tolerance)
	rep.Print(stdout, refName)
	if rep.Failed() {
		return 1
	}
	return 0
}
