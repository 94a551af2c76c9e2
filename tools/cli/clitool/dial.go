package clitool

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// WarnAfter is how long Dial waits for a first answer before it warns that
// the broker may not be available.
const WarnAfter = time.Second

// DefaultBlock is the default bound on reaching a broker: Kafka's
// max.block.ms (producers) and default.api.timeout.ms (consumers, admin).
const DefaultBlock = 60 * time.Second

// DialConfig says how Dial reaches the cluster.
type DialConfig struct {
	// Bootstrap is the --bootstrap-server list.
	Bootstrap string
	// Opts are the client's options.
	Opts []kgo.Opt
	// Topics are looked up once connected (none: any metadata answer will
	// do); AutoCreate asks the broker to create missing ones, as Kafka's
	// producer does.
	Topics     []string
	AutoCreate bool
	// Block bounds the wait for a first answer (DefaultBlock if 0);
	// BlockName is the setting that sets it, named in the error
	// ("max.block.ms").
	Block     time.Duration
	BlockName string
	// Warn receives one "WARN: ..." line when nothing answered within
	// WarnAfter.
	Warn io.Writer
}

// Dial connects a client and waits until a broker answers a Metadata
// request (for Topics, with auto-creation if asked). After WarnAfter
// without an answer it prints one warning; after Block it closes the
// client and fails, naming the last connection error. An interrupted ctx
// fails at once.
func Dial(ctx context.Context, dc DialConfig) (*kgo.Client, error) {
	seeds, err := Seeds(dc.Bootstrap)
	if err != nil {
		return nil, err
	}
	block := dc.Block
	if block <= 0 {
		block = DefaultBlock
	}
	if dc.BlockName == "" {
		dc.BlockName = "default.api.timeout.ms"
	}
	hook := &dialHook{}
	opts := append([]kgo.Opt{kgo.SeedBrokers(seeds...), kgo.WithHooks(hook)}, dc.Opts...)
	if dc.AutoCreate {
		opts = append(opts, kgo.AllowAutoTopicCreation())
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	probeCtx, cancel := context.WithTimeout(ctx, block)
	defer cancel()
	answered := make(chan struct{})
	warned := make(chan struct{})
	go func() {
		defer close(warned)
		select {
		case <-answered:
			return
		case <-probeCtx.Done(): // the bound or an interrupt came first
		case <-time.After(WarnAfter):
		}
		// Never fail without having warned, however late the timer fired;
		// a broker that accepts connections but does not answer is warned
		// about too.
		if !hook.answered.Load() {
			fmt.Fprintf(dc.Warn, "WARN: no answer yet from %s%s; the broker may not be available (giving up after %d ms, %s)\n",
				dc.Bootstrap, hook.cause(), block.Milliseconds(), dc.BlockName)
		}
	}()
	ok, err := probe(probeCtx, cl, dc.Topics, dc.AutoCreate, &hook.answered)
	close(answered)
	<-warned
	if err == nil {
		return cl, nil
	}
	cl.Close()
	switch {
	case ctx.Err() != nil && !ok:
		return nil, fmt.Errorf("interrupted before a broker at %s answered%s", dc.Bootstrap, hook.cause())
	case ctx.Err() != nil:
		return nil, fmt.Errorf("interrupted while waiting for topics %v: %w", dc.Topics, err)
	case probeCtx.Err() != nil && !ok:
		return nil, fmt.Errorf("no broker at %s answered within %d ms (%s)%s", dc.Bootstrap, block.Milliseconds(), dc.BlockName, hook.cause())
	case probeCtx.Err() != nil:
		return nil, fmt.Errorf("topics %v not present in metadata after %d ms (%s): %w", dc.Topics, block.Milliseconds(), dc.BlockName, err)
	}
	return nil, err
}

// probe sends Metadata requests until one is answered or ctx ends. A topic
// that does not exist is an error at once without autoCreate; with it, and
// for a topic still without a leader, the request is retried. It reports
// whether any broker answered; when ctx ends after an answer the error is
// the last topic error.
func probe(ctx context.Context, cl *kgo.Client, topics []string, autoCreate bool, answeredFlag *atomic.Bool) (answered bool, err error) {
	req := kmsg.NewPtrMetadataRequest()
	req.AllowAutoTopicCreation = autoCreate
	req.Topics = []kmsg.MetadataRequestTopic{} // no topics (nil would mean all)
	for _, t := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(t)
		req.Topics = append(req.Topics, rt)
	}
	var last error
	seeds := cl.SeedBrokers()
	for attempt := 0; ; attempt++ {
		// One seed broker at a time, unretried, so a topic error in the
		// answer is seen here rather than retried inside the client.
		raw, err := seeds[attempt%len(seeds)].Request(ctx, req)
		if err == nil {
			answered = true
			answeredFlag.Store(true)
			if err = topicErrors(raw.(*kmsg.MetadataResponse)); err == nil {
				return true, nil
			}
			unknown := errors.Is(err, kerr.UnknownTopicOrPartition)
			if unknown && !autoCreate || !unknown && !kerr.IsRetriable(err) {
				return true, err
			}
			last = err
		}
		select {
		case <-ctx.Done():
			if last != nil {
				return answered, last
			}
			return answered, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// topicErrors returns the first topic error of a Metadata response.
func topicErrors(resp *kmsg.MetadataResponse) error {
	for _, t := range resp.Topics {
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			name := ""
			if t.Topic != nil {
				name = *t.Topic
			}
			return fmt.Errorf("topic %s: %w", name, err)
		}
	}
	return nil
}

// dialHook remembers the last failed connection attempt; answered is set
// once a broker answered the probe.
type dialHook struct {
	mu       sync.Mutex
	last     error
	answered atomic.Bool
}

// OnBrokerConnect implements kgo.HookBrokerConnect.
func (h *dialHook) OnBrokerConnect(_ kgo.BrokerMetadata, _ time.Duration, _ net.Conn, err error) {
	if err != nil {
		h.mu.Lock()
		h.last = err
		h.mu.Unlock()
	}
}

// cause is ": <last connection error>" or "" when there was none.
func (h *dialHook) cause() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.last == nil {
		return ""
	}
	return ": " + h.last.Error()
}

var _ kgo.HookBrokerConnect = (*dialHook)(nil)

// BlockFrom reads a millisecond bound such as max.block.ms from props
// (DefaultBlock when absent); it is an error when it is not a positive
// number.
func BlockFrom(props map[string]string, key string) (time.Duration, error) {
	v, ok := props[key]
	if !ok {
		return DefaultBlock, nil
	}
	n, ok := intAtLeast(v, 64, 1)
	if !ok {
		return 0, Usagef("property %s=%q: want milliseconds >= 1", key, v)
	}
	return time.Duration(n) * time.Millisecond, nil
}
