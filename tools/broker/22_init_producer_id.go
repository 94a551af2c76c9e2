package broker

import (
	"context"
	"sync"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/coord/store"
	"github.com/strom-broker/strom/net/kerr"
)

// producerIDBlockSize is how many producer ids a broker reserves at once
// (Kafka's /latest_producer_id_block block size).
const producerIDBlockSize = 1000

// producerIDs hands out producer ids from blocks reserved in the metadata
// store, so ids stay unique across restarts and brokers.
type producerIDs struct {
	store    store.Store
	brokerID int32

	mu    sync.Mutex
	next  int64
	block store.ProducerIDBlock // next > block.End: none left
}

func (p *producerIDs) nextID(ctx context.Context) (int64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.block.End == 0 || p.next > p.block.End {
		blk, err := p.store.AllocateProducerIDBlock(ctx, p.brokerID, producerIDBlockSize)
		if err != nil {
			return -1, err
		}
		p.block, p.next = blk, blk.Start
	}
	id := p.next
	p.next++
	return id, nil
}

// InitProducerId (key 22): a new producer id with epoch 0 for idempotent
// producers. Transactions are not supported yet: a transactional id is
// answered with UNSUPPORTED_VERSION, which every client treats as final
// (COORDINATOR_NOT_AVAILABLE would make them retry forever).
func (b *Broker) handleInitProducerID(ctx context.Context, req *kmsg.InitProducerIDRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	if req.TransactionalID != nil && *req.TransactionalID != "" {
		// Transactions are not built yet. UNSUPPORTED_VERSION is terminal
		// for every client (none retries it) and reads as "this broker
		// cannot do that".
		resp.ErrorCode = kerr.UnsupportedVersion.Code
		return resp
	}
	id, err := b.pids.nextID(ctx)
	if err != nil {
		resp.ErrorCode = errorCode(err)
		return resp
	}
	resp.ProducerID, resp.ProducerEpoch = id, 0
	return resp
}
