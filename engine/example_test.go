package engine_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/strom-broker/strom/engine/partlog"
	"github.com/strom-broker/strom/engine/record"
)

// Example appends two batches to a partition log, reads them back, and
// reopens the log, using nothing but the engine module.
func Example() {
	dir, err := os.MkdirTemp("", "strom-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	partDir := filepath.Join(dir, "orders-0")

	l, err := partlog.Open(partDir, partlog.DefaultConfig())
	if err != nil {
		log.Fatal(err)
	}
	for i, words := range [][]string{{"apple", "pear"}, {"plum"}} {
		b := record.NewBuilder(0) // the log assigns the real offsets
		for _, w := range words {
			b.Add(1700000000000+int64(i), []byte("fruit"), []byte(w))
		}
		info, err := l.Append(b.Build(), 0) // leader epoch 0
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("appended offsets %d..%d\n", info.FirstOffset, info.LastOffset)
	}

	// Read everything below the log end offset (the high watermark of a
	// single replica), then walk batches and records.
	data, err := l.ReadBytes(0, 1<<20, l.LogEndOffset())
	if err != nil {
		log.Fatal(err)
	}
	s := record.NewScanner(data, record.FromLog)
	for s.Next() {
		h := s.Header()
		it, err := record.Records(s.Batch())
		if err != nil {
			log.Fatal(err)
		}
		var r record.Record
		for it.Next(&r) {
			fmt.Printf("offset %d: %s=%s\n", r.Offset(h), r.Key, r.Value)
		}
	}
	if err := l.Close(); err != nil {
		log.Fatal(err)
	}

	l, err = partlog.Open(partDir, partlog.DefaultConfig(), partlog.WithCleanShutdown(true))
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	fmt.Println("log end offset after reopen:", l.LogEndOffset())
	// Output:
	// appended offsets 0..1
	// appended offsets 2..2
	// offset 0: fruit=apple
	// offset 1: fruit=pear
	// offset 2: fruit=plum
	// log end offset after reopen: 3
}
