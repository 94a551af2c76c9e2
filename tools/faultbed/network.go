package faultbed

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/strom-broker/strom/coord/zktest"
	"github.com/strom-broker/strom/tools/clustertest"
	"github.com/strom-broker/strom/tools/faultbed/netproxy"
)

// This file is the run's network: every link a fault can cut goes through
// one netproxy.Proxy, so a partition is a switch on proxies (README: "Why
// proxies, not network namespaces").
//
//   - clients -> broker i: clients[i], which broker i advertises on its
//     CLIENT listener (every client connection, bootstrap included);
//   - broker j -> broker i: peers[i], which broker i advertises on its
//     INTERNAL (inter-broker) listener; it names each connection's sending
//     broker from the client id of its first request, so one link (j, i)
//     is cut without the others. The harness's own admin client also
//     connects there, unnamed, and is never cut;
//   - broker i -> ZooKeeper node k: zk[i][k]; broker i's zookeeper.connect
//     lists its own three proxies. The ZooKeeper canary and the harness
//     connect to the nodes directly.
//
// Invariant: a fault only ever switches proxies on; healing a proxy
// (Heal) ends every cut on it, and the nemesis heals every active fault
// at the start of each step.

// The network partition kinds besides the client partitions.
const (
	// PartitionBrokersLoud: connections between a target group of
	// brokers and the others are reset, one way (only connections opened
	// from one side) or both ways.
	PartitionBrokersLoud Kind = "partition-brokers-loud"
	// PartitionBrokersSilent: bytes from one side to the other (one way)
	// or both ways stop flowing; connections hang.
	PartitionBrokersSilent Kind = "partition-brokers-silent"
	// PartitionZKLoud: a target group of brokers' connections to every
	// ZooKeeper node, or every broker's connections to one ZooKeeper
	// node, are reset.
	PartitionZKLoud Kind = "partition-zk-loud"
	// PartitionZKSilent: the same links hang, both ways, requests only
	// or responses only.
	PartitionZKSilent Kind = "partition-zk-silent"
	// PartitionIsolate: a target group of brokers is cut from the other
	// brokers and from ZooKeeper, both ways, silent or loud, while clients
	// still reach it (the isolated leader of Jepsen's 2013 Kafka analysis:
	// it must not acknowledge writes the others will not have).
	PartitionIsolate Kind = "partition-isolate"
)

// NetKinds lists the network partitions between servers.
var NetKinds = []Kind{PartitionBrokersLoud, PartitionBrokersSilent, PartitionZKLoud, PartitionZKSilent, PartitionIsolate}

// netCut reports whether k is one of NetKinds.
func (k Kind) netCut() bool { return slices.Contains(NetKinds, k) }

// network holds every proxy of a run, indexed by broker (id i+1) and
// ZooKeeper node.
type network struct {
	clients []*netproxy.Proxy   // clients -> broker i
	peers   []*netproxy.Proxy   // other brokers (named) -> broker i
	zk      [][]*netproxy.Proxy // broker i -> ZooKeeper node k
}

// add wires a broker to its proxies: its listeners, what it
// advertises, and its zookeeper.connect. Called once per broker before its
// first start; it creates the broker's proxies.
func (nw *network) add(t testing.TB, b *clustertest.Broker, ens *zktest.Ensemble, chroot string) []string {
	proxy := func(target string, identify bool) *netproxy.Proxy {
		newProxy := netproxy.New
		if identify {
			newProxy = netproxy.NewIdentifying
		}
		p, err := newProxy(target)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Close() })
		return p
	}
	clientPort, err := clustertest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	const host = "127.0.0.1:"
	client := proxy(host+strconv.Itoa(clientPort), false)
	peer := proxy(b.Addr(), true)
	var zks []*netproxy.Proxy
	var connect []string
	for _, node := range ens.Nodes() {
		p := proxy(node.Addr(), false)
		zks = append(zks, p)
		connect = append(connect, p.Addr())
	}
	nw.clients, nw.peers, nw.zk = append(nw.clients, client), append(nw.peers, peer), append(nw.zk, zks)
	return []string{
		"listeners=INTERNAL://" + host + strconv.Itoa(b.Port) + ",CLIENT://" + host + strconv.Itoa(clientPort),
		"advertised.listeners=INTERNAL://" + peer.Addr() + ",CLIENT://" + client.Addr(),
		"listener.security.protocol.map=INTERNAL:PLAINTEXT,CLIENT:PLAINTEXT",
		"inter.broker.listener.name=INTERNAL",
		"zookeeper.connect=" + strings.Join(connect, ",") + chroot,
	}
}

