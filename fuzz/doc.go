// Package fuzz holds Strom's fuzz targets (one FuzzX per decoder of bytes
// that come from outside: network frames and requests, record batches,
// segment and index files, checkpoints, producer snapshots,
// __consumer_offsets records, znodes and server.properties), their seed
// corpora in testdata/fuzz, and tests that attack a running broker with
// hostile clients. See README.md.
package fuzz

//go:generate go run ./internal/gencorpus -root testdata/fuzz -properties ../config/server.properties
