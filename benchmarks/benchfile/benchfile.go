// Package benchfile reads results files in the Go benchmark format that
// `go test -bench` prints and benchstat reads: "key: value" configuration
// lines, then one line per benchmark run,
//
//	BenchmarkName/sub=x-2   <iterations>   <value> <unit>   <value> <unit> ...
//
// Other lines (PASS, ok, test logs) are skipped. Names are kept without the
// "Benchmark" prefix and the "-<GOMAXPROCS>" suffix, so "BenchmarkProduce/
// acks=1-2" is "Produce/acks=1". A benchmark run several times (-count)
// appears once per run; Values returns every run's value and Median
// condenses them.
package benchfile

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
)

// Run is one benchmark result line.
type Run struct {
	// Name is the benchmark name without "Benchmark" and "-<procs>".
	Name string
	// Iterations is b.N.
	Iterations int64
	// Metrics maps each unit ("ns/op", "MB/s", "x_kfake", ...) to its value.
	Metrics map[string]float64
}

// File is a parsed results file.
type File struct {
	// Config holds the "key: value" lines (goos, cpu, commit, ...), the
	// last value of each key.
	Config map[string]string
	// Runs are the benchmark lines in file order.
	Runs []Run
}

// Parse reads a results file.
func Parse(r io.Reader) (*File, error) {
	f := &File{Config: map[string]string{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if strings.HasPrefix(text, "Benchmark") {
			run, err := parseRun(text)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", line, err)
			}
			if run != nil {
				f.Runs = append(f.Runs, *run)
			}
			continue
		}
		if k, v, ok := strings.Cut(text, ": "); ok && k != "" && !strings.ContainsAny(k, " \t") {
			f.Config[k] = strings.TrimSpace(v)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return f, nil
}

// ParseFile reads the results file at path.
func ParseFile(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	f, err := Parse(fh)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// parseRun parses one "Benchmark..." line; it returns nil for a line that
// names a benchmark but carries no result (a parent of sub-benchmarks, or
// a log line).
func parseRun(text string) (*Run, error) {
	fields := strings.Fields(text)
	if len(fields) < 4 || len(fields)%2 != 0 {
		return nil, nil
	}
	iters, err := strconv.ParseInt(fields[1], 10, 64)
	if err != nil {
		return nil, nil
	}
	name := strings.TrimPrefix(fields[0], "Benchmark")
	if i := strings.LastIndexByte(name, '-'); i > 0 {
		if _, err := strconv.Atoi(name[i+1:]); err == nil {
			name = name[:i]
		}
	}
	run := &Run{Name: name, Iterations: iters, Metrics: map[string]float64{}}
	for i := 2; i < len(fields); i += 2 {
		v, err := strconv.ParseFloat(fields[i], 64)
		if err != nil {
			return nil, fmt.Errorf("benchmark %s: value %q: %w", name, fields[i], err)
		}
		run.Metrics[fields[i+1]] = v
	}
	return run, nil
}

// Values returns the value of unit in every run of the benchmark name, in
// file order.
func (f *File) Values(name, unit string) []float64 {
	var out []float64
	for _, r := range f.Runs {
		if v, ok := r.Metrics[unit]; ok && r.Name == name {
			out = append(out, v)
		}
	}
	return out
}

// Median returns the median of unit over the runs of name, and false if
// there is none.
func (f *File) Median(name, unit string) (float64, bool) {
	v := f.Values(name, unit)
	if len(v) == 0 {
		return 0, false
	}
	return Median(v), true
}

// Median returns the median of v (the mean of the middle two for an even
// count). v must not be empty; it is not modified.
func Median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}