// peerName is how peers' proxies name broker index i's connections.
func peerName(i int) string { return "broker " + strconv.Itoa(i+1) }

// cutBrokers cuts the links from every broker index in from to every one
// in to: silent holds the bytes from -> to (on connections opened by
// either side), loud resets the connections from opens to to.
func (nw *network) cutBrokers(from, to []int, silent bool) {
	for _, a := range from {
		for _, b := range to {
			if silent {
				nw.peers[b].SilenceFrom(peerName(a), netproxy.ToServer)
				nw.peers[a].SilenceFrom(peerName(b), netproxy.ToClient)
			} else {
				nw.peers[b].ResetFrom(peerName(a))
			}
		}
	}
}

// startNetwork starts a partition of kind k (one of NetKinds) on a target
// chosen like a process fault's, or a minority, or a ZooKeeper node.
func (n *nemesis) startNetwork(ctx context.Context, k Kind) fault {
	nw := n.net
	group, why := n.group(ctx)
	var healed []*netproxy.Proxy
	f := fault{kind: k, heal: func() {
		for _, p := range healed {
			p.Heal()
		}
	}}
	switch k {
	case PartitionBrokersLoud, PartitionBrokersSilent:
		rest := n.others(group)
		healed = nw.peers
		silent := k == PartitionBrokersSilent
		switch n.rng.IntN(3) {
		case 0:
			nw.cutBrokers(group, rest, silent)
			nw.cutBrokers(rest, group, silent)
			f.target = fmt.Sprintf("brokers %s (%s) <-> the others, both ways", ids(group), why)
		case 1:
			nw.cutBrokers(group, rest, silent)
			f.target = fmt.Sprintf("brokers %s (%s) -> the others, one way", ids(group), why)
		default:
			nw.cutBrokers(rest, group, silent)
			f.target = fmt.Sprintf("the others -> brokers %s (%s), one way", ids(group), why)
		}
	case PartitionIsolate:
		rest := n.others(group)
		healed = nw.peers
		silent := n.rng.IntN(2) == 0
		nw.cutBrokers(group, rest, silent)
		nw.cutBrokers(rest, group, silent)
		for _, i := range group {
			for _, p := range nw.zk[i] {
				healed = append(healed, p)
				if silent {
					p.Silence(netproxy.ToServer, netproxy.ToClient)
				} else {
					p.Reset()
				}
			}
		}
		f.target = fmt.Sprintf("brokers %s (%s) from the other brokers and zookeeper, %s", ids(group), why,
			map[bool]string{true: "silent", false: "loud"}[silent])
	case PartitionZKLoud, PartitionZKSilent:
		if n.rng.IntN(3) == 0 {
			node := n.rng.IntN(len(n.ens.Nodes()))
			for i := range n.brokers {
				healed = append(healed, nw.zk[i][node])
			}
			f.target = fmt.Sprintf("every broker <-> zookeeper node %d", n.ens.Node(node).ID())
		} else {
			for _, i := range group {
				healed = append(healed, nw.zk[i]...)
			}
			f.target = fmt.Sprintf("brokers %s (%s) <-> zookeeper", ids(group), why)
		}
		if k == PartitionZKLoud {
			for _, p := range healed {
				p.Reset()
			}
			break
		}
		dirs := [][]netproxy.Direction{{netproxy.ToServer, netproxy.ToClient}, {netproxy.ToServer}, {netproxy.ToClient}}[n.rng.IntN(3)]
		for _, p := range healed {
			p.Silence(dirs...)
		}
		f.target += map[int]string{2: ", both ways"}[len(dirs)]
		if len(dirs) == 1 {
			f.target += map[netproxy.Direction]string{netproxy.ToServer: ", requests held", netproxy.ToClient: ", responses held"}[dirs[0]]
		}
	}
	return f
}

// group picks the brokers a network fault isolates: the leader of a
// random partition, the controller, a random broker, or a random minority
// (fewer than half: one broker of three).
func (n *nemesis) group(ctx context.Context) ([]int, string) {
	if n.rng.IntN(4) == 0 {
		perm := n.rng.Perm(len(n.brokers))
		size := max(1, (len(n.brokers)-1)/2)
		return perm[:size], "minority"
	}
	i, why := n.target(ctx, map[int]bool{})
	return []int{i}, why
}

// others is every broker index not in group.
func (n *nemesis) others(group []int) []int {
	var rest []int
	for i := range n.brokers {
		if !slices.Contains(group, i) {
			rest = append(rest, i)
		}
	}
	return rest
}

// ids formats broker indexes as broker ids.
func ids(group []int) string {
	var s []string
	for _, i := range group {
		s = append(s, strconv.Itoa(i+1))
	}
	return strings.Join(s, ",")
}
