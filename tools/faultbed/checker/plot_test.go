package checker

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// dots parses an SVG and returns its data dots' classes by tooltip
// ("offset O value V: class").
func dots(t *testing.T, svg []byte) map[string]string {
	t.Helper()
	var doc struct {
		Circles []struct {
			Class string `xml:"class,attr"`
			Title string `xml:"title"`
		} `xml:"circle"`
	}
	require.NoError(t, xml.Unmarshal(svg, &doc), "well-formed SVG")
	out := map[string]string{}
	for _, c := range doc.Circles {
		if c.Class != "" {
			out[strings.SplitN(c.Title, ":", 2)[0]] = c.Class
		}
	}
	return out
}

// TestOrdersPlotMarksAnomalies: a lost value, an offset holding two values
// and a duplicated value each get their own class; the rest are read.
func TestOrdersPlotMarksAnomalies(t *testing.T) {
	b := &h{}
	for v := int64(1); v <= 4; v++ {
		b.send(1, 0, v, v-1) // v3 at offset 2 is never read: lost
	}
	b.send(1, 0, 5, 3)                                     // offset 3 also holds 5: inconsistent
	b.send(1, 0, 6, 4)                                     // 6 at offsets 4 and 5: duplicate
	b.poll(2, r(0, 1), r(1, 2), r(3, 4), r(4, 6), r(5, 6)) // reads past v3
	plots := Orders(b.ops)
	require.Contains(t, plots, int32(0))
	got := dots(t, plots[0])
	assert.Equal(t, map[string]string{
		"offset 0 value 1": "read", "offset 1 value 2": "read", "offset 2 value 3": "lost",
		"offset 3 value 4": "inconsistent", "offset 3 value 5": "inconsistent",
		"offset 4 value 6": "duplicate", "offset 5 value 6": "duplicate",
	}, got)

	dir := t.TempDir()
	require.NoError(t, WriteOrders(dir, b.ops))
	data, err := os.ReadFile(filepath.Join(dir, "orders", "0.svg"))
	require.NoError(t, err)
	assert.Equal(t, plots[0], data)
}

// TestOrdersPlotThinsLongLogs: a long clean log draws at most about
// maxPlotDots dots.
func TestOrdersPlotThinsLongLogs(t *testing.T) {
	b := &h{}
	var reads []Read
	for v := int64(0); v < 3*maxPlotDots; v++ {
		b.send(1, 0, v, v)
		reads = append(reads, r(v, v))
	}
	b.poll(2, reads...)
	got := dots(t, Orders(b.ops)[0])
	assert.LessOrEqual(t, len(got), maxPlotDots+1)
	assert.Greater(t, len(got), maxPlotDots/2)
}
