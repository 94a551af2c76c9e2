package zkstore

import (
	"context"
	"fmt"

	"github.com/strom-broker/strom/coord/znode"
)

// GenerateBrokerID returns a new broker id, as Kafka's broker.id
// generation does (KafkaZkClient.generateBrokerSequenceId): it writes
// /brokers/seqid unconditionally, and the znode's new version plus
// reservedMax (reserved.broker.max.id, default 1000) is the id, so ids
// start at reservedMax+1 and never repeat within a cluster.
func (s *Store) GenerateBrokerID(ctx context.Context, reservedMax int32) (int32, error) {
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	st, err := s.zk.Set(s.abs(znode.BrokerSeqIDPath), nil, -1)
	if err != nil {
		return 0, s.wrap("set", znode.BrokerSeqIDPath, err)
	}
	id := int64(st.Version) + int64(reservedMax)
	if id > 1<<31-1 {
		return 0, fmt.Errorf("zkstore: generated broker id %d overflows", id)
	}
	return int32(id), nil
}
