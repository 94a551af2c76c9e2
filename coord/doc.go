// Package coord is Strom's cluster coordination module. Its subpackages:
//
//   - store: the metadata Store interface (Kafka's ZooKeeper layout), its
//     types, typed errors and change notifications; store/storetest is the
//     contract suite every implementation runs.
//   - znode: Kafka's znode paths and their JSON encodings.
//   - embedded: the in-process Store for single-broker mode, persisted to
//     one file in the data directory.
//   - zkstore: the ZooKeeper Store, on Kafka's znode layout and JSON.
//   - zktest: a real ZooKeeper ensemble (Debian's package, run with java)
//     for tests, with node kills, pauses and a cutting proxy.
//   - controller: Kafka's controller logic over any Store (topic creation,
//     replica assignment, partition state, leader election).
//   - group: the classic consumer group coordinator, with offsets and group
//     metadata in __consumer_offsets.
package coord
