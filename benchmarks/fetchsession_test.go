package benchmarks

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strom-broker/strom/coord/zktest"
	netclient "github.com/strom-broker/strom/net/client"
	"github.com/strom-broker/strom/tools/clustertest"
)

// BenchmarkFetchSessions: the brokers' CPU per fetch round over 10,000
// partitions, full fetches (sessionless: each round lists every partition
// and every partition is answered) against incremental fetches in KIP-227
// sessions (an empty request, an answer with no partition: nothing
// changed). A topic of 10,000 partitions (RF 1) on three brokers (one
// broker cannot hold 10,000 partitions' 30,000 open files under this
// machine's limit of 20,000 descriptors); each round sends one Fetch to
// each broker for the partitions it leads, as a follower's fetchers do
// (one per leader): at the log end, max.wait.ms 0. (They are sent as a
// consumer's: a follower fetch needs an assigned replica id, and the work
// per partition, a read at the log end, is the same.) CPU is the three
// broker processes' user+system time from /proc (clock ticks), over
// blocks of 10 rounds of each kind, alternating, so background work lands
// on both alike. Reports full_cpu_ms/round, session_cpu_ms/round,
// x_session (full / session CPU) and the bytes of each kind of round.
func BenchmarkFetchSessions(b *testing.B) {
	const parts, block = 10_000, 10
	ens, err := zktest.Start(zktest.Options{Nodes: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer ens.Close()
	c := clustertest.NewCluster(b, ens)
	var bs []*clustertest.Broker
	for id := int32(1); id <= 3; id++ {
		bs = append(bs, c.StartBroker(id))
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(bs[0].Addr()), kgo.RequestTimeoutOverhead(opTimeout))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	adm.SetTimeoutMillis(int32(opTimeout / time.Millisecond))
	waitFor(b, "three brokers", func() bool {
		md, err := adm.Metadata(ctx)
		return err == nil && len(md.Brokers) == 3
	})
	if resp, err := adm.CreateTopic(ctx, parts, 1, nil, "fs"); err != nil || resp.Err != nil {
		b.Fatalf("create: %v %v", err, resp.Err)
	}
	led := map[int32][]int32{} // broker -> partitions it leads
	for _, br := range bs {
		waitFor(b, "every partition led, on "+br.Addr(), func() bool {
			l, err := brokerLeaders(ctx, br, "fs")
			if err != nil || len(l) != parts {
				return false
			}
			clear(led)
			for p, id := range l {
				if id < 0 {
					return false
				}
				led[id] = append(led[id], p)
			}
			return true
		})
	}

	type target struct {
		conn      *netclient.Client
		parts     []int32
		id, epoch int32 // the session
	}
	var targets []*target
	for _, br := range bs {
		conn, err := netclient.Dial(ctx, br.Addr(), "bench-fetch-sessions")
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close()
		targets = append(targets, &target{conn: conn, parts: led[br.ID]})
	}
	request := func(t *target, id, epoch int32, full bool) *kmsg.FetchRequest {
		req := kmsg.NewPtrFetchRequest()
		req.ReplicaID, req.MaxBytes, req.SessionID, req.SessionEpoch = -1, 50<<20, id, epoch
		req.SetVersion(12)
		if !full {
			return req
		}
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic = "fs"
		for _, p := range t.parts {
			rp := kmsg.NewFetchRequestTopicPartition()
			rp.Partition, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch, rp.LogStartOffset = p, 1<<20, -1, -1
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
		return req
	}
	fetch := func(t *target, req *kmsg.FetchRequest, wantParts int) (reqBytes, respBytes int, resp *kmsg.FetchResponse) {
		r, err := t.conn.RequestVersion(ctx, req)
		if err != nil {
			b.Fatal(err)
		}
		resp = r.(*kmsg.FetchResponse)
		n := 0
		for _, rt := range resp.Topics {
			for _, p := range rt.Partitions {
				if p.ErrorCode != 0 {
					b.Fatalf("partition %d: error %d", p.Partition, p.ErrorCode)
				}
				n++
			}
		}
		if resp.ErrorCode != 0 || n != wantParts {
			b.Fatalf("fetch: error %d, %d partitions answered, want %d", resp.ErrorCode, n, wantParts)
		}
		return len(req.AppendTo(nil)), len(resp.AppendTo(nil)), resp
	}
	sessionless := make([]*kmsg.FetchRequest, len(targets))
	for i, t := range targets {
		sessionless[i] = request(t, 0, -1, true)
		_, _, resp := fetch(t, request(t, 0, 0, true), len(t.parts)) // opens the session
		if resp.SessionID == 0 {
			b.Fatal("no fetch session created")
		}
		t.id, t.epoch = resp.SessionID, 1
	}
	cpu := func() int64 {
		var sum int64
		for _, br := range bs {
			sum += cpuTicks(b, br.Pid())
		}
		return sum
	}

	var fullTicks, sessionTicks int64
	var fullReq, fullResp, sesReq, sesResp int
	b.ResetTimer()
	for i := range b.N {
		for k := range 2 {
			t0 := cpu()
			for range block {
				for j, t := range targets {
					if (i+k)%2 == 0 {
						q, r, _ := fetch(t, sessionless[j], len(t.parts))
						fullReq, fullResp = fullReq+q, fullResp+r
					} else {
						q, r, _ := fetch(t, request(t, t.id, t.epoch, false), 0)
						t.epoch++
						sesReq, sesResp = sesReq+q, sesResp+r
					}
				}
			}
			if (i+k)%2 == 0 {
				fullTicks += cpu() - t0
			} else {
				sessionTicks += cpu() - t0
			}
		}
	}
	b.StopTimer()
	rounds := float64(b.N * block)
	const tickMs = 10.0 // USER_HZ is 100 on Linux
	b.ReportMetric(float64(fullTicks)*tickMs/rounds, "full_cpu_ms/round")
	b.ReportMetric(float64(sessionTicks)*tickMs/rounds, "session_cpu_ms/round")
	if sessionTicks > 0 {
		b.ReportMetric(float64(fullTicks)/float64(sessionTicks), "x_session")
	}
	b.ReportMetric(float64(fullReq)/rounds/1024, "full_req_KiB/round")
	b.ReportMetric(float64(fullResp)/rounds/1024, "full_resp_KiB/round")
	b.ReportMetric(float64(sesReq)/rounds, "session_req_B/round")
	b.ReportMetric(float64(sesResp)/rounds, "session_resp_B/round")
}

// cpuTicks returns a process's user + system CPU time in clock ticks
// (/proc/<pid>/stat fields 14 and 15).
func cpuTicks(b *testing.B, pid int) int64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	s := string(raw)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	utime, err1 := strconv.ParseInt(fields[11], 10, 64) // field 14 overall
	stime, err2 := strconv.ParseInt(fields[12], 10, 64) // field 15
	if err1 != nil || err2 != nil {
		b.Fatalf("parsing /proc/%d/stat: %v %v", pid, err1, err2)
	}
	return utime + stime
}
