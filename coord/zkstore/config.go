package zkstore

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"
)

// Kafka's defaults (KafkaConfig / ZkConfigs).
const (
	// DefaultSessionTimeout is zookeeper.session.timeout.ms's default.
	DefaultSessionTimeout = 18 * time.Second
	// DefaultPort is ZooKeeper's client port, used for hosts without one.
	DefaultPort = 2181
)

// Config configures a Store.
type Config struct {
	// Connect is zookeeper.connect: "host:port[,host:port...][/chroot]".
	// A host without a port uses 2181. The chroot, if any, is created at
	// Open when missing (as Kafka brokers do) and every path lives under it.
	Connect string
	// SessionTimeout is zookeeper.session.timeout.ms. Default 18 s. The
	// ensemble bounds it to [2, 20] x its tickTime.
	SessionTimeout time.Duration
	// ConnectionTimeout is zookeeper.connection.timeout.ms: how long Open
	// waits for a session before it fails. Default SessionTimeout (Kafka's
	// behaviour when the key is unset).
	ConnectionTimeout time.Duration
	// Logger receives one line per operator-worthy event (session expiry,
	// a replaced stale registration, an undecodable znode seen by a watch).
	// Default slog.Default().
	Logger *slog.Logger
	// Now gives the timestamps Kafka writes into /controller. Default
	// time.Now.
	Now func() time.Time
}

// Validate reports every invalid setting at once.
func (c Config) Validate() error {
	var errs []error
	if _, _, err := ParseConnect(c.Connect); err != nil {
		errs = append(errs, err)
	}
	if c.SessionTimeout < 0 {
		errs = append(errs, fmt.Errorf("zkstore: zookeeper.session.timeout.ms %d < 0", c.SessionTimeout.Milliseconds()))
	}
	if c.ConnectionTimeout < 0 {
		errs = append(errs, fmt.Errorf("zkstore: zookeeper.connection.timeout.ms %d < 0", c.ConnectionTimeout.Milliseconds()))
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	if c.SessionTimeout == 0 {
		c.SessionTimeout = DefaultSessionTimeout
	}
	if c.ConnectionTimeout == 0 {
		c.ConnectionTimeout = c.SessionTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// ParseConnect splits a zookeeper.connect string into host:port addresses
// and a chroot ("" for none), as ZooKeeper's ConnectStringParser does: the
// chroot starts at the first '/', and "/" alone means none.
func ParseConnect(connect string) (servers []string, chroot string, err error) {
	bad := func(why string) error {
		return fmt.Errorf("zkstore: zookeeper.connect %q: %s", connect, why)
	}
	hosts := connect
	if i := strings.IndexByte(connect, '/'); i >= 0 {
		hosts, chroot = connect[:i], connect[i:]
		if chroot == "/" {
			chroot = ""
		}
		if chroot != "" {
			if strings.HasSuffix(chroot, "/") || strings.Contains(chroot, "//") {
				return nil, "", bad("chroot must be a path like /kafka, without a trailing or double slash")
			}
			for _, part := range strings.Split(chroot[1:], "/") {
				if part == "." || part == ".." {
					return nil, "", bad("chroot must not contain . or ..")
				}
			}
		}
	}
	if strings.TrimSpace(hosts) == "" {
		return nil, "", bad("no host")
	}
	for _, h := range strings.Split(hosts, ",") {
		h = strings.TrimSpace(h)
		if h == "" {
			return nil, "", bad("empty host in the list")
		}
		host, port, err := net.SplitHostPort(h)
		if err != nil {
			// No port: the whole entry is the host.
			host, port = h, strconv.Itoa(DefaultPort)
			if strings.Contains(strings.Trim(host, "[]"), ":") && !strings.HasPrefix(host, "[") {
				return nil, "", bad(fmt.Sprintf("host %q: put IPv6 addresses in brackets", h))
			}
			host = strings.Trim(host, "[]")
		}
		p, err := strconv.Atoi(port)
		if err != nil || p <= 0 || p > 65535 || host == "" {
			return nil, "", bad(fmt.Sprintf("host %q: want host:port", h))
		}
		servers = append(servers, net.JoinHostPort(host, port))
	}
	return servers, chroot, nil
}
