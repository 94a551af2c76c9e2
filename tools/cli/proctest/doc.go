// Package proctest holds the operator-level tests of the strom tools: each
// test builds nothing itself but runs the strom binary (built once in
// TestMain) as a process, as an operator would, against a real Strom
// broker started in the test, and checks stdout, stderr and the exit code.
// The package has no non-test code.
package proctest
