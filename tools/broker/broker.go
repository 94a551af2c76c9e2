// Package broker assembles a Strom broker: the engine's log manager, the
// replication layer's partitions, the coord metadata store and controller,
// and the net server, with one request handler per Kafka API (files named
// by API key, e.g. 00_produce.go).
//
// Life cycle: New opens the logs and the metadata store, registers the
// broker, elects the controller and opens every partition this broker
// hosts; Serve starts answering on the listeners; Shutdown stops accepting,
// lets in-flight requests finish, writes the high watermarks, flushes and
// closes the logs (writing the clean-shutdown marker) and closes the store.
//
// In embedded mode (no zookeeper.connect) the metadata store is a file in
// the first log dir and this broker is always the controller; the very same
// controller and partition code runs as in a cluster.
package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/strom-broker/strom/coord/controller"
	"github.com/strom-broker/strom/coord/embedded"
	"github.com/strom-broker/strom/coord/metacache"
	"github.com/strom-broker/strom/coord/store"
	"github.com/strom-broker/strom/engine/cleaner"
	"github.com/strom-broker/strom/engine/logmgr"
	"github.com/strom-broker/strom/engine/partlog"
	"github.com/strom-broker/strom/net/server"
	"github.com/strom-broker/strom/replication"
	"github.com/strom-broker/strom/tools/broker/fetchsession"
	"github.com/strom-broker/strom/tools/config"
)

// MetadataFile is the embedded store's file name inside the first log dir.
const MetadataFile = "strom-metadata.json"

// Broker is one running Strom broker.
type Broker struct {
	cfg    *config.Config
	log    *slog.Logger
	logs   *logmgr.Manager
	store  store.Store
	ctrl   *controller.Controller
	parts  *replicaManager
	groups *groups
	srv    *server.Server
	pids   *producerIDs
	// fetchers copy the partitions this broker follows from their
	// leaders; alterISR carries its leaders' ISR changes to the
	// controller.
	fetchers *replication.Fetchers
	// sessions are the incremental fetch sessions of clients and followers
	// fetching from this broker (KIP-227).
	sessions *fetchsession.Cache
	alterISR *isrSender
	// meta is this broker's view of the cluster as the controller pushes
	// it (UpdateMetadata); fence checks the epochs of every control
	// request (LeaderAndIsr, UpdateMetadata, StopReplica).
	meta   *metacache.Cache
	fence  *metacache.Fence
	now    func() time.Time
	ctx    context.Context // cancelled by Shutdown
	cancel context.CancelFunc
	// stopping is closed when Shutdown starts: long polls answer at once.
	stopping     chan struct{}
	stoppingOnce sync.Once
	bg           sync.WaitGroup

	// controlledOnce runs the controlled shutdown once, however many
	// Shutdown calls there are; closeOnce likewise the closing, whose
	// result is closeErr.
	controlledOnce sync.Once
	closeOnce      sync.Once
	closeErr       error

	clusterID string

	mu        sync.Mutex
	listeners []net.Listener
	endpoints []store.Endpoint // advertised, with bound ports filled in
}

// Option configures New.
type Option func(*Broker)

// WithLogger sets the broker's logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(b *Broker) { b.log = l } }

