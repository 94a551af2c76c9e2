// Package clitool holds what every strom subcommand shares: the Run
// signature, Kafka-style long flags (--bootstrap-server, --broker-list),
// usage and one-line error output, key=value lists, and the franz-go client.
//
// Conventions every tool follows:
//   - `--help` prints the complete usage to stdout and exits 0.
//   - A usage or runtime error prints exactly one line, "Error: ...", to
//     stderr and exits 1.
//   - Results go to stdout; progress of long-running tools goes to stderr.
package clitool

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/strom-broker/strom/tools/config"
	"github.com/strom-broker/strom/tools/properties"
)

// RunFunc is the signature of every subcommand: it parses args (without the
// subcommand name), reads stdin, writes results to stdout and diagnostics to
// stderr, and returns the process exit code.
type RunFunc func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int

// ExitOK and ExitError are the exit codes tools return.
const (
	ExitOK    = 0
	ExitError = 1
)

// ErrUsage is wrapped by errors about how a tool was invoked.
var ErrUsage = errors.New("usage")

// Usagef returns an error wrapping ErrUsage.
func Usagef(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUsage, fmt.Sprintf(format, args...))
}

// Fail prints err as one line ("Error: ...") to stderr and returns
// ExitError. Newlines inside the message are folded into "; ".
func Fail(stderr io.Writer, err error) int {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, ErrUsage.Error()+": ")
	msg = strings.ReplaceAll(strings.TrimSpace(msg), "\n", "; ")
	fmt.Fprintf(stderr, "Error: %s\n", msg)
	return ExitError
}

// FlagSet is a flag.FlagSet that prints Kafka-style usage ("--name").
type FlagSet struct {
	*flag.FlagSet
	synopsis string
	aliases  map[string]string // alias -> canonical name
	version  *bool
}

// NewFlagSet returns a silent, ContinueOnError flag set; synopsis is the
// usage text printed above the option list.
func NewFlagSet(name, synopsis string) *FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	out := &FlagSet{FlagSet: fs, synopsis: synopsis, aliases: map[string]string{}}
	out.version = fs.Bool("version", false, "Print the version and exit.")
	return out
}

// Alias makes --alias set the same value as --name.
func (fs *FlagSet) Alias(alias, name string) {
	f := fs.Lookup(name)
	fs.Var(f.Value, alias, "Alias of --"+name+".")
	fs.aliases[alias] = name
}

// Parse parses args. When it returns done, the caller returns code: 0 after
// --help (usage on stdout), 1 after a bad flag (one line on stderr).
func (fs *FlagSet) Parse(args []string, stdout, stderr io.Writer) (done bool, code int) {
	err := fs.FlagSet.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.PrintUsage(stdout)
		return true, ExitOK
	case err != nil:
		if name, ok := strings.CutPrefix(err.Error(), "flag provided but not defined: -"); ok {
			if s := fs.suggest(name); s != "" {
				return true, Fail(stderr, fmt.Errorf("unknown option --%s (did you mean --%s? see --help)", name, s))
			}
		}
		msg := strings.Replace(err.Error(), "flag provided but not defined: -", "unknown option --", 1)
		msg = strings.Replace(msg, " for flag -", " for option --", 1)
		msg = strings.Replace(msg, "flag needs an argument: -", "option needs an argument: --", 1)
		return true, Fail(stderr, fmt.Errorf("%s (see --help)", msg))
	case *fs.version:
		fmt.Fprintln(stdout, VersionLine())
		return true, ExitOK
	}
	return false, ExitOK
}

// suggest returns the flag name an unknown name was probably meant to be
// (see Suggest).
func (fs *FlagSet) suggest(name string) string {
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	return Suggest(strings.TrimLeft(name, "-"), names)
}

