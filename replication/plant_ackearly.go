//go:build strom_plant_ackearly

package replication

// A planted bug: see plants.
func init() { plants.ackEarly = true }