// New opens a broker's storage and metadata and binds its listeners; it
// does not serve yet (call Serve). cfg must be validated with defaults
// filled (config.Load does both).
func New(cfg *config.Config, opts ...Option) (b *Broker, err error) {
	own := *cfg // broker.id may be generated below
	cfg = &own
	b = &Broker{cfg: cfg, log: slog.Default(), now: time.Now, stopping: make(chan struct{}),
		meta: metacache.New(), fence: metacache.NewFence(-1)}
	for _, o := range opts {
		o(b)
	}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	opened := b // the error returns below set b to nil
	defer func() {
		if err != nil {
			opened.closeAll()
		}
	}()

	// With ZooKeeper the cluster decides the cluster id (and, for
	// broker.id=-1, the broker id) before the log dirs are checked
	// against them; embedded, the log dirs' meta.properties keep them.
	if !cfg.Embedded() {
		if err := b.joinZooKeeper(); err != nil {
			return nil, err
		}
	}
	lcfg := logmgr.DefaultConfig()
	lcfg.LogDirs = cfg.LogDirs
	lcfg.BrokerID = cfg.BrokerID
	lcfg.ClusterID = b.clusterID
	lcfg.FlushSchedulerIntervalMs = cfg.LogFlushSchedulerIntervalMs
	lcfg.RetentionCheckIntervalMs = cfg.LogRetentionCheckIntervalMs
	lcfg.FlushOffsetCheckpointIntervalMs = cfg.LogFlushOffsetCheckpointIntervalMs
	lcfg.CleanerBackoffMs = cfg.LogCleanerBackoffMs
	lcfg.Log = brokerLogConfig(cfg)
	logOpts := []logmgr.Option{logmgr.WithLogger(b.log), logmgr.WithDirOfflineHandler(b.dirOffline)}
	if cfg.LogCleanerEnable {
		logOpts = append(logOpts, logmgr.WithCleaner(cleaner.New(cleaner.WithLogger(b.log))))
	}
	if b.logs, err = logmgr.Open(lcfg, logOpts...); err != nil {
		if errors.Is(err, logmgr.ErrMetaMismatch) && !cfg.Embedded() {
			return nil, fmt.Errorf("broker: %w (cluster %q at zookeeper.connect=%s: is this broker joining the wrong cluster, or is zookeeper.connect wrong?)",
				err, b.clusterID, cfg.ZookeeperConnect)
		}
		return nil, fmt.Errorf("broker: %w", err)
	}

	if cfg.Embedded() {
		es, err := embedded.Open(filepath.Join(cfg.LogDirs[0], MetadataFile))
		if err != nil {
			return nil, fmt.Errorf("broker: metadata: %w", err)
		}
		b.store = es
		candidate := b.logs.ClusterID()
		if candidate == "" {
			u, err := store.NewUUID()
			if err != nil {
				return nil, err
			}
			candidate = u.String()
		}
		if b.clusterID, err = b.store.GetOrCreateClusterID(b.ctx, candidate); err != nil {
			return nil, fmt.Errorf("broker: cluster id: %w", err)
		}
	}
	b.pids = &producerIDs{store: b.store, brokerID: cfg.BrokerID, seen: b.highestProducerIDSeen, log: b.log}

	if err := b.listen(); err != nil {
		return nil, err
	}
	if err := b.register(); err != nil {
		return nil, err
	}

	if b.groups, err = newGroups(b); err != nil {
		return nil, fmt.Errorf("broker: %w", err)
	}
	hws, err := b.logs.ReadHighWatermarks()
	if err != nil {
		return nil, fmt.Errorf("broker: %w", err)
	}
	b.parts = newReplicaManager(b, hws)
	b.fetchers = newFetchers(b)
	b.sessions = fetchsession.New(fetchsession.Config{Slots: int(cfg.MaxIncrementalFetchSessionCacheSlots),
		EvictionAfter: time.Duration(cfg.MinIncrementalFetchSessionEvictionMs) * time.Millisecond})
	b.alterISR = newISRSender(b)

	// The controller pushes its decisions to every broker (this one in
	// process): electing it here installs this broker's partitions.
	b.ctrl, err = controller.New(b.store, cfg.BrokerID, controller.Options{
		DefaultPartitions:        cfg.NumPartitions,
		DefaultReplicationFactor: cfg.DefaultReplicationFactor,
		UncleanLeaderElection:    cfg.UncleanLeaderElectionEnable,
		ValidateTopicConfig: func(_ string, configs map[string]string) error {
			_, err := applyTopicConfig(brokerLogConfig(cfg), configs)
			return err
		},
		Logger: b.log,
		Sender: newControlSender(b),
	})
	if err != nil {
		return nil, fmt.Errorf("broker: %w", err)
	}
	if _, err := b.ctrl.Elect(b.ctx); err != nil {
		return nil, fmt.Errorf("broker: controller election: %w", err)
	}

	b.srv, err = server.New(server.Config{
		MaxRequestBytes:       cfg.SocketRequestMaxBytes,
		QueuedMaxRequestBytes: cfg.QueuedMaxRequestBytes,
		MaxConnections:        int(cfg.MaxConnections),
		ConnectionsMaxIdle:    time.Duration(cfg.ConnectionsMaxIdleMs) * time.Millisecond,
		SendBufferBytes:       int(cfg.SocketSendBufferBytes),
		ReceiveBufferBytes:    int(cfg.SocketReceiveBufferBytes),
		Logger:                b.log,
	}, b)
	if err != nil {
		return nil, fmt.Errorf("broker: %w", err)
	}
	return b, nil
}

