// Command gencorpus regenerates the seed corpora of the fuzz targets in
// fuzz/testdata/fuzz (run from the fuzz module with `go generate`, or
// `go run ./internal/gencorpus -root testdata/fuzz`).
//
// It starts a real Strom broker in a temporary directory, asks it which API
// keys and versions it serves, and writes for every one of them a
// default-filled and a fully filled request encoded by kmsg. It then
// produces uncompressed and gzip batches through franz-go's kgo client,
// shuts the broker down and takes its real files (segment .log/.index/
// .timeindex, checkpoints, meta.properties, producer snapshots) as seeds.
// Group and znode seeds come from the coord encoders, properties seeds from
// config/server.properties and the config key table.
//
// Files it wrote before (named seed-*) are replaced; other files in the
// corpus directories (crashers the fuzzer found) are kept.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strom-broker/strom/fuzz/internal/corpus"
	"github.com/strom-broker/strom/net/apis"
	"github.com/strom-broker/strom/net/server"
	"github.com/strom-broker/strom/tools/broker"
	"github.com/strom-broker/strom/tools/config"
)

func main() {
	root := flag.String("root", "testdata/fuzz", "corpus root directory (testdata/fuzz of the fuzz package)")
	props := flag.String("properties", "../config/server.properties", "server.properties to seed the config targets with")
	flag.Parse()
	if err := run(*root, *props); err != nil {
		fmt.Fprintln(os.Stderr, "gencorpus:", err)
		os.Exit(1)
	}
}

func run(root, propsPath string) error {
	tmp, err := os.MkdirTemp("", "gencorpus-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	ranges, err := brokerRun(tmp)
	if err != nil {
		return err
	}
	if err := clearSeeds(root); err != nil {
		return err
	}
	w := &corpus.Writer{Root: root}
	steps := []func() error{
		func() error { return writeRequests(w, ranges) },
		func() error { return writeFiles(w, tmp) },
		func() error { return writeCoord(w) },
		func() error { return writeProperties(w, propsPath) },
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return err
		}
	}
	fmt.Printf("gencorpus: wrote %d seed files under %s\n", w.Written, root)
	return nil
}

// clearSeeds removes the seed-* files of earlier runs.
func clearSeeds(root string) error {
	seeds, err := filepath.Glob(filepath.Join(root, "*", "seed-*"))
	if err != nil {
		return err
	}
	for _, s := range seeds {
		if err := os.Remove(s); err != nil {
			return err
		}
	}
	return nil
}

// Topic names the generator produces to.
const (
	topicPlain = "seed-none"
	topicGzip  = "seed-gzip"
)

// brokerRun starts a broker in dir, produces to it with kgo (uncompressed
// and gzip, idempotent so producer snapshots exist), shuts it down and
// returns the API ranges it served.
func brokerRun(dir string) ([]apis.Range, error) {
	cfg, err := config.Load("", []string{
		"listeners=PLAINTEXT://127.0.0.1:0",
		"log.dirs=" + dir,
		"log.index.interval.bytes=128",
	})
	if err != nil {
		return nil, err
	}
	b, err := broker.New(cfg, broker.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		return nil, err
	}
	served := make(chan error, 1)
	go func() { served <- b.Serve() }()
	ranges := b.APIVersions()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	produceErr := errors.Join(
		produce(ctx, b.Addr(), topicPlain, kgo.NoCompression()),
		produce(ctx, b.Addr(), topicGzip, kgo.GzipCompression()),
	)
	shutErr := b.Shutdown(ctx)
	if err := <-served; err != nil && !errors.Is(err, server.ErrServerClosed) {
		shutErr = errors.Join(shutErr, err)
	}
	return ranges, errors.Join(produceErr, shutErr)
}

// produce writes three batches of records with keys, values and headers.
func produce(ctx context.Context, addr, topic string, codec kgo.CompressionCodec) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.AllowAutoTopicCreation(),
		kgo.ProducerBatchCompression(codec), kgo.DefaultProduceTopic(topic))
	if err != nil {
		return err
	}
	defer cl.Close()
	for batch := range 3 {
		var recs []*kgo.Record
		for i := range 4 + batch {
			recs = append(recs, &kgo.Record{
				Key:     fmt.Appendf(nil, "key-%d", i),
				Value:   []byte(strings.Repeat(fmt.Sprintf("value %d of batch %d; ", i, batch), 8)),
				Headers: []kgo.RecordHeader{{Key: "h", Value: []byte("v")}},
			})
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			return fmt.Errorf("produce to %s: %w", topic, err)
		}
	}
	return nil
}
