package consumergroups

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
)

// deleteGroups deletes groups (each must have no active members).
func deleteGroups(ctx context.Context, adm *kadm.Client, groups []string, stdout io.Writer) error {
	resp, err := adm.DeleteGroups(ctx, groups...)
	if err != nil {
		return fmt.Errorf("deleting groups: %w", err)
	}
	var failed []string
	for _, g := range groups {
		r, ok := resp[g]
		switch {
		case !ok:
			failed = append(failed, fmt.Sprintf("group '%s': no answer", g))
		case r.Err != nil:
			failed = append(failed, fmt.Sprintf("group '%s' could not be deleted due to: %v", g, r.Err))
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("deletion of some consumer groups failed: %s", strings.Join(failed, "; "))
	}
	quoted := make([]string, len(groups))
	for i, g := range groups {
		quoted[i] = "'" + g + "'"
	}
	fmt.Fprintf(stdout, "Deletion of requested consumer groups (%s) was successful.\n", strings.Join(quoted, ", "))
	return nil
}

// deleteOffsets deletes group's committed offsets of the --topic
// partitions and prints each partition's status.
func deleteOffsets(ctx context.Context, adm *kadm.Client, o *options, group string, stdout io.Writer) error {
	selected, err := parseTopics(o.topics)
	if err != nil {
		return err
	}
	parts, err := resolvePartitions(ctx, adm, false, selected, nil)
	if err != nil {
		return err
	}
	set := kadm.TopicsSet{}
	for topic, ps := range parts {
		set.Add(topic, ps...)
	}
	resp, err := adm.DeleteOffsets(ctx, group, set)
	if err != nil {
		return fmt.Errorf("deleting offsets of group %s: %w", group, err)
	}
	fmt.Fprintf(stdout, "Request succeed for deleting offsets with topic %s group %s\n\n", strings.Join(sortedKeys(parts), ", "), group)
	t := newTable(stdout, "TOPIC", "PARTITION", "STATUS")
	var firstErr error
	for _, topic := range sortedKeys(parts) {
		for _, p := range parts[topic] {
			status := "Successful"
			if e, ok := resp.Lookup(topic, p); ok && e != nil {
				status = "Error: " + e.Error()
				if firstErr == nil {
					firstErr = fmt.Errorf("deleting offset of %s-%d in group %s: %w", topic, p, group, e)
				}
			}
			t.row(topic, strconv.Itoa(int(p)), status)
		}
	}
	if err := t.flush(); err != nil {
		return err
	}
	return firstErr
}
