// Package zkshell is `strom zookeeper-shell` (Kafka's zookeeper-shell.sh,
// which wraps ZooKeeper's own ZooKeeperMain): look at and edit the znodes a
// ZooKeeper-mode cluster keeps, as runbooks do ("zookeeper-shell.sh
// localhost:2181 ls /brokers/ids").
//
//	strom zookeeper-shell HOST:PORT[,HOST:PORT...][/CHROOT] [COMMAND ARGS...]
//
// With a command it runs that one and exits (0, or 1 if it failed); without
// one it reads commands from stdin, one per line, until EOF or "quit".
// Output follows ZooKeeperMain's: ls prints "[a, b]", get the data, stat
// the znode's Stat one field per line, errors "Node does not exist: /p".
package zkshell

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/strom-broker/strom/coord/zkstore"
	"github.com/strom-broker/strom/tools/cli/clitool"
)

const synopsis = `Usage: strom zookeeper-shell HOST:PORT[,HOST:PORT...][/CHROOT] [COMMAND ARGS...]

Runs one ZooKeeper command, or reads commands from stdin (one per line).
Commands: ls [-s] PATH, get [-s] PATH, stat PATH, create [-e] [-s] PATH [DATA],
set PATH DATA, delete PATH, deleteall PATH (alias rmr), help, quit.

  strom zookeeper-shell localhost:2181 ls /brokers/ids
  strom zookeeper-shell localhost:2181 get /brokers/ids/1`

// Run is the zookeeper-shell subcommand.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, synopsis)
		return clitool.ExitError
	}
	switch args[0] {
	case "-h", "-help", "--help":
		fmt.Fprintln(stdout, synopsis)
		return clitool.ExitOK
	}
	if _, _, err := zkstore.ParseConnect(args[0]); err != nil {
		return clitool.Fail(stderr, err) // before ZooKeeperMain's first line
	}
	fmt.Fprintf(stderr, "Connecting to %s\n", args[0])
	conn, chroot, err := clitool.DialZooKeeper(ctx, args[0])
	if err != nil {
		return clitool.Fail(stderr, err)
	}
	defer conn.Close()
	sh := &shell{zk: conn, root: chroot, out: stdout, errOut: stderr}
	if len(args) > 1 {
		if err := sh.exec(args[1:]); err != nil {
			fmt.Fprintln(stderr, err)
			return clitool.ExitError
		}
		return clitool.ExitOK
	}
	status := clitool.ExitOK
	sc := bufio.NewScanner(stdin)
	for sc.Scan() {
		words := strings.Fields(sc.Text())
		if len(words) == 0 {
			continue
		}
		if words[0] == "quit" || words[0] == "exit" {
			break
		}
		if err := sh.exec(words); err != nil {
			fmt.Fprintln(stderr, err)
			status = clitool.ExitError
		}
	}
	return status
}

// shell runs commands on one session; paths are relative to root.
type shell struct {
	zk     *zk.Conn
	root   string
	out    io.Writer
	errOut io.Writer
}

func (s *shell) abs(p string) string {
	if s.root == "" {
		return p
	}
	if p == "/" {
		return s.root
	}
	return s.root + p
}

