package config

import (
	"net"
	"slices"
	"strconv"
	"strings"
)

// EnsureDefaults gives every key not set explicitly its Kafka default, then
// resolves the derived keys. It never fails and is idempotent.
func (c *Config) EnsureDefaults() {
	if c.raw == nil {
		c.raw, c.explicit = map[string]string{}, map[string]bool{}
	}
	for _, s := range specs {
		if c.explicit[s.name] || s.def == derived {
			continue
		}
		if s.def == "" {
			c.raw[s.name] = "" // zero value already; ignored numeric keys have no default text
			continue
		}
		c.applyDefault(s.name, s.def)
	}
	c.resolveDerived()
}

// resolveDerived fills the keys whose default depends on other keys.
func (c *Config) resolveDerived() {
	embedded := c.Embedded()
	setIfUnset := func(key, value string) {
		if !c.explicit[key] {
			c.applyDefault(key, value)
		}
	}
	// broker.id: node.id alias, else 0 embedded / -1 (auto) with ZooKeeper.
	switch {
	case c.explicit["broker.id"]:
	case c.explicit["node.id"]:
		c.applyDefault("broker.id", c.raw["node.id"])
	case embedded:
		c.applyDefault("broker.id", "0")
	default:
		c.applyDefault("broker.id", "-1")
	}
	if !c.explicit["node.id"] {
		c.nodeID = c.BrokerID
		c.raw["node.id"] = strconv.Itoa(int(c.BrokerID))
	}
	rf, minISR := "3", "2"
	if embedded {
		rf, minISR = "1", "1"
	}
	setIfUnset("offsets.topic.replication.factor", rf)
	setIfUnset("transaction.state.log.replication.factor", rf)
	setIfUnset("transaction.state.log.min.isr", minISR)
	setIfUnset("zookeeper.connection.timeout.ms", c.raw["zookeeper.session.timeout.ms"])

	// Retention: ms > minutes > hours; any negative means forever (-1).
	ms := c.LogRetentionMs
	switch {
	case c.explicit["log.retention.ms"]:
	case c.explicit["log.retention.minutes"]:
		ms = c.retentionMinutes * 60_000
	default:
		ms = c.retentionHours * 3_600_000
	}
	if ms < 0 {
		ms = -1
	}
	c.LogRetentionMs = ms
	c.raw["log.retention.ms"] = strconv.FormatInt(ms, 10)
	if !c.explicit["log.retention.minutes"] {
		c.retentionMinutes = ms / 60_000
		if ms < 0 {
			c.retentionMinutes = -1
		}
		c.raw["log.retention.minutes"] = strconv.FormatInt(c.retentionMinutes, 10)
	}
	if !c.explicit["log.roll.ms"] {
		c.LogRollMs = c.rollHours * 3_600_000
		c.raw["log.roll.ms"] = strconv.FormatInt(c.LogRollMs, 10)
	}
	setIfUnset("log.flush.interval.ms", c.raw["log.flush.scheduler.interval.ms"])

	// log.dirs falls back to log.dir.
	setIfUnset("log.dirs", c.logDir)

	// listeners: explicit, else legacy host.name/port, else PLAINTEXT://:9092.
	if !c.explicit["listeners"] {
		c.applyDefault("listeners", "PLAINTEXT://"+net.JoinHostPort(c.legacyHost, strconv.Itoa(int(c.legacyPort))))
	}
	c.Listeners = dropNamed(c.Listeners, c.ControllerListenerNames)
	if !c.explicit["advertised.listeners"] {
		var adv []string
		for _, l := range c.Listeners {
			if c.legacyAdvHost != "" {
				l.Host = c.legacyAdvHost
			}
			if c.legacyAdvPort != 0 {
				l.Port = int(c.legacyAdvPort)
			}
			adv = append(adv, l.String())
		}
		c.applyDefault("advertised.listeners", strings.Join(adv, ","))
	}
	resolveProtocols(c.Listeners, c.ListenerSecurityProtocolMap)
	resolveProtocols(c.AdvertisedListeners, c.ListenerSecurityProtocolMap)
}

// resolveProtocols fills SecurityProtocol from the listener name map; an
// unmapped name keeps "" and is reported by Validate.
func resolveProtocols(ls []Listener, m map[string]string) {
	for i := range ls {
		ls[i].SecurityProtocol = m[ls[i].Name]
	}
}

// dropNamed returns ls without the listeners whose name is in names.
func dropNamed(ls []Listener, names []string) []Listener {
	out := ls[:0:0]
	for _, l := range ls {
		if !slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(n, l.Name) }) {
			out = append(out, l)
		}
	}
	return out
}
