package sim

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The scenario tests: testdata/*.txt in the style of etcd raft's
// datadriven files. A file is a sequence of blocks:
//
//	# comments
//	command arg key=value ...
//	----
//	expected output (the protocol trace the command produced)
//	<blank line>
//
// The driver (below; our own) runs each command against one World and
// compares its output with the expected text. go test -run TestScenarios
// -rewrite rewrites the files with the actual output (review the diff).

var rewrite = flag.Bool("rewrite", false, "rewrite testdata/*.txt with the actual output")

// block is one command and its expected output.
type block struct {
	comments []string
	cmd      string
	line     int
	want     string
}

// parseScenario reads a scenario file into blocks.
func parseScenario(path string) ([]block, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var blocks []block
	var cur *block
	inOutput := false
	var out []string
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case inOutput && line == "":
			cur.want = strings.Join(out, "\n")
			blocks = append(blocks, *cur)
			cur, inOutput, out = nil, false, nil
		case inOutput:
			out = append(out, line)
		case line == "----":
			if cur == nil || cur.cmd == "" {
				return nil, fmt.Errorf("%s:%d: ---- without a command", path, n)
			}
			inOutput = true
		case strings.HasPrefix(line, "#") || line == "":
			if cur == nil {
				cur = &block{}
			}
			if cur.cmd != "" {
				return nil, fmt.Errorf("%s:%d: command %q has no ---- line", path, n, cur.cmd)
			}
			cur.comments = append(cur.comments, line)
		default:
			if cur == nil {
				cur = &block{}
			}
			if cur.cmd != "" {
				return nil, fmt.Errorf("%s:%d: command %q has no ---- line", path, n, cur.cmd)
			}
			cur.cmd, cur.line = line, n
		}
	}
	if inOutput {
		cur.want = strings.Join(out, "\n")
		blocks = append(blocks, *cur)
	} else if cur != nil && cur.cmd != "" {
		return nil, fmt.Errorf("%s: command %q has no ---- line", path, cur.cmd)
	}
	return blocks, nil
}

// formatScenario writes blocks back in the file format.
func formatScenario(blocks []block) string {
	var b strings.Builder
	for _, bl := range blocks {
		for _, c := range bl.comments {
			b.WriteString(c + "\n")
		}
		fmt.Fprintf(&b, "%s\n----\n%s\n\n", bl.cmd, bl.want)
	}
	return strings.TrimRight(b.String(), "\n") + "\n"
}

func TestScenarios(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenario files: %v", err)
	}
	for _, path := range files {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".txt"), func(t *testing.T) {
			blocks, err := parseScenario(path)
			if err != nil {
				t.Fatal(err)
			}
			d := &driver{}
			for i, bl := range blocks {
				got, err := d.run(bl.cmd)
				if err != nil {
					t.Fatalf("%s:%d: %s: %v", path, bl.line, bl.cmd, err)
				}
				if *rewrite {
					blocks[i].want = got
					continue
				}
				if got != bl.want {
					t.Errorf("%s:%d: %s\n--- want\n%s\n--- got\n%s", path, bl.line, bl.cmd, bl.want, got)
				}
			}
			if *rewrite {
				if err := os.WriteFile(path, []byte(formatScenario(blocks)), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// driver runs scenario commands against one World.
type driver struct {
	w     *World
	lines []string
}

// scenarioConfig is a quiet, deterministic cluster: fixed 1 ms links, no
// loss, no automatic producers, fsync only on the sync command.
func scenarioConfig() Config {
	cfg := DefaultConfig()
	cfg.AcksAll, cfg.AcksOne = 0, 0
	cfg.MinDelay, cfg.MaxDelay, cfg.Loss = time.Millisecond, time.Millisecond, 0
	cfg.FlushInterval = time.Hour
	return cfg
}

// args parses "key=value" and bare words.
func args(fields []string) (map[string]string, []string) {
	kv := map[string]string{}
	var words []string
	for _, f := range fields {
		if k, v, ok := strings.Cut(f, "="); ok {
			kv[k] = v
		} else {
			words = append(words, f)
		}
	}
	return kv, words
}

func brokerID(s string) (int32, error) {
	n, err := strconv.Atoi(strings.TrimPrefix(s, "b"))
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("bad broker %q", s)
	}
	return int32(n), nil
}

func idList(s string) ([]int32, error) {
	var out []int32
	for _, f := range strings.Split(s, ",") {
		id, err := brokerID(f)
		if err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, nil
}

// run executes one command line and returns its output: the trace lines
// it produced, then anything it prints, then a broken invariant if any.
func (d *driver) run(line string) (string, error) {
	fields := strings.Fields(line)
	kv, words := args(fields[1:])
	d.lines = nil
	var err error
	if fields[0] != "cluster" && d.w == nil {
		return "", fmt.Errorf("no cluster yet")
	}
	switch fields[0] {
	case "cluster":
		err = d.cluster(kv)
	case "run":
		var dur time.Duration
		if dur, err = time.ParseDuration(kv["for"]); err == nil {
			_ = d.w.RunFor(dur)
		}
	case "run-until":
		err = d.runUntil(kv)
	case "produce":
		err = d.produce(kv, words)
	case "crash", "restart", "sync":
		err = d.node(fields[0], words)
	case "cut", "uncut":
		err = d.cut(fields[0] == "uncut", words)
	case "heal":
		d.w.Heal()
	case "compare":
		err = d.compare(words)
	case "state":
		d.lines = append(d.lines, strings.Split(strings.TrimRight(d.w.State(), "\n"), "\n")...)
	default:
		return "", fmt.Errorf("unknown command %q", fields[0])
	}
	if err != nil {
		return "", err
	}
	if d.w.check.err != nil {
		d.lines = append(d.lines, "INVARIANT BROKEN: "+d.w.check.err.Error())
	}
	if len(d.lines) == 0 {
		return "ok", nil
	}
	return strings.Join(d.lines, "\n"), nil
}

// cluster brokers=N replicas=1,2,3 min-isr=N unclean=true controller=N
// request-timeout=D ack-timeout=D
// broken=truncate-to-hw|ack-before-isr|stop-at-log-end|reset-isr-on-refusal
func (d *driver) cluster(kv map[string]string) error {
	cfg := scenarioConfig()
	cfg.Trace = func(l string) { d.lines = append(d.lines, l) }
	var err error
	if s, ok := kv["brokers"]; ok {
		if cfg.Brokers, err = strconv.Atoi(s); err != nil {
			return err
		}
	}
	if s, ok := kv["replicas"]; ok {
		if cfg.Replicas, err = idList(s); err != nil {
			return err
		}
	}
	if s, ok := kv["min-isr"]; ok {
		if cfg.MinISR, err = strconv.Atoi(s); err != nil {
			return err
		}
	}
	if s, ok := kv["controller"]; ok {
		if cfg.FirstBroker, err = brokerID(s); err != nil {
			return err
		}
	}
	if s, ok := kv["ack-timeout"]; ok {
		if cfg.AckTimeout, err = time.ParseDuration(s); err != nil {
			return err
		}
	}
	if s, ok := kv["request-timeout"]; ok {
		if cfg.RequestTimeout, err = time.ParseDuration(s); err != nil {
			return err
		}
	}
	cfg.Unclean = kv["unclean"] == "true"
	switch kv["broken"] {
	case "":
	case "truncate-to-hw":
		cfg.Broken.TruncateToHW = true
	case "ack-before-isr":
		cfg.Broken.AckBeforeISR = true
	case "stop-at-log-end":
		cfg.Broken.StopTruncatingAtLogEnd = true
	case "reset-isr-on-refusal":
		cfg.Broken.ResetISROnRefusal = true
	default:
		return fmt.Errorf("unknown broken variant %q", kv["broken"])
	}
	d.w = NewWorld(cfg, 1)
	return nil
}

// runUntil runs until a condition holds (at most 10 s): hw=<b>:<n> (b's
// high watermark reaches n), leader=<b> (b leads the stored epoch),
// isr=<list> (the stored ISR), epoch=<n> (the stored leader epoch).
func (d *driver) runUntil(kv map[string]string) error {
	var cond func() bool
	switch {
	case kv["hw"] != "":
		bs, ns, _ := strings.Cut(kv["hw"], ":")
		id, err := brokerID(bs)
		if err != nil {
			return err
		}
		n, err := strconv.ParseInt(ns, 10, 64)
		if err != nil {
			return err
		}
		cond = func() bool { b := d.w.Broker(id); return b != nil && b.hw >= n }
	case kv["leader"] != "":
		id, err := brokerID(kv["leader"])
		if err != nil {
			return err
		}
		cond = func() bool {
			b := d.w.Broker(id)
			return b != nil && b.isLeader() && d.w.zk.state.Leader == id && b.leaderEpoch == d.w.zk.state.LeaderEpoch
		}
	case kv["isr"] != "":
		want, err := idList(kv["isr"])
		if err != nil {
			return err
		}
		cond = func() bool { return d.w.zk.hasState && slices.Equal(d.w.zk.state.ISR, want) }
	case kv["epoch"] != "":
		n, err := strconv.Atoi(kv["epoch"])
		if err != nil {
			return err
		}
		cond = func() bool { return d.w.zk.hasState && d.w.zk.state.LeaderEpoch >= int32(n) }
	default:
		return fmt.Errorf("run-until needs hw=, leader=, isr= or epoch=")
	}
	if ok, _ := d.w.RunUntil(10*time.Second, cond); !ok && d.w.check.err == nil {
		d.lines = append(d.lines, "condition not reached in 10s")
	}
	return nil
}

// produce client=N acks=all|1 value=V [nowait]: the client sends V to the
// leader ZooKeeper names and waits (at most 1 s) for the answer, unless
// nowait.
func (d *driver) produce(kv map[string]string, words []string) error {
	n, err := strconv.Atoi(kv["client"])
	if err != nil {
		return fmt.Errorf("client=: %w", err)
	}
	id := ClientBase + int32(n)
	c := d.w.clients[id]
	if c == nil {
		c = &Client{id: id}
		d.w.clients[id] = c
	}
	switch kv["acks"] {
	case "all":
		c.acks = -1
	case "1":
		c.acks = 1
	default:
		return fmt.Errorf("acks=%q: want all or 1", kv["acks"])
	}
	if kv["value"] == "" {
		return fmt.Errorf("produce needs value=")
	}
	leader := d.w.zk.state.Leader
	if leader < 0 {
		d.lines = append(d.lines, "no leader to produce to")
		return nil
	}
	c.produce(d.w, leader, kv["value"])
	if _, nowait := kv["nowait"]; nowait || slices.Contains(words, "nowait") {
		return nil // the answer shows in a later command's trace
	}
	if ok, _ := d.w.RunUntil(time.Second, func() bool { return c.inflight == 0 }); !ok && d.w.check.err == nil {
		c.inflight = 0
		d.lines = append(d.lines, fmt.Sprintf("c%d: no answer to %s", n, kv["value"]))
	}
	return nil
}

// node: crash <b> [machine] | restart <b> | sync <b>.
func (d *driver) node(cmd string, words []string) error {
	if len(words) == 0 {
		return fmt.Errorf("%s needs a broker", cmd)
	}
	id, err := brokerID(words[0])
	if err != nil {
		return err
	}
	if d.w.nodes[id] == nil {
		return fmt.Errorf("no broker %d", id)
	}
	switch cmd {
	case "crash":
		d.w.Crash(id, slices.Contains(words[1:], "machine"))
	case "restart":
		d.w.Restart(id)
	case "sync":
		n := d.w.nodes[id]
		n.log.synced = len(n.log.records)
		d.lines = append(d.lines, fmt.Sprintf("b%d: fsynced up to offset %d", id, n.log.leo()))
	}
	return nil
}

// cut a->b | a<->b (zk names ZooKeeper); uncut brings them up again.
func (d *driver) cut(up bool, words []string) error {
	if len(words) != 1 {
		return fmt.Errorf("cut needs a->b or a<->b")
	}
	parse := func(s string) (int32, error) {
		if s == "zk" {
			return 0, nil
		}
		return brokerID(s)
	}
	both := strings.Contains(words[0], "<->")
	a, b, ok := strings.Cut(strings.Replace(words[0], "<->", "->", 1), "->")
	if !ok {
		return fmt.Errorf("cut %q: want a->b or a<->b", words[0])
	}
	from, err := parse(a)
	if err != nil {
		return err
	}
	to, err := parse(b)
	if err != nil {
		return err
	}
	change := d.w.Cut
	if up {
		change = d.w.Uncut
	}
	change(from, to)
	if both {
		change(to, from)
	}
	return nil
}

// compare <a> <b>: whether two replicas' logs agree (one a prefix of the
// other) or where they diverge.
func (d *driver) compare(words []string) error {
	if len(words) != 2 {
		return fmt.Errorf("compare needs two brokers")
	}
	a, err := brokerID(words[0])
	if err != nil {
		return err
	}
	b, err := brokerID(words[1])
	if err != nil {
		return err
	}
	la, lb := d.w.nodes[a].log.records, d.w.nodes[b].log.records
	for o := 0; o < min(len(la), len(lb)); o++ {
		if la[o] != lb[o] {
			d.lines = append(d.lines, fmt.Sprintf("b%d and b%d diverge at offset %d: %s@%d vs %s@%d", a, b, o,
				la[o].Value, la[o].Epoch, lb[o].Value, lb[o].Epoch))
			return nil
		}
	}
	d.lines = append(d.lines, fmt.Sprintf("b%d and b%d agree (log ends %d and %d)", a, b, len(la), len(lb)))
	return nil
}
