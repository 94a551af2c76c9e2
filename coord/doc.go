// Package coord will own cluster metadata behind one Store interface (an
// embedded implementation for single-broker mode and a ZooKeeper one for
// clusters), controller election, partition state, and the consumer group
// coordinator with offsets kept in __consumer_offsets.
package coord
