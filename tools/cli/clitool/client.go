package clitool

import (
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Bootstrap registers --bootstrap-server and its alias --broker-list (the
// name older Kafka tools use) and returns the shared value.
func Bootstrap(fs *FlagSet) *string {
	s := fs.String("bootstrap-server", "", "REQUIRED: the broker(s) to connect to, host:port[,host:port...].")
	fs.Alias("broker-list", "bootstrap-server")
	return s
}

// Seeds splits a bootstrap list into seed brokers.
func Seeds(bootstrap string) ([]string, error) {
	var seeds []string
	for _, s := range strings.Split(bootstrap, ",") {
		if s = strings.TrimSpace(s); s != "" {
			seeds = append(seeds, s)
		}
	}
	if len(seeds) == 0 {
		return nil, Usagef("missing required option --bootstrap-server")
	}
	return seeds, nil
}

// NewClient connects a franz-go client to bootstrap with opts.
func NewClient(bootstrap string, opts ...kgo.Opt) (*kgo.Client, error) {
	seeds, err := Seeds(bootstrap)
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(seeds...)}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	return cl, nil
}
