package server

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// offsetsTopic is the internal topic whose per-partition lines are folded.
const offsetsTopic = "__consumer_offsets"

// The per-partition INFO messages summaryHandler folds, as the log manager
// (engine/logmgr) and the group coordinator (coord/group) write them. If
// either changes its words the lines simply pass through again (the
// proctest broker-log test then fails).
const (
	msgCreatedLog   = "created partition log"
	msgLoadedOffset = "group coordinator: loaded offsets partition"
)

// summaryHandler folds the INFO lines the broker writes for each of the
// offsets topic's partitions (creating its log, loading it into the group
// coordinator) into one line each, written when all of its partitions
// have been seen: an operator sees "created __consumer_offsets
// partitions=50", not fifty lines. Every other record passes through.
type summaryHandler struct {
	slog.Handler
	s *summaryState // shared by the WithAttrs/WithGroup clones
}

// summaryState counts the folded lines.
type summaryState struct {
	mu         sync.Mutex
	partitions int // offsets.topic.num.partitions
	created    int
	dir        string
	loaded     int
	groups     int64
	skipped    int64
	took       time.Duration
}

// newSummaryHandler wraps h for a broker whose offsets topic has
// partitions partitions.
func newSummaryHandler(h slog.Handler, partitions int) *summaryHandler {
	return &summaryHandler{Handler: h, s: &summaryState{partitions: partitions}}
}

// WithAttrs implements slog.Handler.
func (h *summaryHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &summaryHandler{h.Handler.WithAttrs(as), h.s}
}

// WithGroup implements slog.Handler.
func (h *summaryHandler) WithGroup(name string) slog.Handler {
	return &summaryHandler{h.Handler.WithGroup(name), h.s}
}

// Handle implements slog.Handler.
func (h *summaryHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level != slog.LevelInfo || (r.Message != msgCreatedLog && r.Message != msgLoadedOffset) {
		return h.Handler.Handle(ctx, r)
	}
	attrs := map[string]slog.Value{}
	r.Attrs(func(a slog.Attr) bool { attrs[a.Key] = a.Value.Resolve(); return true })
	s := h.s
	s.mu.Lock()
	var out *slog.Record
	switch r.Message {
	case msgCreatedLog:
		if !strings.HasPrefix(attrs["partition"].String(), offsetsTopic+"-") {
			s.mu.Unlock()
			return h.Handler.Handle(ctx, r)
		}
		s.created++
		s.dir = attrs["dir"].String()
		if s.created == s.partitions {
			rec := slog.NewRecord(r.Time, slog.LevelInfo, "created "+offsetsTopic, r.PC)
			rec.AddAttrs(slog.Int("partitions", s.partitions), slog.String("dir", s.dir))
			out, s.created = &rec, 0
		}
	default:
		s.loaded++
		s.groups += attrs["groups"].Int64()
		s.skipped += attrs["skipped_records"].Int64()
		if d := attrs["took"]; d.Kind() == slog.KindDuration {
			s.took += d.Duration()
		}
		if s.loaded == s.partitions {
			rec := slog.NewRecord(r.Time, slog.LevelInfo, "group coordinator: loaded "+offsetsTopic, r.PC)
			rec.AddAttrs(slog.Int("partitions", s.partitions), slog.Int64("groups", s.groups),
				slog.Int64("skipped_records", s.skipped), slog.Duration("took", s.took))
			out = &rec
			s.loaded, s.groups, s.skipped, s.took = 0, 0, 0, 0
		}
	}
	s.mu.Unlock()
	if out == nil {
		return nil
	}
	return h.Handler.Handle(ctx, *out)
}
