package compat

// Finding and running the clients that are not Go libraries (kcat, python3
// with kafka-python, node with kafkajs). They are installed by the repo's
// `make test-deps`; a missing client fails its test with that advice rather
// than skipping it. A codec a client cannot do is skipped: the scripts exit
// with skipExitCode and say on stderr which module is missing.

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// skipExitCode is what the client scripts exit with when this machine lacks
// an optional module for the requested codec (the automake convention).
const skipExitCode = 77

// installHint ends every message about a missing client.
const installHint = "run `make test-deps` at the repository root (scripts/test-deps.sh) to install the compatibility clients"

// systemPython is Debian's interpreter, which python3-kafka installs into;
// a python3 earlier on PATH (pyenv, venv) would not see it.
const systemPython = "/usr/bin/python3"

// requireCommand returns the path of an executable on PATH or fails t.
func requireCommand(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found on PATH (%v): %s", name, err, installHint)
	}
	return p
}

// requirePythonKafka returns the interpreter that has kafka-python or fails t.
func requirePythonKafka(t *testing.T) string {
	t.Helper()
	out, err := exec.Command(systemPython, "-c", "import kafka; print(kafka.__version__)").CombinedOutput()
	if err != nil {
		t.Fatalf("%s cannot import kafka-python (%v: %s): %s", systemPython, err, bytes.TrimSpace(out), installHint)
	}
	t.Logf("kafka-python %s", bytes.TrimSpace(out))
	return systemPython
}

// requireKafkaJS returns node's path and the node_modules directory holding
// kafkajs (<repo root>/.deps/node/node_modules), or fails t.
func requireKafkaJS(t *testing.T) (node, modules string) {
	t.Helper()
	node = requireCommand(t, "node")
	modules = filepath.Join(repoRoot(t), ".deps", "node", "node_modules")
	if _, err := os.Stat(filepath.Join(modules, "kafkajs", "package.json")); err != nil {
		t.Fatalf("kafkajs not installed in %s (%v): %s", modules, err, installHint)
	}
	return node, modules
}

// testdataPath returns the absolute path of a file in testdata/.
func testdataPath(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", name))
	require.NoError(t, err)
	require.FileExists(t, p)
	return p
}

// repoRoot is the directory holding go.work, found upward from the test's
// working directory (the package directory).
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		require.NotEqual(t, parent, dir, "no go.work above the test directory")
		dir = parent
	}
}

// wireRecord is one JSON line exchanged with the client scripts: bytes as
// hex so any byte survives; P and O are set on consumed records only.
type wireRecord struct {
	P int32       `json:"p"`
	O int64       `json:"o"`
	K string      `json:"k"`
	V string      `json:"v"`
	H [][2]string `json:"h"`
}

func encodeWire(recs []record) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	for _, r := range recs {
		w := wireRecord{K: hex.EncodeToString(r.Key), V: hex.EncodeToString(r.Value), H: [][2]string{}}
		for _, h := range r.Headers {
			w.H = append(w.H, [2]string{h.Key, hex.EncodeToString(h.Value)})
		}
		if err := enc.Encode(w); err != nil {
			panic(err) // encoding strings cannot fail
		}
	}
	return b.Bytes()
}

func decodeWire(t *testing.T, out []byte) []consumed {
	t.Helper()
	var got []consumed
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var w wireRecord
		require.NoError(t, dec.Decode(&w), "client script output")
		c := consumed{Partition: w.P, Offset: w.O, record: record{Key: mustHex(t, w.K), Value: mustHex(t, w.V)}}
		for _, h := range w.H {
			c.Headers = append(c.Headers, header{Key: h[0], Value: mustHex(t, h[1])})
		}
		got = append(got, c)
	}
	return got
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	require.NoError(t, err, "client script output")
	return b
}

// runClientScript runs a client script that reads recs as JSON lines on
// stdin, produces and consumes them, and writes what it consumed as JSON
// lines on stdout. A script exiting skipExitCode skips the case.
func runClientScript(t *testing.T, cmd *exec.Cmd, recs []record) []consumed {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd.Stdin = bytes.NewReader(encodeWire(recs))
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) && ee.ExitCode() == skipExitCode {
		t.Skip(strings.TrimSpace(stderr.String()))
	}
	require.NoError(t, err, "%s failed; stderr:\n%s", cmd, tail(stderr.String(), 4000))
	if s := strings.TrimSpace(stderr.String()); s != "" {
		t.Logf("%s stderr:\n%s", filepath.Base(cmd.Path), tail(s, 2000))
	}
	return decodeWire(t, stdout.Bytes())
}

// tail returns the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}
