package consoleconsumer

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strom-broker/strom/tools/cli/clitool"
)

// Formatter prints records the way Kafka's DefaultMessageFormatter does:
// the enabled fields in the order timestamp, partition, offset, headers,
// key, value, separated by key.separator and ended by line.separator.
type Formatter struct {
	PrintTimestamp, PrintPartition, PrintOffset, PrintHeaders, PrintKey, PrintValue bool
	// KeySeparator separates fields (default "\t").
	KeySeparator string
	// LineSeparator ends a record (default "\n").
	LineSeparator string
	// HeadersSeparator separates headers (default ",").
	HeadersSeparator string
	// NullLiteral stands for a null key, value or header value (default "null").
	NullLiteral string
}

// NewFormatter builds a Formatter from --property key=value items. Like
// Kafka, a boolean property is true only when it reads "true".
func NewFormatter(items []string) (*Formatter, error) {
	f := &Formatter{PrintValue: true, KeySeparator: "\t", LineSeparator: "\n", HeadersSeparator: ",", NullLiteral: "null"}
	kv, err := clitool.ParseKV(items, "--property")
	if err != nil {
		return nil, err
	}
	isTrue := func(v string) bool { return strings.EqualFold(strings.TrimSpace(v), "true") }
	for k, v := range kv {
		switch k {
		case "print.timestamp":
			f.PrintTimestamp = isTrue(v)
		case "print.partition":
			f.PrintPartition = isTrue(v)
		case "print.offset":
			f.PrintOffset = isTrue(v)
		case "print.headers":
			f.PrintHeaders = isTrue(v)
		case "print.key":
			f.PrintKey = isTrue(v)
		case "print.value":
			f.PrintValue = isTrue(v)
		case "key.separator":
			f.KeySeparator = unescape(v)
		case "line.separator":
			f.LineSeparator = unescape(v)
		case "headers.separator":
			f.HeadersSeparator = unescape(v)
		case "null.literal":
			f.NullLiteral = v
		default:
			return nil, clitool.Usagef("unknown --property %s (known: print.timestamp, print.partition, print.offset, print.headers, print.key, print.value, key.separator, line.separator, headers.separator, null.literal)", k)
		}
	}
	return f, nil
}

// unescape turns the two-character escapes a shell passes through ("\t",
// "\n") into the characters Kafka users mean.
func unescape(s string) string {
	return strings.NewReplacer(`\t`, "\t", `\n`, "\n", `\r`, "\r").Replace(s)
}

// Format writes one record to w.
func (f *Formatter) Format(w io.Writer, r *kgo.Record) error {
	var b strings.Builder
	type field struct {
		on   bool
		text func() string
	}
	fields := []field{
		{f.PrintTimestamp, func() string { return timestamp(r) }},
		{f.PrintPartition, func() string { return "Partition:" + strconv.Itoa(int(r.Partition)) }},
		{f.PrintOffset, func() string { return "Offset:" + strconv.FormatInt(r.Offset, 10) }},
		{f.PrintHeaders, func() string { return f.headers(r.Headers) }},
		{f.PrintKey, func() string { return f.bytes(r.Key) }},
		{f.PrintValue, func() string { return f.bytes(r.Value) }},
	}
	printed := false
	for _, fl := range fields {
		if !fl.on {
			continue
		}
		if printed {
			b.WriteString(f.KeySeparator)
		}
		b.WriteString(fl.text())
		printed = true
	}
	if !printed {
		return nil
	}
	b.WriteString(f.LineSeparator)
	_, err := io.WriteString(w, b.String())
	return err
}

func timestamp(r *kgo.Record) string {
	switch r.Attrs.TimestampType() {
	case 0:
		return "CreateTime:" + strconv.FormatInt(r.Timestamp.UnixMilli(), 10)
	case 1:
		return "LogAppendTime:" + strconv.FormatInt(r.Timestamp.UnixMilli(), 10)
	}
	return "NO_TIMESTAMP"
}

func (f *Formatter) bytes(b []byte) string {
	if b == nil {
		return f.NullLiteral
	}
	return string(b)
}

func (f *Formatter) headers(hs []kgo.RecordHeader) string {
	if len(hs) == 0 {
		return "NO_HEADERS"
	}
	parts := make([]string, len(hs))
	for i, h := range hs {
		parts[i] = fmt.Sprintf("%s:%s", h.Key, f.bytes(h.Value))
	}
	return strings.Join(parts, f.HeadersSeparator)
}
