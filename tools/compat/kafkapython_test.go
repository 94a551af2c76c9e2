package compat

import (
	"os/exec"
	"strconv"
	"testing"
)

// TestKafkaPython round-trips through kafka-python (Debian's python3-kafka)
// with testdata/kafka_python_roundtrip.py: KafkaProducer, then an
// assign()-based KafkaConsumer. kafka-python has no idempotent producer.
// Codecs whose Python module is missing are skipped with its name.
func TestKafkaPython(t *testing.T) {
	python := requirePythonKafka(t)
	script := testdataPath(t, "kafka_python_roundtrip.py")
	bootstrap := startBroker(t)
	runMatrix(t, bootstrap, matrix(false, genOpts{}), kafkaPythonRoundTrip(python, script))
}

// kafkaPythonRoundTrip runs the kafka-python round-trip script.
func kafkaPythonRoundTrip(python, script string) roundTrip {
	return func(t *testing.T, bootstrap, topic string, cs caseSpec, recs []record) []consumed {
		cmd := exec.CommandContext(caseContext(t), python, script, bootstrap, topic, string(cs.codec), strconv.Itoa(len(recs)))
		return runClientScript(t, cmd, recs)
	}
}