// exec runs one command.
func (s *shell) exec(words []string) error {
	cmd, args := words[0], words[1:]
	flags := map[string]bool{}
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		flags[args[0]] = true
		args = args[1:]
	}
	need := func(n int) error {
		if len(args) < n || !strings.HasPrefix(args[0], "/") {
			return fmt.Errorf("%s: expected a path starting with / (see help)", cmd)
		}
		return nil
	}
	switch cmd {
	case "help":
		fmt.Fprintln(s.out, synopsis)
		return nil
	case "ls":
		if err := need(1); err != nil {
			return err
		}
		children, st, err := s.zk.Children(s.abs(args[0]))
		if err != nil {
			return s.fail(args[0], err)
		}
		slices.Sort(children)
		fmt.Fprintf(s.out, "[%s]\n", strings.Join(children, ", "))
		if flags["-s"] {
			s.printStat(st)
		}
		return nil
	case "get":
		if err := need(1); err != nil {
			return err
		}
		data, st, err := s.zk.Get(s.abs(args[0]))
		if err != nil {
			return s.fail(args[0], err)
		}
		if data == nil {
			fmt.Fprintln(s.out, "null")
		} else {
			fmt.Fprintln(s.out, string(data))
		}
		if flags["-s"] {
			s.printStat(st)
		}
		return nil
	case "stat":
		if err := need(1); err != nil {
			return err
		}
		ok, st, err := s.zk.Exists(s.abs(args[0]))
		if err != nil {
			return s.fail(args[0], err)
		}
		if !ok {
			return s.fail(args[0], zk.ErrNoNode)
		}
		s.printStat(st)
		return nil
	case "create":
		if err := need(1); err != nil {
			return err
		}
		var mode int32
		if flags["-e"] {
			mode |= zk.FlagEphemeral
		}
		if flags["-s"] {
			mode |= zk.FlagSequence
		}
		var data []byte
		if len(args) > 1 {
			data = []byte(strings.Join(args[1:], " "))
		}
		created, err := s.zk.Create(s.abs(args[0]), data, mode, zk.WorldACL(zk.PermAll))
		if err != nil {
			return s.fail(args[0], err)
		}
		fmt.Fprintf(s.out, "Created %s\n", strings.TrimPrefix(created, s.root))
		return nil
	case "set":
		if err := need(2); err != nil {
			return err
		}
		if _, err := s.zk.Set(s.abs(args[0]), []byte(strings.Join(args[1:], " ")), -1); err != nil {
			return s.fail(args[0], err)
		}
		return nil
	case "delete":
		if err := need(1); err != nil {
			return err
		}
		if err := s.zk.Delete(s.abs(args[0]), -1); err != nil {
			return s.fail(args[0], err)
		}
		return nil
	case "deleteall", "rmr":
		if err := need(1); err != nil {
			return err
		}
		return s.deleteAll(args[0])
	}
	return fmt.Errorf("unknown command %q (see help)", cmd)
}

// deleteAll deletes p and everything below it, children first.
func (s *shell) deleteAll(p string) error {
	children, _, err := s.zk.Children(s.abs(p))
	if err != nil {
		return s.fail(p, err)
	}
	for _, c := range children {
		if err := s.deleteAll(path.Join(p, c)); err != nil {
			return err
		}
	}
	if err := s.zk.Delete(s.abs(p), -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
		return s.fail(p, err)
	}
	return nil
}

// fail words a ZooKeeper error as ZooKeeperMain does.
func (s *shell) fail(p string, err error) error {
	switch {
	case errors.Is(err, zk.ErrNoNode):
		return fmt.Errorf("Node does not exist: %s", p)
	case errors.Is(err, zk.ErrNodeExists):
		return fmt.Errorf("Node already exists: %s", p)
	case errors.Is(err, zk.ErrNotEmpty):
		return fmt.Errorf("Node not empty: %s", p)
	}
	return fmt.Errorf("%s: %w", p, err)
}

func (s *shell) printStat(st *zk.Stat) {
	t := func(ms int64) string { return time.UnixMilli(ms).UTC().Format("Mon Jan 02 15:04:05 MST 2006") }
	fmt.Fprintf(s.out, "cZxid = 0x%x\nctime = %s\nmZxid = 0x%x\nmtime = %s\npZxid = 0x%x\n",
		st.Czxid, t(st.Ctime), st.Mzxid, t(st.Mtime), st.Pzxid)
	fmt.Fprintf(s.out, "cversion = %d\ndataVersion = %d\naclVersion = %d\nephemeralOwner = 0x%x\ndataLength = %d\nnumChildren = %d\n",
		st.Cversion, st.Version, st.Aversion, st.EphemeralOwner, st.DataLength, st.NumChildren)
}
