package results

import (
	"bufio"
	"errors"
	"fmt"
	"image/color"
	"math"
	"path"
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

// PlotSpec describes a plot of one or more columns of a table against
// another: the mean of each Y column over the rows that share an X value,
// with its 95% confidence band, one line per Y column and combination of the
// By columns, over the rows that pass the Where filters.
type PlotSpec struct {
	X string // column name; must be numeric
	// Y lists the columns to plot, in order: column names or path.Match
	// patterns (an entry with *, ? or [ is a pattern), e.g. "err_*". A
	// pattern stands for the matching columns of the table in header order,
	// leaving out X, the By and Where columns and any column with a
	// non-empty field that is not a number in the selected rows; it must
	// match at least one column of the header. A column named twice is
	// plotted once.
	Y          []string
	By         []string // columns whose distinct value combinations become separate lines (may be empty: one line per Y column)
	Where      []Filter // row filters (see Filter); none keeps every row
	LogX, LogY bool
	NoBand     bool // the mean lines alone, without confidence bands
	// YRange fixes the y axis to [YRange[0], YRange[1]] (lines are clipped
	// to it); the zero value scales it to the data, with room above for
	// the legend.
	YRange        [2]float64
	Title         string    // optional
	Width, Height vg.Length // defaults 16cm x 10cm
}

// Filter keeps the rows of a table whose column Col holds Value: as text,
// or, when both the field and Value are numbers, numerically (Value "1"
// matches "1", "1.0" and "1e0"). Filters on different columns must all
// hold; several filters on one column are alternatives (a row passes when
// it matches any of them).
type Filter struct {
	Col, Value string
}

func (f Filter) String() string { return f.Col + "=" + f.Value }

// Matches reports whether a field passes the filter.
func (f Filter) Matches(field string) bool {
	if field == f.Value {
		return true
	}
	a, err := strconv.ParseFloat(f.Value, 64)
	if err != nil {
		return false
	}
	b, err := strconv.ParseFloat(field, 64)
	return err == nil && a == b
}

// ParseFilters parses "col=value[,col=value...]". A comma-separated piece
// without "=" continues the value before it, so that a value may hold
// commas: "hidden=30,30,mode=sync" is hidden = "30,30" and mode = "sync".
// The value may be empty ("col=" keeps the rows where col is empty); the
// column name (spaces around it are dropped) may not.
func ParseFilters(s string) ([]Filter, error) {
	var fs []Filter
	for _, piece := range strings.Split(s, ",") {
		col, val, ok := strings.Cut(piece, "=")
		if !ok {
			if len(fs) == 0 {
				return nil, fmt.Errorf("filter %q: want column=value[,column=value...]", s)
			}
			fs[len(fs)-1].Value += "," + piece
			continue
		}
		col = strings.TrimSpace(col)
		if col == "" {
			return nil, fmt.Errorf("filter %q: no column name before = in %q", s, piece)
		}
		fs = append(fs, Filter{Col: col, Value: val})
	}
	return fs, nil
}

// isPattern reports whether a Y entry is a path.Match pattern rather than
// a column name.
func isPattern(s string) bool { return strings.ContainsAny(s, "*?[") }

// patternColumns returns the columns of header that pattern matches, in
// header order, leaving out those in skip.
func patternColumns(header []string, pattern string, skip []string) ([]string, error) {
	if _, err := path.Match(pattern, ""); err != nil {
		return nil, fmt.Errorf("pattern %q: %w", pattern, err)
	}
	var out []string
	for _, h := range header {
		if ok, _ := path.Match(pattern, h); ok && !slices.Contains(skip, h) {
			out = append(out, h)
		}
	}
	return out, nil
}

// nonY returns the columns a pattern never stands for: X, By and Where.
func (spec PlotSpec) nonY() []string {
	skip := append([]string{spec.X}, spec.By...)
	for _, f := range spec.Where {
		skip = append(skip, f.Col)
	}
	return skip
}

// Missing returns what the plot needs that a table with the given columns
// lacks, in the order X, Y, By, Where: the names of absent columns and the
// Y patterns that match none of the columns (see PlotSpec.Y); nil if the
// table has all it needs. It checks names only, not values: it is how to
// pick, of several tables, one to plot.
func (spec PlotSpec) Missing(columns []string) []string {
	var missing []string
	add := func(c string) {
		if !slices.Contains(missing, c) {
			missing = append(missing, c)
		}
	}
	if !slices.Contains(columns, spec.X) {
		add(spec.X)
	}
	skip := spec.nonY()
	for _, y := range spec.Y {
		if isPattern(y) {
			if m, err := patternColumns(columns, y, skip); err != nil || len(m) == 0 {
				add(y)
			}
		} else if !slices.Contains(columns, y) {
			add(y)
		}
	}
	for _, c := range spec.By {
		if !slices.Contains(columns, c) {
			add(c)
		}
	}
	for _, f := range spec.Where {
		if !slices.Contains(columns, f.Col) {
			add(f.Col)
		}
	}
	return missing
}

// Series is one line of a plot: for each distinct X value, in increasing
// order, the number N of non-empty Y values at that X, their mean and the
// 95% Student t confidence interval [Lo, Hi] of the mean (see Stat); Lo and
// Hi are NaN where N is 1.
type Series struct {
	// Label names the line in the legend. By values: "v" for one
	// non-numeric By column, "b=5" for a numeric one, "a=v, b=w" for
	// several, "" for none. When the plot has several Y columns (more than
	// one, or a pattern), the Y column comes first: "col" without By,
	// "col, v" or "col, a=v, b=w" with.
	Label           string
	Y               string // the Y column
	X, Mean, Lo, Hi []float64
	N               []int
}

// yColumn is a column to plot and the index of the Y entry it comes from.
type yColumn struct {
	col, entry int
	pattern    bool
}

// yColumns expands spec.Y over the header of t.
func (spec PlotSpec) yColumns(t *Table) ([]yColumn, error) {
	var out []yColumn
	seen := map[int]bool{}
	skip := spec.nonY()
	for i, y := range spec.Y {
		var names []string
		if isPattern(y) {
			var err error
			if names, err = patternColumns(t.Header, y, skip); err != nil {
				return nil, err
			}
			if len(names) == 0 {
				return nil, fmt.Errorf("pattern %q matches no column of table %s to plot (columns: %s)", y, t.Name, strings.Join(t.Header, ", "))
			}
		} else {
			names = []string{y}
		}
		for _, name := range names {
			c, err := t.Col(name)
			if err != nil {
				return nil, err
			}
			if !seen[c] {
				seen[c] = true
				out = append(out, yColumn{col: c, entry: i, pattern: isPattern(y)})
			}
		}
	}
	return out, nil
}

// selectRows returns the indices of the rows of t that pass the filters.
// Unknown columns and a selection of no rows are errors.
func selectRows(t *Table, where []Filter) ([]int, error) {
	// Filters grouped by column, in order of first appearance.
	var cols []int
	byCol := map[int][]Filter{}
	for _, f := range where {
		c, err := t.Col(f.Col)
		if err != nil {
			return nil, fmt.Errorf("filter %s: %w", f, err)
		}
		if byCol[c] == nil {
			cols = append(cols, c)
		}
		byCol[c] = append(byCol[c], f)
	}
	pass := func(row []string, c int) bool {
		for _, f := range byCol[c] {
			if f.Matches(row[c]) {
				return true
			}
		}
		return false
	}
	var rows []int
	for r, row := range t.Rows {
		ok := true
		for _, c := range cols {
			ok = ok && pass(row, c)
		}
		if ok {
			rows = append(rows, r)
		}
	}
	if len(rows) == 0 && len(where) > 0 {
		var b strings.Builder
		parts := make([]string, len(where))
		for i, f := range where {
			parts[i] = f.String()
		}
		fmt.Fprintf(&b, "no row of table %s (%d rows) is left by the filter %s", t.Name, len(t.Rows), strings.Join(parts, ", "))
		// Name the values of the columns whose filter alone keeps nothing.
		for _, c := range cols {
			var values []string
			alone := false
			for _, row := range t.Rows {
				alone = alone || pass(row, c)
				if !slices.Contains(values, row[c]) {
					values = append(values, row[c])
				}
			}
			if alone {
				continue
			}
			const show = 10
			more := ""
			if len(values) > show {
				values, more = values[:show], ", ..."
			}
			fmt.Fprintf(&b, "; %s is one of %q%s", t.Header[c], values, more)
		}
		return nil, errors.New(b.String())
	}
	return rows, nil
}

// ComputeSeries computes the lines that Plot draws. The rows of t that pass
// spec.Where are kept (a filter that keeps no row is an error); for each Y
// column in turn (see PlotSpec.Y), those rows are split by the values of
// spec.By (series in order of first appearance), then grouped by their X
// value; rows whose Y field is empty are skipped, and a series with no Y
// value at all is left out (so a Y column that is empty in every kept row
// gives no line). A non-empty X or Y field that is not a finite number is an
// error (a column matched by a pattern with such a field is left out
// instead), as is an unknown column or a pattern that matches none. Log
// axes are not checked here.
func ComputeSeries(t *Table, spec PlotSpec) ([]Series, error) {
	xcol, err := t.Col(spec.X)
	if err != nil {
		return nil, err
	}
	bcols, err := t.cols(spec.By)
	if err != nil {
		return nil, err
	}
	rows, err := selectRows(t, spec.Where)
	if err != nil {
		return nil, err
	}
	ycols, err := spec.yColumns(t)
	if err != nil {
		return nil, err
	}
	several := len(ycols) > 1 || slices.ContainsFunc(spec.Y, isPattern)

	xs := make([]float64, len(t.Rows))
	xok := make([]bool, len(t.Rows))
	type group struct {
		label string
		xs    []float64 // distinct X values, in order of first appearance
		acc   map[float64]*moments
	}
	tq := tQuantile975()
	var series []Series
	var key []byte
ycols:
	for _, yc := range ycols {
		ycol := yc.col
		if yc.pattern {
			// Only the numeric columns of a pattern.
			for _, r := range rows {
				if t.Rows[r][ycol] != "" {
					if _, err := t.number(r, ycol); err != nil {
						continue ycols
					}
				}
			}
		}
		var groups []*group
		byKey := make(map[string]*group)
		for _, r := range rows {
			row := t.Rows[r]
			if row[ycol] == "" {
				continue
			}
			y, err := t.number(r, ycol)
			if err != nil {
				return nil, err
			}
			if !xok[r] {
				if xs[r], err = t.number(r, xcol); err != nil {
					return nil, err
				}
				xok[r] = true
			}
			x := xs[r]
			key = groupKey(key[:0], row, bcols)
			g := byKey[string(key)]
			if g == nil {
				label := seriesLabel(spec.By, row, bcols)
				if several {
					label = yLabel(t.Header[ycol], label)
				}
				g = &group{label: label, acc: make(map[float64]*moments)}
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
		for _, g := range groups {
			slices.Sort(g.xs)
			s := Series{Label: g.label, Y: t.Header[ycol]}
			for _, x := range g.xs {
				st := g.acc[x].stat(tq)
				s.X = append(s.X, x)
				s.N = append(s.N, st.N)
				s.Mean = append(s.Mean, st.Mean)
				s.Lo = append(s.Lo, st.CILow)
				s.Hi = append(s.Hi, st.CIHigh)
			}
			series = append(series, s)
		}
	}
	return series, nil
}

// yLabel prefixes a By label with the Y column.
func yLabel(col, by string) string {
	if by == "" {
		return col
	}
	return col + ", " + by
}

// seriesLabel returns the legend label of a row's By values: the value of a
// single non-numeric column ("async"), else name=value pairs ("b=5",
// "mode=async, b=5").
func seriesLabel(by []string, row []string, cols []int) string {
	if len(cols) == 0 {
		return ""
	}
	if len(cols) == 1 {
		// A bare number says little in a legend: "b=5", but "async".
		if _, err := strconv.ParseFloat(row[cols[0]], 64); err != nil {
			return row[cols[0]]
		}
	}
	parts := make([]string, len(cols))
	for i, c := range cols {
		parts[i] = by[i] + "=" + row[c]
	}
	return strings.Join(parts, ", ")
}

// axisLabel returns the Y axis label of the plotted series: the column when
// there is one, otherwise the entries of spec.Y that gave a line, joined by
// ", " (a pattern stands for its columns: "err_*").
func (spec PlotSpec) axisLabel(series []Series) string {
	var cols []string
	for _, s := range series {
		if !slices.Contains(cols, s.Y) {
			cols = append(cols, s.Y)
		}
	}
	if len(cols) == 1 {
		return cols[0]
	}
	var entries []string
	for _, y := range spec.Y {
		for _, c := range cols {
			if ok, _ := path.Match(y, c); ok || y == c {
				entries = append(entries, y)
				break
			}
		}
	}
	return strings.Join(entries, ", ")
}

// plotFormats lists the file extensions Plot supports, for error messages.
const plotFormats = ".png, .svg, .pdf"

// Plot draws the spec.Y columns against spec.X from t into the file out,
// whose extension (.png, .svg or .pdf) chooses the format. Each series of
// ComputeSeries is a line through the means, in a color of the palette
// (dashed once the palette is used up), over a translucent band between the
// confidence bounds wherever consecutive X values both have at least two Y
// values (unless spec.NoBand). The X axis label is spec.X; the Y axis label is the Y column when
// one is plotted, otherwise the spec.Y entries that gave a line, joined by
// ", " (a pattern as written: "err_*"). A legend names the series when
// spec.By is not empty or there are several Y columns.
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
	if r := spec.YRange; r != [2]float64{} {
		if !(r[0] < r[1]) || math.IsInf(r[0], 0) || math.IsInf(r[1], 0) {
			return fmt.Errorf("plot %s: y range [%g, %g]: want finite lo < hi", out, r[0], r[1])
		}
		if spec.LogY && !(r[0] > 0) {
			return fmt.Errorf("plot %s: y range [%g, %g] on a log axis: want lo > 0", out, r[0], r[1])
		}
	}
	series, err := ComputeSeries(t, spec)
	if err != nil {
		return fmt.Errorf("plot %s: %w", out, err)
	}
	if len(series) == 0 {
		ys := make([]string, len(spec.Y))
		for i, y := range spec.Y {
			ys[i] = strconv.Quote(y)
		}
		where := ""
		if len(spec.Where) > 0 {
			parts := make([]string, len(spec.Where))
			for i, f := range spec.Where {
				parts[i] = f.String()
			}
			where = " among those left by the filter " + strings.Join(parts, ", ")
		}
		return fmt.Errorf("plot %s: table %s has no rows with a value of %s to plot%s", out, t.Name, strings.Join(ys, " or "), where)
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
					s.Y, s.Mean[i], spec.X, x, inSeries(s.Label))
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
	p.Y.Label.Text = spec.axisLabel(series)
	if spec.LogX {
		logAxis(&p.X)
	}
	if spec.LogY {
		logAxis(&p.Y)
	}
	p.Legend.Top = true
	legend := len(spec.By) > 0 || len(series) > 0 && series[0].Label != "" // several Y columns
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
		if !spec.NoBand {
			bands, err := bandPolygons(s.X, lo, s.Hi, c)
			if err != nil {
				return nil, err
			}
			for _, b := range bands {
				p.Add(b)
			}
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
		if legend {
			p.Legend.Add(s.Label, line)
		}
	}
	p.Add(lines...)
	if spec.YRange != [2]float64{} {
		p.Y.Min, p.Y.Max = spec.YRange[0], spec.YRange[1]
		return p, nil
	}
	// Room above the data for the legend (about 5% of the height per entry).
	if legend && !spec.LogY && p.Y.Max > p.Y.Min {
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
