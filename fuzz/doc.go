// Package fuzz will hold fuzz targets and seed corpora for every decoder
// that reads bytes from outside.
package fuzz
