package broker

import (
	"path/filepath"
	"slices"
	"sort"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// DescribeLogDirs (key 35): each log dir of this broker with the size in
// bytes of every partition it holds (all partitions when Topics is null,
// else the listed ones that are here). A dir holding none of them is still
// listed. Strom never moves replicas between dirs, so OffsetLag is 0 and
// IsFuture false; TotalBytes and UsableBytes (v4+) are -1 (unknown).
func (b *Broker) handleDescribeLogDirs(req *kmsg.DescribeLogDirsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.DescribeLogDirsResponse)
	var wanted map[string][]int32 // nil: every partition
	if req.Topics != nil {
		wanted = map[string][]int32{}
		for _, t := range req.Topics {
			wanted[t.Topic] = append(wanted[t.Topic], t.Partitions...)
		}
	}
	byDir := map[string]map[string][]kmsg.DescribeLogDirsResponseDirTopicPartition{}
	dirs := b.logs.LogDirs()
	for _, d := range dirs {
		byDir[filepath.Clean(d)] = map[string][]kmsg.DescribeLogDirsResponseDirTopicPartition{}
	}
	for _, tp := range b.logs.Partitions() {
		if wanted != nil && !slices.Contains(wanted[tp.Topic], tp.Partition) {
			continue
		}
		l, ok := b.logs.Get(tp.Topic, tp.Partition)
		if !ok {
			continue // deleted meanwhile
		}
		dir := filepath.Clean(filepath.Dir(l.Dir()))
		if byDir[dir] == nil {
			byDir[dir] = map[string][]kmsg.DescribeLogDirsResponseDirTopicPartition{}
			dirs = append(dirs, dir)
		}
		p := kmsg.NewDescribeLogDirsResponseDirTopicPartition()
		p.Partition, p.Size = tp.Partition, l.Size()
		byDir[dir][tp.Topic] = append(byDir[dir][tp.Topic], p)
	}
	for _, d := range dirs {
		rd := kmsg.NewDescribeLogDirsResponseDir()
		rd.Dir, rd.TotalBytes, rd.UsableBytes = d, -1, -1
		topics := byDir[filepath.Clean(d)]
		names := make([]string, 0, len(topics))
		for t := range topics {
			names = append(names, t)
		}
		sort.Strings(names)
		for _, t := range names {
			rt := kmsg.NewDescribeLogDirsResponseDirTopic()
			rt.Topic, rt.Partitions = t, topics[t]
			sort.Slice(rt.Partitions, func(i, j int) bool { return rt.Partitions[i].Partition < rt.Partitions[j].Partition })
			rd.Topics = append(rd.Topics, rt)
		}
		resp.Dirs = append(resp.Dirs, rd)
	}
	return resp
}
