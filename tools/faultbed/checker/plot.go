package checker

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
)

// This file draws Jepsen's orders/ plots: one SVG per key, every
// (offset, value) of the key's version order as a dot, x the dense index
// (offsets holding a value, ranked), y the value. A healthy log is one
// rising band (values are handed out in time order, so later offsets hold
// larger values); anomalies are coloured and carry a tooltip:
//
//	grey    read by an ok poll
//	blue    in the log but never read by an ok poll (not acknowledged, or unseen)
//	red     acknowledged (ok send) and never read by an ok poll: lost or unseen
//	orange  an offset holding two or more values (inconsistent-offsets)
//	purple  a value at two or more offsets (duplicate)
//
// Keys with more than maxPlotDots indices draw every stride-th grey dot
// only; every coloured dot is drawn.

const maxPlotDots = 20000

// plot geometry, in SVG user units.
const (
	plotW, plotH = 1000.0, 600.0
	plotMargin   = 50.0
)

// dot classes and their colours.
var dotColours = []struct{ class, colour, legend string }{
	{"read", "#999999", "read by an ok poll"},
	{"unread", "#3377cc", "never read, not acknowledged"},
	{"lost", "#dd2222", "acknowledged, never read"},
	{"inconsistent", "#ee8800", "offset with several values"},
	{"duplicate", "#8833aa", "value at several offsets"},
}

// Orders returns one SVG per key of ops.
func Orders(ops []Op) map[int32][]byte {
	a := analyse(ops)
	out := map[int32][]byte{}
	for _, k := range sortedKeys(a.orders) {
		out[k] = a.plot(k)
	}
	return out
}

// WriteOrders writes Orders(ops) to dir/orders/<key>.svg.
func WriteOrders(dir string, ops []Op) error {
	d := filepath.Join(dir, "orders")
	if err := os.MkdirAll(d, 0o755); err != nil {
		return fmt.Errorf("checker: %w", err)
	}
	for k, svg := range Orders(ops) {
		if err := os.WriteFile(filepath.Join(d, fmt.Sprintf("%d.svg", k)), svg, 0o644); err != nil {
			return fmt.Errorf("checker: %w", err)
		}
	}
	return nil
}

// class is the dot class of value v at index i of key k.
func (a *analysis) class(k int32, o *order, off, v int64) string {
	switch {
	case len(o.log[off]) > 1:
		return "inconsistent"
	case o.first[v] != o.last[v]:
		return "duplicate"
	case a.reads[OK].has(k, v):
		return "read"
	case a.writes[OK].has(k, v):
		return "lost"
	default:
		return "unread"
	}
}

func (a *analysis) plot(k int32) []byte {
	o := a.orders[k]
	lo, hi := int64(0), int64(1)
	for i, off := range o.offsets {
		for v := range o.log[off] {
			if i == 0 || v < lo {
				lo = v
			}
			hi = max(hi, v)
		}
	}
	hi = max(hi, lo+1)
	n := max(len(o.offsets), 2)
	stride := max(1, len(o.offsets)/maxPlotDots)
	x := func(i int) float64 { return plotMargin + plotW*float64(i)/float64(n-1) }
	y := func(v int64) float64 { return plotMargin + plotH*(1-float64(v-lo)/float64(hi-lo)) }

	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" font-family="sans-serif" font-size="12">`+"\n",
		plotW+2*plotMargin+200, plotH+2*plotMargin)
	fmt.Fprintf(&b, `<text x="%.0f" y="20" font-size="14">key %d: %d offsets (%d to %d), values %d to %d</text>`+"\n",
		plotMargin, k, len(o.offsets), o.offsets[0], o.offsets[len(o.offsets)-1], lo, hi)
	fmt.Fprintf(&b, `<rect x="%.0f" y="%.0f" width="%.0f" height="%.0f" fill="none" stroke="#000"/>`+"\n", plotMargin, plotMargin, plotW, plotH)
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f">index (dense offset) →</text>`+"\n", plotMargin, plotH+plotMargin+20)
	fmt.Fprintf(&b, `<text x="15" y="%.0f" transform="rotate(-90 15 %.0f)">value →</text>`+"\n", plotMargin+plotH/2, plotMargin+plotH/2)
	counts := map[string]int{}
	for i, off := range o.offsets {
		for _, v := range slices.Sorted(maps.Keys(o.log[off])) {
			c := a.class(k, o, off, v)
			counts[c]++
			if c == "read" && i%stride != 0 {
				continue
			}
			fmt.Fprintf(&b, `<circle class="%s" cx="%.1f" cy="%.1f" r="%s" fill="%s"><title>offset %d value %d: %s</title></circle>`+"\n",
				c, x(i), y(v), map[bool]string{true: "1.5", false: "4"}[c == "read"], colour(c), off, v, c)
		}
	}
	for j, d := range dotColours {
		ly := plotMargin + 20*float64(j)
		fmt.Fprintf(&b, `<circle cx="%.0f" cy="%.0f" r="4" fill="%s"/><text x="%.0f" y="%.0f">%s (%d)</text>`+"\n",
			plotW+plotMargin+15, ly, d.colour, plotW+plotMargin+25, ly+4, d.legend, counts[d.class])
	}
	b.WriteString("</svg>\n")
	return b.Bytes()
}

func colour(class string) string {
	for _, d := range dotColours {
		if d.class == class {
			return d.colour
		}
	}
	return "#000"
}
