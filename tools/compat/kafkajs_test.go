package compat

import (
	"os"
	"os/exec"
	"strconv"
	"testing"
)

// TestKafkaJS round-trips through kafkajs with testdata/kafkajs_roundtrip.js:
// a producer (not idempotent, kafkajs' default), then a consumer group. The
// snappy, lz4 and zstd codecs come from npm packages (scripts/package.json);
// a codec whose package is missing is skipped with its name.
func TestKafkaJS(t *testing.T) {
	node, modules := requireKafkaJS(t)
	script := testdataPath(t, "kafkajs_roundtrip.js")
	bootstrap := startBroker(t)
	runMatrix(t, bootstrap, matrix(false, genOpts{}), kafkaJSRoundTrip(node, modules, script))
}

// kafkaJSRoundTrip runs the kafkajs round-trip script.
func kafkaJSRoundTrip(node, modules, script string) roundTrip {
	return func(t *testing.T, bootstrap, topic string, cs caseSpec, recs []record) []consumed {
		cmd := exec.CommandContext(caseContext(t), node, script, bootstrap, topic, string(cs.codec), strconv.Itoa(len(recs)))
		cmd.Env = append(os.Environ(), "NODE_PATH="+modules)
		return runClientScript(t, cmd, recs)
	}
}