// Suggest returns the candidate an unknown word was probably meant to be:
// the only one it is a prefix of, else one within a few edits
// (config.Closest), else "".
func Suggest(word string, candidates []string) string {
	var prefixed []string
	for _, c := range candidates {
		if strings.HasPrefix(c, word) {
			prefixed = append(prefixed, c)
		}
	}
	if len(prefixed) == 1 {
		return prefixed[0]
	}
	return config.Closest(word, candidates)
}

// PrintUsage writes the synopsis and every option, sorted, to w.
func (fs *FlagSet) PrintUsage(w io.Writer) {
	fmt.Fprintln(w, strings.TrimRight(fs.synopsis, "\n"))
	fmt.Fprintln(w, "\nOptions:")
	type row struct{ name, doc string }
	var rows []row
	width := 0
	fs.VisitAll(func(f *flag.Flag) {
		name := "--" + f.Name
		if _, isBool := f.Value.(interface{ IsBoolFlag() bool }); !isBool {
			name += " <" + valueName(f) + ">"
		}
		doc := f.Usage
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "[]" && fs.aliases[f.Name] == "" {
			doc += " (default: " + f.DefValue + ")"
		}
		rows = append(rows, row{name, doc})
		width = max(width, len(name))
	})
	sort.Slice(rows, func(i, j int) bool { return rows[i].name < rows[j].name })
	rows = append(rows, row{"--help", "Print this usage and exit."})
	for _, r := range rows {
		fmt.Fprintf(w, "  %-*s  %s\n", width, r.name, r.doc)
	}
}

// valueName is the placeholder shown after a flag taking a value.
func valueName(f *flag.Flag) string {
	name, _ := flag.UnquoteUsage(f)
	if name == "" || name == "value" {
		return "value"
	}
	return name
}

// StringList is a repeatable string flag.
type StringList []string

// String implements flag.Value.
func (l *StringList) String() string { return strings.Join(*l, ",") }

// Set implements flag.Value; each use appends.
func (l *StringList) Set(v string) error { *l = append(*l, v); return nil }

// ExpandMulti rewrites "--name a b c" (Kafka's multi-valued options, such as
// --producer-props k=v k=v) into "--name a --name b --name c" so a
// StringList collects every value. Values run until the next "-" argument.
func ExpandMulti(args []string, names ...string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		out = append(out, a)
		name := strings.TrimLeft(a, "-")
		if !strings.HasPrefix(a, "-") || strings.Contains(name, "=") || !contains(names, name) {
			continue
		}
		first := true
		for i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
			if !first {
				out = append(out, a)
			}
			out = append(out, args[i+1])
			first = false
			i++
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// ParseKV parses "key=value" items; later keys win. what names the option
// in errors ("--property").
func ParseKV(items []string, what string) (map[string]string, error) {
	m := make(map[string]string, len(items))
	for _, it := range items {
		k, v, ok := strings.Cut(it, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, Usagef("%s %q is not key=value", what, it)
		}
		m[k] = v
	}
	return m, nil
}

// ExactlyOne returns a usage error unless exactly one of the action flags
// is set; actions lists them as they should be named in the message.
func ExactlyOne(actions string, set ...bool) error {
	n := 0
	for _, a := range set {
		if a {
			n++
		}
	}
	if n != 1 {
		return Usagef("command must include exactly one action: %s", actions)
	}
	return nil
}

// Required returns a usage error naming the first option whose value is
// empty; pairs are (name, value).
func Required(pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] == "" {
			return Usagef("missing required option --%s", pairs[i])
		}
	}
	return nil
}

// MergePropertiesFile adds the entries of a .properties file (such as a
// --producer.config file) to m; later entries win.
func MergePropertiesFile(m map[string]string, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	ps, err := properties.Parse(f)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	for _, p := range ps {
		m[p.Key] = p.Value
	}
	return nil
}

// Unescape turns the two-character escapes a shell passes through ("\t",
// "\n", "\r") into the characters Kafka users mean in separators and
// delimiters.
func Unescape(s string) string {
	return strings.NewReplacer(`\t`, "\t", `\n`, "\n", `\r`, "\r").Replace(s)
}
