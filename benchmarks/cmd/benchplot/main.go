// Command benchplot draws a results file (see package benchfile) as an
// SVG: per benchmark, horizontal bars for Strom, kfake and the raw
// baseline (throughput: longer is better; latency: shorter is better),
// each row scaled to its own largest value, with the values and Strom's
// ratio printed. It uses no plotting library.
//
//	benchplot -o results/latest.svg results/2026-11-25-abc1234.txt
package main

import (
	"bytes"
	"encoding/xml"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/strom-broker/strom/benchmarks/benchfile"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("benchplot", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "results/latest.svg", "output SVG file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: benchplot [-o out.svg] results.txt")
		return 2
	}
	f, err := benchfile.ParseFile(fs.Arg(0))
	if err != nil {
		fmt.Fprintln(stderr, "benchplot:", err)
		return 1
	}
	svg := render(f, fs.Arg(0))
	if err := os.WriteFile(*out, svg, 0o644); err != nil {
		fmt.Fprintln(stderr, "benchplot:", err)
		return 1
	}
	return 0
}

// bar is one value of a row.
type bar struct {
	series string // "strom", "kfake", "relay", "raw", "fetchwire"...
	value  float64
}

// row is one benchmark metric across the systems.
type row struct {
	label, unit, ratio string
	bars               []bar
}

// section is a titled group of rows.
type section struct {
	title string
	rows  []row
}

// rowSpec says which metrics make a row.
type rowSpec struct {
	bench, label, unit string
	series             []string // metric = series + "_" + unit
	ratio              string   // ratio metric printed at the right
}

// color is the fill of a series' bars.
func color(series string) string {
	switch series {
	case "strom":
		return "#1f6feb"
	case "kfake":
		return "#e8912d"
	case "relay":
		return "#57ab5a"
	}
	return "#8c959f"
}

// sections lists what the plot shows; rows whose metrics are absent from
// the file are left out.
func sections() []struct {
	title string
	specs []rowSpec
} {
	tput := func(bench, label string) rowSpec {
		return rowSpec{bench, label, "rec/s", []string{"strom", "kfake"}, "x_kfake"}
	}
	lat := func(q string) rowSpec {
		return rowSpec{"Latency", "end-to-end " + q + " (100 B, acks=all, half of peak)", q + "_ms", []string{"strom", "kfake"}, ""}
	}
	return []struct {
		title string
		specs []rowSpec
	}{
		{"Throughput, franz-go client: Strom vs kfake (longer is better)", []rowSpec{
			tput("Produce/record=100B/acks=1/partitions=1", "produce 100 B acks=1 1 part"),
			tput("Produce/record=100B/acks=all/partitions=1", "produce 100 B acks=all 1 part"),
			tput("Produce/record=100B/acks=all/partitions=6", "produce 100 B acks=all 6 parts"),
			tput("Produce/record=1KiB/acks=all/partitions=1", "produce 1 KiB acks=all 1 part"),
			tput("Consume/record=100B/partitions=1", "consume 100 B 1 part"),
			tput("Consume/record=1KiB/partitions=6", "consume 1 KiB 6 parts"),
			tput("ManyPartitions", "produce 100 B over 1,000 parts"),
		}},
		{"Bytes: Strom vs raw baselines (longer is better)", []rowSpec{
			{"EngineAppend/record=100B/batch=16KiB", "engine append 16 KiB batches", "MB/s", []string{"strom", "raw"}, "x_raw"},
			{"EngineAppend/record=100B/batch=1MiB", "engine append 1 MiB batches", "MB/s", []string{"strom", "raw"}, "x_raw"},
			{"EngineReadSendfile", "engine read + sendfile", "MB/s", []string{"strom", "raw"}, "x_raw"},
			{"LargeRecords", "512 KiB records end to end", "MB/s", []string{"strom", "kfake", "relay", "raw"}, "x_raw"},
		}},
		{"Latency at a fixed rate, ms (shorter is better)", []rowSpec{lat("p50"), lat("p99"), lat("p999")}},
	}
}

