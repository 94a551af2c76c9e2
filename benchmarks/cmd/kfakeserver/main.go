// Command kfakeserver runs franz-go's kfake (an in-memory Kafka) as its own
// process, so that the end-to-end benchmarks can run the peer broker, like
// Strom, apart from the clients that measure it.
//
//	kfakeserver -port 9092
//
// It serves one broker on 127.0.0.1:port until SIGINT or SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/twmb/franz-go/pkg/kfake"
)

func main() {
	port := flag.Int("port", 0, "port to listen on (127.0.0.1); 0 picks a free one")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "kfakeserver: unexpected arguments %q\n", flag.Args())
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(*port))
	if err != nil {
		fmt.Fprintf(os.Stderr, "kfakeserver: %v\n", err)
		os.Exit(1)
	}
	fmt.Println("listening on", c.ListenAddrs()[0])
	<-ctx.Done()
	c.Close()
}
