package compat

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/strom-broker/strom/tools/broker/brokertest"
)

// TestFetchSessionsPerClient: what each client does with fetch sessions
// (KIP-227) against a broker that offers them, each on a broker of its own
// so that the broker's session count is the client's alone. franz-go opens
// one and fetches incrementally; librdkafka (kcat) sends its fetches with
// session epoch -1 and kafka-python 2.0 with Fetch v4 (no sessions), and
// the broker creates no session for them. Every client reads every record.
func TestFetchSessionsPerClient(t *testing.T) {
	requireCommand(t, "kcat")
	python := requirePythonKafka(t)
	script := testdataPath(t, "kafka_python_roundtrip.py")
	for _, c := range []struct {
		name     string
		rt       roundTrip
		gen      genOpts
		sessions bool
	}{
		// kcat frames records as text lines, with headers given per run.
		{"kcat", kcatRoundTrip, genOpts{text: true, fixedHeaders: []header{{Key: "h", Value: []byte("0123")}}}, false},
		{"kafka-python", kafkaPythonRoundTrip(python, script), genOpts{}, false},
		{"franz-go", franzRoundTrip, genOpts{}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := brokertest.Start(t)
			cs := caseSpec{codec: codecNone, partitions: 3, gen: c.gen}
			topic := topicFor(t)
			createTopic(t, b.Addr(), topic, cs.partitions)
			recs := genRecords(newRNG(t), 2000, cs.gen)
			verifyConsumed(t, c.name, recs, c.rt(t, b.Addr(), topic, cs, recs), cs.partitions)
			st := b.FetchSessions()
			if c.sessions {
				assert.Equal(t, int64(1), st.Created, "one session, used incrementally")
			} else {
				assert.Zero(t, st.Created, "a sessionless client gets no session")
			}
		})
	}
}
