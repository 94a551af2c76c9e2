// Package deleterecords is `strom delete-records`
// (kafka-delete-records.sh): it moves partitions' log start offsets
// forward, as listed in Kafka's offset JSON file.
package deleterecords

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/strom-broker/strom/tools/cli/clitool"
)

const synopsis = `Usage: strom delete-records --bootstrap-server HOST:PORT --offset-json-file FILE

Deletes the records of each listed partition before the given offset
(-1: every record). The file is Kafka's:

  {"partitions": [{"topic": "t", "partition": 0, "offset": 42}], "version": 1}`

// offsetFile is the --offset-json-file layout.
type offsetFile struct {
	Partitions []struct {
		Topic     string `json:"topic"`
		Partition *int32 `json:"partition"`
		Offset    *int64 `json:"offset"`
	} `json:"partitions"`
	Version int `json:"version"`
}

// Run is the `delete-records` subcommand.
func Run(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := clitool.NewFlagSet("delete-records", synopsis)
	bootstrap := clitool.Bootstrap(fs)
	commandConfig := clitool.CommandConfig(fs)
	file := fs.String("offset-json-file", "", "REQUIRED: the JSON file of partitions and offsets.")
	if done, code := fs.Parse(args, stdout, stderr); done {
		return code
	}
	if err := run(ctx, *bootstrap, *commandConfig, *file, stdout, stderr); err != nil {
		return clitool.Fail(stderr, err)
	}
	return clitool.ExitOK
}

func run(ctx context.Context, bootstrap, commandConfig, file string, stdout, stderr io.Writer) error {
	if err := clitool.Required("bootstrap-server", bootstrap, "offset-json-file", file); err != nil {
		return err
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var f offsetFile
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("%s: not Kafka's offset JSON: %w", file, err)
	}
	offsets := kadm.Offsets{}
	for i, p := range f.Partitions {
		if p.Topic == "" || p.Partition == nil || p.Offset == nil {
			return fmt.Errorf("%s: partitions[%d] needs topic, partition and offset", file, i)
		}
		if _, dup := offsets.Lookup(p.Topic, *p.Partition); dup {
			return fmt.Errorf("%s: partition %s-%d is listed twice", file, p.Topic, *p.Partition)
		}
		offsets.Add(kadm.Offset{Topic: p.Topic, Partition: *p.Partition, At: *p.Offset})
	}
	if len(offsets) == 0 {
		return fmt.Errorf("%s: no partitions listed", file)
	}
	cl, err := clitool.AdminClient(bootstrap, commandConfig, stderr)
	if err != nil {
		return err
	}
	defer cl.Close()
	fmt.Fprintln(stdout, "Executing records delete operation")
	resps, err := kadm.NewClient(cl).DeleteRecords(ctx, offsets)
	if err != nil {
		return fmt.Errorf("deleting records: %w", err)
	}
	fmt.Fprintln(stdout, "Records delete operation completed:")
	var rows []kadm.DeleteRecordsResponse
	resps.Each(func(r kadm.DeleteRecordsResponse) { rows = append(rows, r) })
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].Topic != rows[j].Topic {
			return rows[i].Topic < rows[j].Topic
		}
		return rows[i].Partition < rows[j].Partition
	})
	failed := 0
	for _, r := range rows {
		if r.Err != nil {
			failed++
			fmt.Fprintf(stdout, "partition: %s-%d\terror: %v\n", r.Topic, r.Partition, r.Err)
			continue
		}
		fmt.Fprintf(stdout, "partition: %s-%d\tlow_watermark: %d\n", r.Topic, r.Partition, r.LowWatermark)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d partitions failed", failed, len(rows))
	}
	return nil
}