func collect(f *benchfile.File) []section {
	var out []section
	for _, s := range sections() {
		sec := section{title: s.title}
		for _, sp := range s.specs {
			r := row{label: sp.label, unit: strings.TrimSuffix(sp.unit, "_ms")}
			if strings.HasSuffix(sp.unit, "_ms") {
				r.unit = "ms"
			}
			for _, series := range sp.series {
				if v, ok := f.Median(sp.bench, series+"_"+sp.unit); ok {
					r.bars = append(r.bars, bar{series, v})
				}
			}
			if sp.ratio != "" {
				if v, ok := f.Median(sp.bench, sp.ratio); ok {
					r.ratio = fmt.Sprintf("%s %.2f", sp.ratio, v)
				}
			}
			if len(r.bars) > 0 {
				sec.rows = append(sec.rows, r)
			}
		}
		if len(sec.rows) > 0 {
			out = append(out, sec)
		}
	}
	return out
}

// Layout in pixels.
const (
	width    = 900
	labelW   = 250
	barMaxW  = 420
	barH     = 12
	rowGap   = 10
	titleH   = 30
	margin   = 16
	valueGap = 6
)

func render(f *benchfile.File, source string) []byte {
	secs := collect(f)
	var body bytes.Buffer
	y := margin + 20
	text := func(x, y int, size int, weight, anchor, s string) {
		fmt.Fprintf(&body, `<text x="%d" y="%d" font-size="%d" font-weight="%s" text-anchor="%s">%s</text>`+"\n", x, y, size, weight, anchor, esc(s))
	}
	title := fmt.Sprintf("Strom benchmarks — %s (commit %s, %s)", source, f.Config["commit"], f.Config["cpu"])
	text(margin, y, 14, "bold", "start", title)
	y += 10
	for _, sec := range secs {
		y += titleH
		text(margin, y, 13, "bold", "start", sec.title)
		y += 8
		for _, r := range sec.rows {
			maxV := 0.0
			for _, b := range r.bars {
				maxV = max(maxV, b.value)
			}
			top := y + rowGap
			text(margin, top+barH*len(r.bars)/2+4, 12, "normal", "start", r.label)
			for i, b := range r.bars {
				w := 1
				if maxV > 0 {
					w = max(1, int(b.value/maxV*barMaxW))
				}
				by := top + i*barH
				c := color(b.series)
				fmt.Fprintf(&body, `<rect x="%d" y="%d" width="%d" height="%d" fill="%s"/>`+"\n", labelW, by, w, barH-2, c)
				text(labelW+w+valueGap, by+barH-3, 10, "normal", "start", fmt.Sprintf("%s %s %s", b.series, human(b.value), r.unit))
			}
			if r.ratio != "" {
				text(width-margin, top+barH*len(r.bars)/2+4, 12, "bold", "end", r.ratio)
			}
			y = top + barH*len(r.bars)
		}
	}
	y += 30
	lx := margin
	for _, s := range []string{"strom", "kfake", "relay", "raw"} {
		fmt.Fprintf(&body, `<rect x="%d" y="%d" width="12" height="12" fill="%s"/>`+"\n", lx, y-10, color(s))
		text(lx+16, y, 12, "normal", "start", s)
		lx += 80
	}
	y += margin
	var out bytes.Buffer
	fmt.Fprintf(&out, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif">`+"\n", width, y, width, y)
	fmt.Fprintf(&out, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	out.Write(body.Bytes())
	out.WriteString("</svg>\n")
	return out.Bytes()
}

// human renders v with 3 significant digits and a k/M suffix.
func human(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.3gM", v/1e6)
	case v >= 1e4:
		return fmt.Sprintf("%.3gk", v/1e3)
	}
	return fmt.Sprintf("%.3g", v)
}

func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
