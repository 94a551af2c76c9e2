package replication

// plants are bugs planted on purpose in test builds of the broker, so that
// the fault bed (tools/faultbed) can show it catches them: each is false in
// a normal build and set by a file compiled only with its build tag.
//
//   - ackEarly (-tags strom_plant_ackearly): acks=all is answered as soon
//     as the leader has appended the batch, before the ISR has it
//     (WaitCommitted returns at once).
//   - hwTruncate (-tags strom_plant_hwtruncate): a replica made follower
//     (MakeFollower, every new leader epoch) truncates at once to its high
//     watermark, as Kafka's makeFollowers did before KIP-101, instead of
//     to the end of its epoch on the leader (the data-loss bug KIP-101
//     fixed).
//
// Never build a release with either tag.
var plants struct {
	ackEarly, hwTruncate bool
}
