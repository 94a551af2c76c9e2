package broker_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/strom-broker/strom/tools/broker/brokertest"
)

// TestFullLogDirAnswersStorageError fills a real file system under a
// running broker: its second log dir is a 512 KiB tmpfs (root only;
// skipped otherwise). Produce to the partition there fails with
// KAFKA_STORAGE_ERROR once the disk is full, the partition in the other
// dir keeps taking records, and after space is freed (the tmpfs grown)
// and the broker restarted, every acknowledged record of both partitions
// reads back at its offset.
func TestFullLogDirAnswersStorageError(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a tmpfs")
	}
	root := t.TempDir()
	big, small := filepath.Join(root, "big"), filepath.Join(root, "small")
	require.NoError(t, os.MkdirAll(small, 0o755))
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", small).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", small).Run() })
	args := []string{"log.dirs=" + big + "," + small, "auto.create.topics.enable=false", "offsets.topic.num.partitions=1"}
	b := brokertest.StartIn(t, big, args...)
	const topic = "filling"
	createTopic(t, b, topic, 2, "segment.bytes=65536", "segment.index.bytes=4096")
	onSmall := int32(-1)
	for p := range int32(2) {
		if _, err := os.Stat(filepath.Join(small, fmt.Sprintf("%s-%d", topic, p))); err == nil {
			onSmall = p
		}
	}
	require.NotEqual(t, int32(-1), onSmall, "no partition was placed on the small dir")
	onBig := 1 - onSmall

	c := rawConn(t, b)
	acked := map[int32][][]byte{}
	produce := func(p int32, i int) int16 {
		v := []byte(fmt.Sprintf("p%d-%06d-%0200d", p, i, i))
		code := produceOne(t, c, topic, p, 1, rawBatch(1000, v)).ErrorCode
		if code == 0 {
			acked[p] = append(acked[p], v)
		}
		return code
	}
	var failed int16
	for i := 0; failed == 0; i++ {
		require.Less(t, i, 100000, "512 KiB never filled")
		require.Zero(t, produce(onBig, i), "the big dir's partition failed")
		failed = produce(onSmall, i)
	}
	assert.Equal(t, kerr.KafkaStorageError.Code, failed)
	require.Greater(t, len(acked[onSmall]), 100, "the small dir took records before it filled")
	assert.Equal(t, kerr.KafkaStorageError.Code, produce(onSmall, -1), "the full dir stays offline")
	for i := range 20 {
		require.Zero(t, produce(onBig, 1000000+i), "the other dir keeps serving")
	}
	fe := fetchOne(t, c, fetchRequest(topic, onSmall, 0, 0, 1, 1<<20, 1<<20))
	assert.Equal(t, kerr.KafkaStorageError.Code, fe.ErrorCode)
	c.Close()
	b.Stop()

	out, err := exec.Command("mount", "-o", "remount,size=16m", small).CombinedOutput()
	require.NoError(t, err, "%s", out)
	b = brokertest.StartIn(t, big, args...)
	c = rawConn(t, b)
	defer c.Close()
	for _, p := range []int32{onSmall, onBig} {
		var got [][]byte
		for off := int64(0); len(got) < len(acked[p]); {
			fp := fetchOne(t, c, fetchRequest(topic, p, off, 0, 1, 1<<20, 1<<20))
			require.Zero(t, fp.ErrorCode, "partition %d", p)
			offs, vals, _ := batchValues(t, fp.RecordBatches)
			require.NotEmpty(t, offs, "partition %d ends at %d of %d acknowledged records", p, off, len(acked[p]))
			got = append(got, vals...)
			off = offs[len(offs)-1] + 1
		}
		for i, v := range acked[p] {
			require.True(t, bytes.Equal(v, got[i]), "partition %d offset %d", p, i)
		}
	}
	assert.Zero(t, produce(onSmall, -2), "with space again the partition takes records")
}
