package broker

import (
	"context"
	"log/slog"
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
//
// Invariant: an id handed out is above every producer id this broker has
// seen, in the producer state of its logs (seen) or handed out itself in
// this process. A block from the store that does not start above them is
// skipped and the next one reserved: ZooKeeper hands a block out twice
// when it loses an acknowledged write of /latest_producer_id_block (Debian's
// ZooKeeper 3.8.0 does under fast rolling restarts: tools/faultbed
// README, F2 and F3), and a new producer given a live producer's id has its
// first batches answered as that producer's duplicates, never stored.
// The guard covers ids that reached this broker's logs (every partition it
// replicates); Kafka trusts the store here.
type producerIDs struct {
	store    store.Store
	brokerID int32
	// seen returns the highest producer id in this broker's logs (-1: none).
	seen func() int64
	log  *slog.Logger

	mu    sync.Mutex
	next  int64
	block store.ProducerIDBlock // next > block.End: none left
}

func (p *producerIDs) nextID(ctx context.Context) (int64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.block.End == 0 || p.next > p.block.End {
		floor := p.next - 1 // the last id handed out (-1 before the first block)
		if p.seen != nil {
			floor = max(floor, p.seen())
		}
		for {
			blk, err := p.store.AllocateProducerIDBlock(ctx, p.brokerID, producerIDBlockSize)
			if err != nil {
				return -1, err
			}
			if blk.Start > floor {
				p.block, p.next = blk, blk.Start
				break
			}
			p.log.Warn("producer id block from the metadata store holds ids already in use: the store lost a write of "+
				"/latest_producer_id_block; reserving the next block", "block_start", blk.Start, "block_end", blk.End,
				"highest_id_seen", floor)
		}
	}
	id := p.next
	p.next++
	return id, nil
}

// highestProducerIDSeen is the highest producer id in the producer state
// of any of this broker's logs, -1 if none.
func (b *Broker) highestProducerIDSeen() int64 {
	high := int64(-1)
	for _, tp := range b.logs.Partitions() {
		if l, ok := b.logs.Get(tp.Topic, tp.Partition); ok {
			if es := l.ProducerState().Entries(); len(es) > 0 {
				high = max(high, es[len(es)-1].ProducerID) // sorted by id
			}
		}
	}
	return high
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
