// Package benchmarks holds Strom's tracked benchmarks: the engine's append
// and read paths, the Produce/Fetch codecs, and the broker end to end driven
// by franz-go, each against a baseline measured in the same run (raw file
// write, raw sendfile, raw loopback TCP copy, and franz-go's in-memory kfake
// broker under the same client and records). Every comparison is reported as
// a ratio metric ("x_raw", "x_kfake") so results from noisy, shared machines
// stay comparable; cmd/benchcheck enforces them against targets.txt and
// cmd/benchplot draws a results file.
//
// The benchmarks live in _test.go files; run them with `make bench`.
package benchmarks
