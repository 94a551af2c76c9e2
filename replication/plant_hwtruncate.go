//go:build strom_plant_hwtruncate

package replication

// A planted bug: see plants.
func init() { plants.hwTruncate = true }
