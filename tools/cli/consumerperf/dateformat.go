package consumerperf

import (
	"fmt"
	"strings"
	"time"

	"github.com/strom-broker/strom/tools/cli/clitool"
)

// DefaultDateFormat is Kafka's --date-format default.
const DefaultDateFormat = "yyyy-MM-dd HH:mm:ss:SSS"

// A DateFormat renders times like a Java SimpleDateFormat pattern.
type DateFormat []dateToken

// dateToken is a literal or a run of one pattern letter.
type dateToken struct {
	letter  byte // 0 for a literal
	n       int
	literal string
}

// ParseDateFormat parses the SimpleDateFormat subset perf runbooks use:
// y, M, d, H, h, m, s, S (milliseconds), a, E, Z, 'quoted text'; other
// letters are an error naming them, other characters are literals.
func ParseDateFormat(p string) (DateFormat, error) {
	var out DateFormat
	for i := 0; i < len(p); {
		c := p[i]
		switch {
		case c == '\'':
			end := strings.IndexByte(p[i+1:], '\'')
			if end < 0 {
				return nil, clitool.Usagef("--date-format %q: unclosed quote", p)
			}
			lit := p[i+1 : i+1+end]
			if lit == "" {
				lit = "'" // '' is a quote
			}
			out = append(out, dateToken{literal: lit})
			i += end + 2
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			if !strings.ContainsRune("yMdHhmsSaEZ", rune(c)) {
				return nil, clitool.Usagef("--date-format %q: pattern letter %q is not supported (y M d H h m s S a E Z)", p, c)
			}
			n := 1
			for i+n < len(p) && p[i+n] == c {
				n++
			}
			out = append(out, dateToken{letter: c, n: n})
			i += n
		default:
			out = append(out, dateToken{literal: string(c)})
			i++
		}
	}
	return out, nil
}

// Format renders t (local time, as Java does).
func (f DateFormat) Format(t time.Time) string {
	t = t.Local()
	var b strings.Builder
	num := func(v, n int) { fmt.Fprintf(&b, "%0*d", n, v) }
	for _, tk := range f {
		switch tk.letter {
		case 0:
			b.WriteString(tk.literal)
		case 'y':
			if tk.n == 2 {
				num(t.Year()%100, 2)
			} else {
				num(t.Year(), tk.n)
			}
		case 'M':
			switch {
			case tk.n >= 4:
				b.WriteString(t.Month().String())
			case tk.n == 3:
				b.WriteString(t.Month().String()[:3])
			default:
				num(int(t.Month()), tk.n)
			}
		case 'd':
			num(t.Day(), tk.n)
		case 'H':
			num(t.Hour(), tk.n)
		case 'h':
			num((t.Hour()+11)%12+1, tk.n)
		case 'm':
			num(t.Minute(), tk.n)
		case 's':
			num(t.Second(), tk.n)
		case 'S':
			num(t.Nanosecond()/int(time.Millisecond), tk.n)
		case 'a':
			b.WriteString(t.Format("PM"))
		case 'E':
			if tk.n >= 4 {
				b.WriteString(t.Weekday().String())
			} else {
				b.WriteString(t.Weekday().String()[:3])
			}
		case 'Z':
			b.WriteString(t.Format("-0700"))
		}
	}
	return b.String()
}