// listen binds every listener; port 0 binds a free port, which is then
// advertised.
func (b *Broker) listen() error {
	adv := map[string]config.Listener{}
	for _, l := range b.cfg.AdvertisedListeners {
		adv[l.Name] = l
	}
	for _, l := range b.cfg.Listeners {
		ln, err := net.Listen("tcp", l.Addr())
		if err != nil {
			return fmt.Errorf("broker: listeners: %s: %w", l, err)
		}
		b.listeners = append(b.listeners, ln)
		port := ln.Addr().(*net.TCPAddr).Port
		host := l.Host
		if a, ok := adv[l.Name]; ok {
			host = a.Host
			if a.Port != 0 {
				port = a.Port
			}
		}
		host = advertisedHost(host)
		b.endpoints = append(b.endpoints, store.Endpoint{Listener: l.Name, SecurityProtocol: l.SecurityProtocol, Host: host, Port: int32(port)})
	}
	return nil
}

// advertisedHost is the host a listener advertises when none is given:
// the machine's host name for an empty host (Kafka's default), localhost
// for a wildcard address (which clients cannot dial).
func advertisedHost(host string) string {
	switch host {
	case "":
		if h, err := os.Hostname(); err == nil && h != "" {
			return h
		}
		return "localhost"
	case "0.0.0.0", "::":
		return "localhost"
	}
	return host
}

// Addr returns the first listener's bound address (host:port).
func (b *Broker) Addr() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.listeners) == 0 {
		return ""
	}
	return b.listeners[0].Addr().String()
}

// Stats returns the network server's counters.
func (b *Broker) Stats() server.Stats { return b.srv.Stats() }

// Serve answers requests on every listener and starts the background work;
// it returns when Shutdown is called (nil) or a listener fails.
func (b *Broker) Serve() error {
	// b.mu orders these Adds before Shutdown's cancel + Wait (a WaitGroup
	// must not be added to concurrently with Wait from zero).
	b.mu.Lock()
	if b.ctx.Err() != nil {
		b.mu.Unlock()
		return nil // already shut down
	}
	b.bg.Add(1)
	go func() {
		defer b.bg.Done()
		b.parts.watch(b.ctx)
	}()
	b.bg.Add(1)
	go func() {
		defer b.bg.Done()
		b.checkpointHighWatermarks(b.ctx)
	}()
	b.bg.Add(1)
	go func() {
		defer b.bg.Done()
		if err := b.ctrl.Run(b.ctx); err != nil && b.ctx.Err() == nil {
			b.log.Error("controller loop stopped", "err", err)
		}
	}()
	if !b.cfg.Embedded() {
		b.bg.Add(1)
		go func() {
			defer b.bg.Done()
			b.reregisterOnExpiry(b.ctx)
		}()
		if b.cfg.AutoLeaderRebalanceEnable {
			b.bg.Add(1)
			go func() {
				defer b.bg.Done()
				b.rebalanceLeaders(b.ctx)
			}()
		}
	}
	b.bg.Add(1)
	go func() {
		defer b.bg.Done()
		b.groups.run(b.ctx)
	}()
	b.bg.Add(2)
	go func() {
		defer b.bg.Done()
		b.alterISR.run(b.ctx)
	}()
	go func() {
		defer b.bg.Done()
		b.shrinkISRs(b.ctx)
	}()
	b.mu.Unlock()
	errs := make(chan error, len(b.listeners))
	for i, ln := range b.listeners {
		go func() { errs <- b.srv.ServeNamed(b.cfg.Listeners[i].Name, ln) }()
	}
	var first error
	for range b.listeners {
		if err := <-errs; err != nil && !errors.Is(err, server.ErrServerClosed) && first == nil {
			first = err
		}
	}
	return first
}

