package results

import (
	"bufio"
	"fmt"
	"image/color"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// PlotSpec describes a plot of one column of a table against another: the
// mean of Y over the rows that share an X value, with its 95% confidence
// band, one line per combination of the By columns.
type PlotSpec struct {
	X, Y          string   // column names; X must be numeric
	By            []string // columns whose distinct value combinations become separate lines (may be empty: one line)
	LogX, LogY    bool
	Title         string    // optional
	Width, Height vg.Length // defaults 16cm x 10cm
}

// Series is one line of a plot: for each distinct X value, in increasing
// order, the number N of non-empty Y values at that X, their mean and the
// 95% Student t confidence interval [Lo, Hi] of the mean (see Stat); Lo and
// Hi are NaN where N is 1.
type Series struct {
	Label           string // By values: "v" for one By column, "a=v, b=w" for several, "" for none
	X, Mean, Lo, Hi []float64
	N               []int
}

// ComputeSeries computes the lines that Plot draws: the rows of t are split
// by the values of spec.By (series in order of first appearance), then
// grouped by their X value; rows whose Y field is empty are skipped, and a
// series with no Y value at all is left out. A non-empty X or Y field that
// is not a finite number is an error, as is an unknown column. Log axes are
// not checked here.
func ComputeSeries(t *Table, spec PlotSpec) ([]Series, error) {
	xcol, err := t.Col(spec.X)
	if err != nil {
		return nil, err
	}
	ycol, err := t.Col(spec.Y)
	if err != nil {
		return nil, err
	}
	bcols, err := t.cols(spec.By)
	if err != nil {
		return nil, err
	}

	type group struct {
		label string
		xs    []float64 // distinct X values, in order of first appearance
		acc   map[float64]*moments
	}
	var groups []*group
	byKey := make(map[string]*group)
	var key []byte
	for r, row := range t.Rows {
		if row[ycol] == "" {
			continue
		}
		y, err := t.number(r, ycol)
		if err != nil {
			return nil, err
		}
		x, err := t.number(r, xcol)
		if err != nil {
			return nil, err
		}
		key = groupKey(key[:0], row, bcols)
		g := byKey[string(key)]
		if g == nil {
			g = &group{label: seriesLabel(spec.By, row, bcols), acc: make(map[float64]*moments)}
			byKey[string(key)] = g
			groups = append(groups, g)
		}
		m := g.acc[x] // -0 and 0 are one key
		if m == nil {
			m = new(moments)
			g.acc[x] = m
			g.xs = append(g.xs, x)
		}
		m.add(y)
	}

	tq := tQuantile975()
	series := make([]Series, len(groups))
	for i, g := range groups {
		slices.Sort(g.xs)
		s := Series{Label: g.label}
		for _, x := range g.xs {
			st := g.acc[x].stat(tq)
			s.X = append(s.X, x)
			s.N = append(s.N, st.N)
			s.Mean = append(s.Mean, st.Mean)
			s.Lo = append(s.Lo, st.CILow)
			s.Hi = append(s.Hi, st.CIHigh)
		}
		series[i] = s
	}
	return series, nil
}

// seriesLabel returns the legend label of a row's By values.
func seriesLabel(by []string, row []string, cols []int) string {
	if len(cols) == 1 {
		return row[cols[0]]
	}
	parts := make([]string, len(cols))
	for i, c := range cols {
		parts[i] = by[i] + "=" + row[c]
	}
	return strings.Join(parts, ", ")
}

// plotFormats lists the file extensions Plot supports, for error messages.
const plotFormats = ".png, .svg, .pdf"

// Plot draws spec.Y against spec.X from t into the file out, whose
// extension (.png, .svg or .pdf) chooses the format. Each series of
// ComputeSeries is a line through the means, in a color of the plotutil
// palette (dashed once the palette is used up), over a translucent band
// between the confidence bounds wherever consecutive X values both have at
// least two Y values. Axis labels are the column names; a legend names the
// series when spec.By is not empty.
//
// On a log axis every plotted value must be positive: an X value or a mean
// that is not is an error. A lower confidence bound that is not positive
// (the interval of a positive quantity can reach below zero) is clipped to
// half the smallest positive value plotted, so that the band runs to the
// bottom of the plot.
//
// The file is rendered in memory, then written atomically (see
// WriteAtomic).
func Plot(t *Table, spec PlotSpec, out string) error {
	ext := strings.ToLower(filepath.Ext(out))
	switch ext {
	case ".png", ".svg", ".pdf":
	default:
		return fmt.Errorf("plot %s: unknown format %q; the file name must end in one of %s", out, ext, plotFormats)
	}
	series, err := ComputeSeries(t, spec)
	if err != nil {
		return fmt.Errorf("plot %s: %w", out, err)
	}
	if len(series) == 0 {
		return fmt.Errorf("plot %s: table %s has no rows with a value of %q to plot", out, t.Name, spec.Y)
	}
	p, err := newPlot(spec, series)
	if err != nil {
		return fmt.Errorf("plot %s of table %s: %w", out, t.Name, err)
	}
	w, h := spec.Width, spec.Height
	if w <= 0 {
		w = 16 * vg.Centimeter
	}
	if h <= 0 {
		h = 10 * vg.Centimeter
	}
	img, err := p.WriterTo(w, h, ext[1:])
	if err != nil {
		return fmt.Errorf("plot %s: %w", out, err)
	}
	return WriteAtomic(out, func(bw *bufio.Writer) error {
		_, err := img.WriteTo(bw)
		return err
	})
}

// newPlot builds the plot of series, checking and clipping values for log
// axes.
func newPlot(spec PlotSpec, series []Series) (*plot.Plot, error) {
	// The floor to which non-positive lower bounds are clipped on a log Y
	// axis: half the smallest positive value plotted.
	floor := math.Inf(1)
	for _, s := range series {
		for i, x := range s.X {
			if spec.LogX && x <= 0 {
				return nil, fmt.Errorf("log x axis: column %q has value %v%s", spec.X, x, inSeries(s.Label))
			}
			if spec.LogY && s.Mean[i] <= 0 {
				return nil, fmt.Errorf("log y axis: mean of column %q is %v at %s=%v%s",
					spec.Y, s.Mean[i], spec.X, x, inSeries(s.Label))
			}
			floor = min(floor, s.Mean[i])
			if s.Lo[i] > 0 {
				floor = min(floor, s.Lo[i])
			}
		}
	}
	floor /= 2

	p := plot.New()
	p.Title.Text = spec.Title
	p.X.Label.Text = spec.X
	p.Y.Label.Text = spec.Y
	if spec.LogX {
		logAxis(&p.X)
	}
	if spec.LogY {
		logAxis(&p.Y)
	}
	p.Legend.Top = true
	ncolors := len(palette)
	// Bands first, so that every mean line is drawn over every band.
	var lines []plot.Plotter
	for i, s := range series {
		c := palette[i%ncolors]
		lo := s.Lo
		if spec.LogY {
			lo = slices.Clone(s.Lo)
			for j, v := range lo {
				if v <= 0 {
					lo[j] = floor
				}
			}
		}
		bands, err := bandPolygons(s.X, lo, s.Hi, c)
		if err != nil {
			return nil, err
		}
		for _, b := range bands {
			p.Add(b)
		}

		xys := make(plotter.XYs, len(s.X))
		for j := range s.X {
			xys[j] = plotter.XY{X: s.X[j], Y: s.Mean[j]}
		}
		line, err := plotter.NewLine(xys)
		if err != nil {
			return nil, fmt.Errorf("series %q: %w", s.Label, err)
		}
		line.LineStyle.Color = c
		line.LineStyle.Width = vg.Points(1.5)
		line.LineStyle.Dashes = plotutil.Dashes(i / ncolors)
		lines = append(lines, line)
		if len(xys) == 1 { // a line through one point is invisible
			dot, err := plotter.NewScatter(xys)
			if err != nil {
				return nil, fmt.Errorf("series %q: %w", s.Label, err)
			}
			dot.GlyphStyle.Color = c
			dot.GlyphStyle.Shape = draw.CircleGlyph{}
			lines = append(lines, dot)
		}
		if len(spec.By) > 0 {
			p.Legend.Add(s.Label, line)
		}
	}
	p.Add(lines...)
	// Room above the data for the legend (about 5% of the height per entry).
	if len(spec.By) > 0 && !spec.LogY && p.Y.Max > p.Y.Min {
		frac := min(0.6, 0.05*float64(len(series)))
		p.Y.Max += (p.Y.Max - p.Y.Min) * frac / (1 - frac)
	}
	if spec.LogX {
		widenSingular(&p.X)
	}
	if spec.LogY {
		widenSingular(&p.Y)
	}
	return p, nil
}

// palette is Tableau 10: ten colours that stay apart, also in grey print.
var palette = []color.Color{
	color.RGBA{0x1f, 0x77, 0xb4, 0xff}, color.RGBA{0xff, 0x7f, 0x0e, 0xff}, color.RGBA{0x2c, 0xa0, 0x2c, 0xff},
	color.RGBA{0xd6, 0x27, 0x28, 0xff}, color.RGBA{0x94, 0x67, 0xbd, 0xff}, color.RGBA{0x8c, 0x56, 0x4b, 0xff},
	color.RGBA{0xe3, 0x77, 0xc2, 0xff}, color.RGBA{0x7f, 0x7f, 0x7f, 0xff}, color.RGBA{0xbc, 0xbd, 0x22, 0xff},
	color.RGBA{0x17, 0xbe, 0xcf, 0xff},
}

// bandPolygons returns the translucent confidence bands of one series: one
// polygon per run of at least two consecutive X values whose bounds are
// known (no band where a single Y value gives no interval).
func bandPolygons(x, lo, hi []float64, c color.Color) ([]*plotter.Polygon, error) {
	r, g, b, _ := c.RGBA()
	fill := color.NRGBA{R: uint8(r >> 8), G: uint8(g >> 8), B: uint8(b >> 8), A: 0x28}
	var bands []*plotter.Polygon
	for start := 0; start < len(x); {
		if math.IsNaN(lo[start]) || math.IsNaN(hi[start]) {
			start++
			continue
		}
		end := start + 1
		for end < len(x) && !math.IsNaN(lo[end]) && !math.IsNaN(hi[end]) {
			end++
		}
		if end-start >= 2 {
			ring := make(plotter.XYs, 0, 2*(end-start))
			for i := start; i < end; i++ {
				ring = append(ring, plotter.XY{X: x[i], Y: lo[i]})
			}
			for i := end - 1; i >= start; i-- {
				ring = append(ring, plotter.XY{X: x[i], Y: hi[i]})
			}
			poly, err := plotter.NewPolygon(ring)
			if err != nil {
				return nil, err
			}
			poly.Color = fill
			poly.LineStyle.Width = 0
			bands = append(bands, poly)
		}
		start = end
	}
	return bands, nil
}

// logAxis makes a log axis with labelled ticks at powers of ten. The axis
// is widened to the enclosing powers of ten, so that data within one decade
// still gets labelled ticks.
func logAxis(a *plot.Axis) {
	a.Scale = plot.LogScale{}
	a.Tick.Marker = decadeTicks{}
	a.AutoRescale = true
}

// decadeTicks marks a log axis with labelled ticks at the powers of ten
// from the one at or below min to the one at or above max, and minor ticks
// at their multiples 2..9. (plot.LogTicks starts at 10^trunc(log10(min)),
// above min when that is below 1, which leaves the bottom decade bare.)
type decadeTicks struct{}

func (decadeTicks) Ticks(min, max float64) []plot.Tick {
	lo := int(math.Floor(math.Log10(min)))
	hi := int(math.Ceil(math.Log10(max)))
	var ticks []plot.Tick
	for e := lo; e <= hi; e++ {
		p := math.Pow10(e)
		ticks = append(ticks, plot.Tick{Value: p, Label: strconv.FormatFloat(p, 'g', -1, 64)})
		for i := 2; i < 10 && e < hi; i++ {
			ticks = append(ticks, plot.Tick{Value: float64(i) * p})
		}
	}
	return ticks
}

// widenSingular widens the range of a log axis whose data has a single
// value (gonum would widen it by ±1, possibly to 0) to a decade each side.
func widenSingular(a *plot.Axis) {
	if a.Min == a.Max {
		a.Min, a.Max = a.Min/10, a.Max*10
	}
}

func inSeries(label string) string {
	if label == "" {
		return ""
	}
	return fmt.Sprintf(" (series %q)", label)
}
