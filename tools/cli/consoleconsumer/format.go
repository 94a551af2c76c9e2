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
	// KeyDecoder and ValueDecoder render non-null keys and values (the
	// key.deserializer and value.deserializer properties).
	KeyDecoder, ValueDecoder Decoder
	// kind is the --formatter.
	kind formatterKind
}

// formatterKind is which of Kafka's formatter classes is used.
type formatterKind int

const (
	defaultFormatter formatterKind = iota
	noOpFormatter
	offsetsFormatter
)

// formatterKinds maps Kafka's formatter class names, old and new, and
// their simple names to kinds.
var formatterKinds = map[string]formatterKind{
	"DefaultMessageFormatter":                                              defaultFormatter,
	"kafka.tools.DefaultMessageFormatter":                                  defaultFormatter,
	"org.apache.kafka.tools.consumer.DefaultMessageFormatter":              defaultFormatter,
	"NoOpMessageFormatter":                                                 noOpFormatter,
	"kafka.tools.NoOpMessageFormatter":                                     noOpFormatter,
	"org.apache.kafka.tools.consumer.NoOpMessageFormatter":                 noOpFormatter,
	"OffsetsMessageFormatter":                                              offsetsFormatter,
	"kafka.coordinator.group.GroupMetadataManager$OffsetsMessageFormatter": offsetsFormatter,
	"org.apache.kafka.tools.consumer.OffsetsMessageFormatter":              offsetsFormatter,
}

// A Decoder renders a non-null key or value as Kafka's deserializer class
// would, then toString.
type Decoder func([]byte) (string, error)

// decoders maps Kafka's deserializer classes (full or simple names) to
// decoders.
var decoders = map[string]Decoder{
	"StringDeserializer":    func(b []byte) (string, error) { return string(b), nil },
	"ByteArrayDeserializer": func(b []byte) (string, error) { return string(b), nil },
	"BytesDeserializer":     func(b []byte) (string, error) { return string(b), nil },
	"LongDeserializer":      fixedInt(8),
	"IntegerDeserializer":   fixedInt(4),
	"ShortDeserializer":     fixedInt(2),
}

// fixedInt decodes a big-endian signed integer of n bytes.
func fixedInt(n int) Decoder {
	return func(b []byte) (string, error) {
		if len(b) != n {
			return "", fmt.Errorf("size of data received by the deserializer is not %d", n)
		}
		var v int64
		for _, c := range b {
			v = v<<8 | int64(c)
		}
		shift := 64 - 8*n
		return strconv.FormatInt(v<<shift>>shift, 10), nil
	}
}

// decoder looks up a deserializer class by its full or simple name.
func decoder(key, class string) (Decoder, error) {
	simple := class[strings.LastIndex(class, ".")+1:]
	if d, ok := decoders[simple]; ok {
		return d, nil
	}
	return nil, clitool.Usagef("--property %s=%s: not supported (known: StringDeserializer, ByteArrayDeserializer, BytesDeserializer, LongDeserializer, IntegerDeserializer, ShortDeserializer)", key, class)
}

// NewFormatter builds a Formatter from --property key=value items and the
// --formatter class ("" for the default). Like Kafka, a boolean property is
// true only when it reads "true".
func NewFormatter(items []string, class string) (*Formatter, error) {
	str := decoders["StringDeserializer"]
	f := &Formatter{PrintValue: true, KeySeparator: "\t", LineSeparator: "\n", HeadersSeparator: ",", NullLiteral: "null",
		KeyDecoder: str, ValueDecoder: str}
	if class != "" {
		kind, ok := formatterKinds[class]
		if !ok {
			return nil, clitool.Usagef("--formatter %s: not supported (known: DefaultMessageFormatter, NoOpMessageFormatter, OffsetsMessageFormatter, with or without their package)", class)
		}
		f.kind = kind
	}
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
		case "key.deserializer", "value.deserializer":
			d, err := decoder(k, strings.TrimSpace(v))
			if err != nil {
				return nil, err
			}
			if k == "key.deserializer" {
				f.KeyDecoder = d
			} else {
				f.ValueDecoder = d
			}
		default:
			return nil, clitool.Usagef("unknown --property %s (known: print.timestamp, print.partition, print.offset, print.headers, print.key, print.value, key.separator, line.separator, headers.separator, null.literal, key.deserializer, value.deserializer)", k)
		}
	}
	return f, nil
}

// unescape is clitool.Unescape.
var unescape = clitool.Unescape

// FormatError is a record Format could not render (a deserializer
// refused it); nothing was written for it.
type FormatError struct{ Err error }

func (e *FormatError) Error() string { return e.Err.Error() }

// Unwrap returns the cause.
func (e *FormatError) Unwrap() error { return e.Err }

// Format writes one record to w.
func (f *Formatter) Format(w io.Writer, r *kgo.Record) error {
	switch f.kind {
	case noOpFormatter:
		return nil
	case offsetsFormatter:
		return formatOffsetCommit(w, r)
	}
	key, err := f.decode(r.Key, f.KeyDecoder)
	if err != nil {
		return &FormatError{fmt.Errorf("key of %s-%d@%d: %w", r.Topic, r.Partition, r.Offset, err)}
	}
	value, err := f.decode(r.Value, f.ValueDecoder)
	if err != nil {
		return &FormatError{fmt.Errorf("value of %s-%d@%d: %w", r.Topic, r.Partition, r.Offset, err)}
	}
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
		{f.PrintKey, func() string { return key }},
		{f.PrintValue, func() string { return value }},
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
	_, err = io.WriteString(w, b.String())
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

// decode renders a key or value: the null literal for null, else d's text.
func (f *Formatter) decode(b []byte, d Decoder) (string, error) {
	if b == nil {
		return f.NullLiteral, nil
	}
	return d(b)
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