// checkpointHighWatermarks writes replication-offset-checkpoint every
// replica.high.watermark.checkpoint.interval.ms until ctx ends.
func (b *Broker) checkpointHighWatermarks(ctx context.Context) {
	t := time.NewTicker(time.Duration(max(b.cfg.ReplicaHighWatermarkCheckpointIntervalMs, 100)) * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := b.logs.WriteHighWatermarks(b.parts.highWatermarks()); err != nil {
				b.log.Warn("writing high watermarks", "err", err)
			}
		}
	}
}

// Shutdown moves this broker's leaderships away first (a controlled
// shutdown, in a cluster; controlledshutdown.go), then stops accepting,
// finishes in-flight requests (until ctx ends), flushes and closes
// everything, writing the clean-shutdown marker.
func (b *Broker) Shutdown(ctx context.Context) error {
	b.controlledOnce.Do(func() { b.controlledShutdown(ctx) })
	b.stoppingOnce.Do(func() { close(b.stopping) })
	var errs []error
	if b.srv != nil {
		if err := b.srv.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	b.mu.Lock() // see Serve
	b.cancel()
	b.mu.Unlock()
	b.bg.Wait()
	errs = append(errs, b.closeAll())
	return errors.Join(errs...)
}

// dirOffline is the log manager's report of a log dir taken offline by an
// I/O error: its partitions answer KAFKA_STORAGE_ERROR while the other
// dirs keep serving; with none left online the broker stops, as Kafka's
// does.
func (b *Broker) dirOffline(dir string, err error, online int) {
	if online > 0 {
		return // logged by the log manager
	}
	b.log.Error("every log dir is offline; the broker stops", "lastDir", dir, "err", err)
	go b.Shutdown(context.Background())
}

// closeAll closes the storage and the store (used by Shutdown and a failed
// New), once: a second Shutdown running at the same time (every log dir
// went offline while a signal stops the broker) waits for the first and
// gets its result.
func (b *Broker) closeAll() error {
	b.closeOnce.Do(func() { b.closeErr = b.closeResources() })
	return b.closeErr
}

// closeResources is closeAll's work.
func (b *Broker) closeResources() error {
	var errs []error
	b.cancel()
	if b.groups != nil {
		b.groups.coord.Close()
	}
	for _, ln := range b.listeners {
		ln.Close()
	}
	if b.fetchers != nil {
		b.fetchers.Close() // before the logs close: no append after
	}
	if b.logs != nil {
		if b.parts != nil {
			if err := b.logs.WriteHighWatermarks(b.parts.highWatermarks()); err != nil {
				errs = append(errs, err)
			}
		}
		if err := b.logs.Close(); errors.Is(err, partlog.ErrStorage) {
			// A log dir an I/O error took offline is not marked clean;
			// its logs recover at the next start. Not a shutdown failure.
			b.log.Warn("log dirs offline at shutdown", "dirs", b.logs.OfflineDirs(), "err", err)
		} else if err != nil {
			errs = append(errs, err)
		}
		b.logs = nil
	}
	if b.store != nil {
		if err := b.store.Close(); err != nil {
			errs = append(errs, err)
		}
		b.store = nil
	}
	return errors.Join(errs...)
}

// Run starts a broker from cfg, serves until ctx is cancelled, then shuts
// down gracefully. It is what `strom server` calls.
func Run(ctx context.Context, cfg *config.Config, opts ...Option) error {
	b, err := New(cfg, opts...)
	if err != nil {
		return err
	}
	b.log.Info("strom broker started", "broker.id", cfg.BrokerID, "listeners", b.endpoints, "log.dirs", cfg.LogDirs, "cluster.id", b.clusterID)
	done := make(chan error, 1)
	go func() { done <- b.Serve() }()
	select {
	case <-ctx.Done():
	case err := <-done:
		if err != nil {
			b.Shutdown(context.Background())
			return err
		}
	}
	// 30 s to drain and close, after the controlled shutdown's attempts.
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second+
		time.Duration(cfg.ControlledShutdownMaxRetries)*(controlledShutdownTimeout+time.Duration(cfg.ControlledShutdownRetryBackoffMs)*time.Millisecond))
	defer cancel()
	err = b.Shutdown(sctx)
	b.log.Info("strom broker stopped", "err", err)
	return err
}
