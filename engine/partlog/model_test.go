package partlog

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strom-broker/strom/engine/record"
)

// The model: a flat list of batches grouped in segments, with the roll,
// truncation, retention and read rules written out plainly.

type mBatch struct {
	base, last int64
	data       []byte // as stamped
	maxTS      int64
	recTS      []int64 // per record
}

type mSeg struct {
	base    int64
	batches []mBatch
	size    int64
}

type model struct {
	cfg      Config
	segs     []*mSeg
	logStart int64
}

func (m *model) leo() int64 {
	a := m.segs[len(m.segs)-1]
	if len(a.batches) == 0 {
		return a.base
	}
	return a.batches[len(a.batches)-1].last + 1
}

func (m *model) all() []mBatch {
	var out []mBatch
	for _, s := range m.segs {
		out = append(out, s.batches...)
	}
	return out
}

func (m *model) append(bs []mBatch) {
	size := int64(0)
	for _, b := range bs {
		size += int64(len(b.data))
	}
	a := m.segs[len(m.segs)-1]
	if a.size > 0 && a.size+size > m.cfg.SegmentBytes {
		a = &mSeg{base: bs[0].base}
		m.segs = append(m.segs, a)
	}
	a.batches = append(a.batches, bs...)
	a.size += size
}

func (m *model) roll() {
	if m.segs[len(m.segs)-1].size > 0 {
		m.segs = append(m.segs, &mSeg{base: m.leo()})
	}
}

func (m *model) truncate(off int64) {
	if off >= m.leo() {
		return
	}
	if off < m.logStart {
		m.segs, m.logStart = []*mSeg{{base: off}}, off
		return
	}
	i := 0
	for i < len(m.segs) && m.segs[i].base <= off {
		i++
	}
	m.segs = m.segs[:i]
	s := m.segs[i-1]
	j := 0
	s.size = 0
	for j < len(s.batches) && s.batches[j].last < off {
		s.size += int64(len(s.batches[j].data))
		j++
	}
	s.batches = s.batches[:j]
	m.logStart = min(m.logStart, m.leo())
}

func (m *model) deleteBefore(off int64) {
	if off <= m.logStart {
		return
	}
	m.logStart = off
	for len(m.segs) > 1 && m.segs[1].base <= off {
		m.segs = m.segs[1:]
	}
}

func (m *model) retention(now int64) {
	n := 0
	if m.cfg.RetentionMs >= 0 {
		for n < len(m.segs)-1 {
			maxTS := int64(-1)
			for _, b := range m.segs[n].batches {
				maxTS = max(maxTS, b.maxTS)
			}
			if now-maxTS <= m.cfg.RetentionMs {
				break
			}
			n++
		}
	}
	if m.cfg.RetentionBytes >= 0 {
		excess := -m.cfg.RetentionBytes
		for _, s := range m.segs {
			excess += s.size
		}
		k := 0
		for k < len(m.segs)-1 && excess >= m.segs[k].size {
			excess -= m.segs[k].size
			k++
		}
		n = max(n, k)
	}
	if n > 0 {
		m.segs = m.segs[n:]
		m.logStart = max(m.logStart, m.segs[0].base)
	}
}

// read returns the expected bytes of Read(off, maxBytes, maxOffset).
func (m *model) read(off int64, maxBytes int, maxOffset int64) []byte {
	var out []byte
	for _, b := range m.all() {
		if b.last < off {
			continue
		}
		if b.last >= maxOffset || b.last >= m.leo() {
			break
		}
		if len(out) > 0 && len(out)+len(b.data) > maxBytes {
			break
		}
		out = append(out, b.data...)
		if len(out) >= maxBytes {
			break
		}
	}
	return out
}

func (m *model) offsetForTimestamp(ts int64) (int64, bool) {
	for _, b := range m.all() {
		for i, t := range b.recTS {
			if off := b.base + int64(i); off >= m.logStart && t >= ts {
				return off, true
			}
		}
	}
	return -1, false
}

