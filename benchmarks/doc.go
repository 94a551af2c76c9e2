// Package benchmarks will hold Strom's tracked end-to-end and module
// benchmarks and the checker CI runs.
package benchmarks