func TestModelRandomOps(t *testing.T) {
	seed := testSeed(t, uint64(time.Now().UnixNano()))
	t.Logf("seed %d (replay with SEED=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	steps := 3000
	if testing.Short() {
		steps = 600
	}
	clock := newClock()
	cfg := smallConfig()
	cfg.SegmentBytes = 3000
	cfg.RetentionMs = -1
	dir := t.TempDir()
	l := openLog(t, dir, cfg, WithClock(clock.Now))
	defer func() { l.Close() }()
	m := &model{cfg: cfg, segs: []*mSeg{{base: 0}}}
	epoch := int32(0)
	var trace []string
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("seed %d, step %d: %s\nlast ops: %v", seed, len(trace), fmt.Sprintf(format, args...), trace[max(0, len(trace)-15):])
	}
	reopen := func(clean bool) {
		rp := l.RecoveryPoint()
		if clean {
			require.NoError(t, l.Close())
		} else {
			l.crash()
		}
		l = openLog(t, dir, cfg, WithClock(clock.Now), WithCleanShutdown(clean),
			WithRecoveryPoint(rp), WithLogStartOffset(m.logStart))
	}
	for step := 0; step < steps; step++ {
		now := clock.Now().UnixMilli()
		op := rng.IntN(100)
		switch {
		case op < 45: // append 1-3 batches
			var payload []byte
			var bs []mBatch
			next := m.leo()
			if rng.IntN(10) == 0 {
				epoch++
			}
			for k := 1 + rng.IntN(3); k > 0; k-- {
				n := 1 + rng.IntN(6)
				b := record.NewBuilder(0)
				var ts []int64
				for i := 0; i < n; i++ {
					t := now - int64(rng.IntN(100_000))
					ts = append(ts, t)
					b.Add(t, []byte(fmt.Sprint(step)), bytes.Repeat([]byte{byte(step)}, rng.IntN(120)))
				}
				raw := b.Build()
				payload = append(payload, raw...)
				stamped := bytes.Clone(raw)
				record.SetBaseOffset(stamped, next)
				record.SetPartitionLeaderEpoch(stamped, epoch)
				h, _ := record.ParseHeader(stamped)
				bs = append(bs, mBatch{base: next, last: next + int64(n) - 1, data: stamped, maxTS: h.MaxTimestamp, recTS: ts})
				next += int64(n)
			}
			trace = append(trace, fmt.Sprintf("append %d batches", len(bs)))
			info, err := l.Append(payload, epoch)
			if err != nil {
				fail("append: %v", err)
			}
			if info.FirstOffset != bs[0].base || info.LastOffset != next-1 {
				fail("append offsets %d..%d, model %d..%d", info.FirstOffset, info.LastOffset, bs[0].base, next-1)
			}
			m.append(bs)
		case op < 65: // read
			off := m.logStart + rng.Int64N(m.leo()-m.logStart+1)
			maxOff := off + rng.Int64N(m.leo()-off+2)
			maxBytes := 1 + rng.IntN(2500)
			trace = append(trace, fmt.Sprintf("read %d max %d bytes hw %d", off, maxBytes, maxOff))
			got, err := l.ReadBytes(off, maxBytes, maxOff)
			if err != nil {
				fail("read: %v", err)
			}
			if want := m.read(off, maxBytes, maxOff); !bytes.Equal(want, got) {
				fail("read %d/%d/%d: got %d bytes, model %d", off, maxBytes, maxOff, len(got), len(want))
			}
			if _, err := l.Read(m.leo()+1, 10, m.leo()+1); err == nil {
				fail("read past LEO succeeded")
			}
		case op < 72: // truncate
			off := m.leo() - rng.Int64N(40)
			if rng.IntN(8) == 0 {
				off = m.logStart - rng.Int64N(5)
			}
			off = max(off, 0)
			trace = append(trace, fmt.Sprintf("truncate %d", off))
			if err := l.TruncateTo(off); err != nil {
				fail("truncate: %v", err)
			}
			m.truncate(off)
		case op < 77:
			trace = append(trace, "roll")
			if err := l.Roll(); err != nil {
				fail("roll: %v", err)
			}
			m.roll()
		case op < 83: // retention
			cfg.RetentionBytes = -1
			cfg.RetentionMs = -1
			if rng.IntN(2) == 0 {
				cfg.RetentionBytes = rng.Int64N(12000)
			} else {
				cfg.RetentionMs = rng.Int64N(100_000)
			}
			l.cfg, m.cfg = cfg, cfg
			trace = append(trace, fmt.Sprintf("retention bytes %d ms %d", cfg.RetentionBytes, cfg.RetentionMs))
			if _, err := l.EnforceRetention(); err != nil {
				fail("retention: %v", err)
			}
			m.retention(now)
		case op < 88:
			off := m.logStart + rng.Int64N(m.leo()-m.logStart+1)
			trace = append(trace, fmt.Sprintf("delete-records %d", off))
			if _, err := l.DeleteRecordsBefore(off); err != nil {
				fail("delete records: %v", err)
			}
			m.deleteBefore(off)
		case op < 92:
			ts := now - int64(rng.IntN(110_000))
			trace = append(trace, fmt.Sprintf("offset-for-timestamp %d", ts))
			got, ok, err := l.OffsetForTimestamp(ts)
			if err != nil {
				fail("offset for timestamp: %v", err)
			}
			want, wok := m.offsetForTimestamp(ts)
			if ok != wok || (ok && got.Offset != want) {
				fail("offset for timestamp %d: got %d,%v model %d,%v", ts, got.Offset, ok, want, wok)
			}
		case op < 96:
			trace = append(trace, "reopen clean")
			reopen(true)
		default:
			trace = append(trace, "reopen unclean")
			reopen(false)
		}
		clock.Advance(time.Duration(rng.IntN(50)) * time.Millisecond)

		// Compare the whole state after every step.
		if l.LogEndOffset() != m.leo() || l.LogStartOffset() != m.logStart {
			fail("LEO/start %d/%d, model %d/%d", l.LogEndOffset(), l.LogStartOffset(), m.leo(), m.logStart)
		}
		var bases []int64
		for _, s := range m.segs {
			bases = append(bases, s.base)
		}
		if got := l.SegmentBaseOffsets(); fmt.Sprint(got) != fmt.Sprint(bases) {
			fail("segments %v, model %v", got, bases)
		}
		got, err := l.ReadBytes(m.logStart, 1<<30, m.leo())
		if err != nil {
			fail("full read: %v", err)
		}
		if want := m.read(m.logStart, 1<<30, m.leo()); !bytes.Equal(want, got) {
			fail("full read: got %d bytes, model %d", len(got), len(want))
		}
		if step%100 == 0 {
			checkDirFormat(t, dir, false)
		}
		// Keep the log small so the full comparison stays cheap.
		if m.leo()-m.logStart > 3000 {
			off := m.leo() - 1500
			trace = append(trace, fmt.Sprintf("delete-records %d (size cap)", off))
			if _, err := l.DeleteRecordsBefore(off); err != nil {
				fail("delete records: %v", err)
			}
			m.deleteBefore(off)
		}
	}
}
