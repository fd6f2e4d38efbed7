package results

import (
	"bytes"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// traceTable is a small trace: two modes, three replicates of async, one of
// sync; one empty loss.
func traceTable() *Table {
	return &Table{
		Name:   "trace",
		Header: []string{"key", "replicate", "mode", "N", "iter", "loss"},
		Rows: [][]string{
			{"a0", "0", "async", "24", "0", "1"},
			{"a0", "0", "async", "24", "10", "0.5"},
			{"s0", "0", "sync", "24", "10", "0.25"},
			{"s0", "0", "sync", "24", "0", "2"},
			{"a1", "1", "async", "24", "0", "2"},
			{"a1", "1", "async", "24", "10", ""},
			{"a2", "2", "async", "24", "0", "3"},
			{"a2", "2", "async", "24", "10", "0.75"},
		},
	}
}

func TestComputeSeries(t *testing.T) {
	nan := math.NaN()
	// async at 0: 1, 2, 3 (mean 2, std 1, t(0.975, 2) = 4.302652729749464);
	// at 10: 0.5, 0.75 (mean 0.625, std √2/8, t(0.975, 1) = 12.706204736174698).
	h0 := 4.302652729749464 / math.Sqrt(3)
	h10 := 12.706204736174698 * (math.Sqrt2 / 8) / math.Sqrt2
	tests := []struct {
		name string
		by   []string
		want []Series
	}{
		{"by mode", []string{"mode"}, []Series{
			{Label: "async", Y: "loss", X: []float64{0, 10}, N: []int{3, 2}, Mean: []float64{2, 0.625},
				Lo: []float64{2 - h0, 0.625 - h10}, Hi: []float64{2 + h0, 0.625 + h10}},
			{Label: "sync", Y: "loss", X: []float64{0, 10}, N: []int{1, 1}, Mean: []float64{2, 0.25},
				Lo: []float64{nan, nan}, Hi: []float64{nan, nan}},
		}},
		{"by mode and N", []string{"mode", "N"}, []Series{
			{Label: "mode=async, N=24", Y: "loss", X: []float64{0, 10}, N: []int{3, 2}, Mean: []float64{2, 0.625},
				Lo: []float64{2 - h0, 0.625 - h10}, Hi: []float64{2 + h0, 0.625 + h10}},
			{Label: "mode=sync, N=24", Y: "loss", X: []float64{0, 10}, N: []int{1, 1}, Mean: []float64{2, 0.25},
				Lo: []float64{nan, nan}, Hi: []float64{nan, nan}},
		}},
		// 0: 1, 2, 2, 3; 10: 0.5, 0.25, 0.75.
		{"one line", nil, []Series{
			{Label: "", Y: "loss", X: []float64{0, 10}, N: []int{4, 3}, Mean: []float64{2, 0.5},
				Lo: []float64{2 - 3.182446305284263*math.Sqrt(2.0/3)/2, 0.5 - 4.302652729749464*0.25/math.Sqrt(3)},
				Hi: []float64{2 + 3.182446305284263*math.Sqrt(2.0/3)/2, 0.5 + 4.302652729749464*0.25/math.Sqrt(3)}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ComputeSeries(traceTable(), PlotSpec{X: "iter", Y: []string{"loss"}, By: tt.by})
			if err != nil {
				t.Fatal(err)
			}
			checkSeries(t, got, tt.want)
		})
	}
}

func sameSeries(a, b Series) bool {
	if a.Label != b.Label || a.Y != b.Y || len(a.X) != len(b.X) || len(a.N) != len(b.N) {
		return false
	}
	for i := range b.X {
		if a.N[i] != b.N[i] || !closeTo(a.X[i], b.X[i]) || !closeTo(a.Mean[i], b.Mean[i]) ||
			!closeTo(a.Lo[i], b.Lo[i]) || !closeTo(a.Hi[i], b.Hi[i]) {
			return false
		}
	}
	return true
}

func TestPlotFormats(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		file string
		spec PlotSpec
	}{
		{"loss.png", PlotSpec{X: "iter", Y: []string{"loss"}, By: []string{"mode"}, Title: "Loss"}},
		{"loss.svg", PlotSpec{X: "iter", Y: []string{"loss"}}},
		{"loss.pdf", PlotSpec{X: "iter", Y: []string{"loss"}, By: []string{"mode", "N"}}},
		// The async band at iter 10 reaches below zero and is clipped.
		{"logy.svg", PlotSpec{X: "iter", Y: []string{"loss"}, By: []string{"mode"}, LogY: true}},
		// A fixed y range, without bands.
		{"range.svg", PlotSpec{X: "iter", Y: []string{"loss"}, By: []string{"mode"}, YRange: [2]float64{0.5, 2}, NoBand: true}},
		// A single X value on a log axis.
		{"log.png", PlotSpec{X: "N", Y: []string{"loss"}, By: []string{"mode"}, LogY: true, LogX: true}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			out := filepath.Join(dir, tt.file)
			if err := Plot(traceTable(), tt.spec, out); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			switch filepath.Ext(tt.file) {
			case ".png":
				if _, err := png.Decode(bytes.NewReader(data)); err != nil {
					t.Errorf("%s does not decode: %v", tt.file, err)
				}
			case ".svg":
				if !bytes.HasPrefix(data, []byte("<?xml")) && !bytes.HasPrefix(data, []byte("<svg")) {
					t.Errorf("%s starts with %q, not an SVG", tt.file, data[:min(len(data), 20)])
				}
			case ".pdf":
				if !bytes.HasPrefix(data, []byte("%PDF-")) {
					t.Errorf("%s starts with %q, not a PDF", tt.file, data[:min(len(data), 20)])
				}
			}
		})
	}
	// No temporary files are left behind.
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("temporary file %s left in the output directory", e.Name())
		}
	}
}

func TestPlotErrors(t *testing.T) {
	bad := traceTable()
	bad.Rows = append(bad.Rows, []string{"b0", "0", "async", "24", "ten", "1"}, []string{"b0", "0", "async", "24", "20", "x"})
	negative := traceTable()
	negative.Rows = append(negative.Rows, []string{"n0", "0", "late", "24", "20", "-1"})
	tests := []struct {
		name string
		tab  *Table
		spec PlotSpec
		file string
		want []string // in the error
	}{
		{"unknown x", traceTable(), PlotSpec{X: "step", Y: []string{"loss"}}, "p.png",
			[]string{`table trace has no column "step"`, "columns: key, replicate, mode, N, iter, loss"}},
		{"unknown y", traceTable(), PlotSpec{X: "iter", Y: []string{"rate"}}, "p.png", []string{`no column "rate"`}},
		{"unknown by", traceTable(), PlotSpec{X: "iter", Y: []string{"loss"}, By: []string{"lr"}}, "p.png", []string{`no column "lr"`}},
		{"bad x", bad, PlotSpec{X: "iter", Y: []string{"loss"}}, "p.png", []string{`column "iter", row 9: "ten" is not a number`}},
		{"bad y", bad, PlotSpec{X: "N", Y: []string{"loss"}}, "p.png", []string{`column "loss", row 10: "x" is not a number`}},
		{"log x", traceTable(), PlotSpec{X: "iter", Y: []string{"loss"}, LogX: true}, "p.png",
			[]string{`log x axis: column "iter" has value 0`}},
		{"log y", negative, PlotSpec{X: "iter", Y: []string{"loss"}, By: []string{"mode"}, LogY: true}, "p.svg",
			[]string{`log y axis: mean of column "loss" is -1 at iter=20 (series "late")`}},
		{"no rows", &Table{Name: "eval", Header: []string{"iter", "loss"}, Rows: [][]string{{"0", ""}}},
			PlotSpec{X: "iter", Y: []string{"loss"}}, "p.png", []string{`table eval has no rows with a value of "loss"`}},
		{"format", traceTable(), PlotSpec{X: "iter", Y: []string{"loss"}}, "p.jpg",
			[]string{`unknown format ".jpg"`, ".png, .svg, .pdf"}},
		{"y range reversed", traceTable(), PlotSpec{X: "iter", Y: []string{"loss"}, YRange: [2]float64{2, 1}}, "p.png",
			[]string{"y range [2, 1]", "lo < hi"}},
		{"y range on a log axis", traceTable(), PlotSpec{X: "iter", Y: []string{"loss"}, LogY: true, YRange: [2]float64{0, 1}}, "p.png",
			[]string{"log axis", "lo > 0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, tt.file)
			err := Plot(tt.tab, tt.spec, out)
			if err == nil {
				t.Fatal("Plot succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Plot error %q does not say %q", err, w)
				}
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("failed Plot left %d files", len(entries))
			}
		})
	}
}

func TestDecadeTicks(t *testing.T) {
	tests := []struct {
		min, max float64
		labels   string // labelled ticks
		n        int    // all ticks
	}{
		{0.125, 2, "0.1 1 10", 19},
		{200, 800, "100 1000", 10},
		{1, 1000, "1 10 100 1000", 28},
		{0.001, 0.05, "0.001 0.01 0.1", 19},
	}
	for _, tt := range tests {
		var labels []string
		ticks := decadeTicks{}.Ticks(tt.min, tt.max)
		for _, tk := range ticks {
			if tk.Label != "" {
				labels = append(labels, tk.Label)
			}
		}
		if got := strings.Join(labels, " "); got != tt.labels || len(ticks) != tt.n {
			t.Errorf("Ticks(%v, %v) = %d ticks labelled %q, want %d labelled %q", tt.min, tt.max, len(ticks), got, tt.n, tt.labels)
		}
	}
}

// qpTable is a small trace with several error columns, err_3 empty
// throughout and err_2 empty in mode b; b holds 1 as "1" and "1.0".
func qpTable() *Table {
	return &Table{
		Name:   "qp",
		Header: []string{"key", "mode", "b", "step", "err_1", "err_2", "err_3", "note"},
		Rows: [][]string{
			{"k0", "a", "1", "1", "4", "8", "", "x"},
			{"k0", "a", "1", "2", "2", "4", "", "x"},
			{"k1", "a", "1.0", "1", "6", "10", "", "y"},
			{"k1", "a", "1.0", "2", "4", "6", "", "y"},
			{"k2", "b", "1", "1", "1", "", "", "z"},
			{"k2", "b", "1", "2", "0.5", "", "", "z"},
			{"k3", "a", "10", "1", "100", "100", "", "w"},
			{"k3", "a", "10", "2", "200", "300", "", "w"},
		},
	}
}

// expect returns the series of the given Y values at steps 1 and 2.
func expect(label, y string, at1, at2 []float64) Series {
	t975 := map[int]float64{1: 12.706204736174698, 2: 4.302652729749464, 3: 3.182446305284263}
	s := Series{Label: label, Y: y, X: []float64{1, 2}}
	for _, vals := range [][]float64{at1, at2} {
		n := len(vals)
		var sum, ss float64
		for _, v := range vals {
			sum += v
		}
		mean := sum / float64(n)
		for _, v := range vals {
			ss += (v - mean) * (v - mean)
		}
		lo, hi := math.NaN(), math.NaN()
		if n > 1 {
			h := t975[n-1] * math.Sqrt(ss/float64(n-1)) / math.Sqrt(float64(n))
			lo, hi = mean-h, mean+h
		}
		s.N = append(s.N, n)
		s.Mean = append(s.Mean, mean)
		s.Lo = append(s.Lo, lo)
		s.Hi = append(s.Hi, hi)
	}
	return s
}

func TestComputeSeriesSeveralYAndWhere(t *testing.T) {
	f := func(col, value string) Filter { return Filter{col, value} }
	// The b=1 rows (k0, k1, k2): err_1 at step 1: 4, 6, 1; at 2: 2, 4, 0.5.
	err1 := expect("err_1", "err_1", []float64{4, 6, 1}, []float64{2, 4, 0.5})
	err2 := expect("err_2", "err_2", []float64{8, 10}, []float64{4, 6})
	tests := []struct {
		name  string
		y     []string
		by    []string
		where []Filter
		want  []Series
		axis  string // y axis label
	}{
		{"columns, numeric filter", []string{"err_1", "err_2"}, nil, []Filter{f("b", "1")},
			[]Series{err1, err2}, "err_1, err_2"},
		{"pattern skips the empty err_3", []string{"err_*"}, nil, []Filter{f("b", "1")},
			[]Series{err1, err2}, "err_*"},
		{"empty literal column skipped", []string{"err_3", "err_1", "err_2"}, nil, []Filter{f("b", "1.00")},
			[]Series{err1, err2}, "err_1, err_2"},
		// Of *: key, mode and note are not numbers, step is X, b a filter.
		{"star keeps the numeric columns", []string{"*"}, nil, []Filter{f("b", "1e0")},
			[]Series{err1, err2}, "*"},
		{"named twice", []string{"err_2", "err_*"}, nil, []Filter{f("b", "1")},
			[]Series{err2, err1}, "err_2, err_*"},
		{"by mode", []string{"err_*"}, []string{"mode"}, []Filter{f("b", "1")}, []Series{
			expect("err_1, a", "err_1", []float64{4, 6}, []float64{2, 4}),
			expect("err_1, b", "err_1", []float64{1}, []float64{0.5}),
			expect("err_2, a", "err_2", []float64{8, 10}, []float64{4, 6}), // no err_2 in mode b
		}, "err_*"},
		{"by two columns", []string{"err_1", "err_2"}, []string{"mode", "key"}, []Filter{f("key", "k1")}, []Series{
			expect("err_1, mode=a, key=k1", "err_1", []float64{6}, []float64{4}),
			expect("err_2, mode=a, key=k1", "err_2", []float64{10}, []float64{6}),
		}, "err_1, err_2"},
		// b=1 is not 10; text filters; alternatives on one column.
		{"text filter", []string{"err_1"}, nil, []Filter{f("mode", "a"), f("b", "1")},
			[]Series{expect("", "err_1", []float64{4, 6}, []float64{2, 4})}, "err_1"},
		{"alternatives", []string{"err_1"}, nil, []Filter{f("key", "k0"), f("key", "k3")},
			[]Series{expect("", "err_1", []float64{4, 100}, []float64{2, 200})}, "err_1"},
		{"numeric filter on 10", []string{"err_*"}, nil, []Filter{f("b", "10.0")}, []Series{
			expect("err_1", "err_1", []float64{100}, []float64{200}),
			expect("err_2", "err_2", []float64{100}, []float64{300}),
		}, "err_*"},
		{"pattern plotting one column", []string{"err_*"}, nil, []Filter{f("mode", "b")},
			[]Series{expect("err_1", "err_1", []float64{1}, []float64{0.5})}, "err_1"},
		{"no filter", []string{"err_1"}, nil, nil,
			[]Series{expect("", "err_1", []float64{4, 6, 1, 100}, []float64{2, 4, 0.5, 200})}, "err_1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := PlotSpec{X: "step", Y: tt.y, By: tt.by, Where: tt.where}
			got, err := ComputeSeries(qpTable(), spec)
			if err != nil {
				t.Fatal(err)
			}
			checkSeries(t, got, tt.want)
			if axis := spec.axisLabel(got); axis != tt.axis {
				t.Errorf("y axis label %q, want %q", axis, tt.axis)
			}
		})
	}
}

func TestComputeSeriesErrors(t *testing.T) {
	tests := []struct {
		name    string
		spec    PlotSpec
		want    []string // in the error
		notWant string
	}{
		{"unknown where column", PlotSpec{X: "step", Y: []string{"err_1"}, Where: []Filter{{"lr", "1"}}},
			[]string{`filter lr=1: table qp has no column "lr"`, "columns: key, mode, b, step, err_1, err_2, err_3, note"}, ""},
		{"no rows left", PlotSpec{X: "step", Y: []string{"err_1"}, Where: []Filter{{"mode", "a"}, {"b", "2"}}},
			[]string{"no row of table qp (8 rows) is left by the filter mode=a, b=2", `b is one of ["1" "1.0" "10"]`}, "mode is one of"},
		{"no rows together", PlotSpec{X: "step", Y: []string{"err_1"}, Where: []Filter{{"mode", "b"}, {"key", "k0"}}},
			[]string{"is left by the filter mode=b, key=k0"}, "is one of"},
		{"pattern matches nothing", PlotSpec{X: "step", Y: []string{"err_1", "loss_*"}},
			[]string{`pattern "loss_*" matches no column of table qp`, "columns: key, mode, b, step, err_1"}, ""},
		{"pattern matches only x", PlotSpec{X: "step", Y: []string{"st*"}}, []string{`pattern "st*" matches no column`}, ""},
		{"bad pattern", PlotSpec{X: "step", Y: []string{"err_["}}, []string{`pattern "err_["`, "syntax error"}, ""},
		{"unknown y among several", PlotSpec{X: "step", Y: []string{"err_1", "loss"}}, []string{`table qp has no column "loss"`}, ""},
		{"literal column not a number", PlotSpec{X: "step", Y: []string{"err_1", "note"}}, []string{`column "note", row 1: "x" is not a number`}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ComputeSeries(qpTable(), tt.spec)
			if err == nil {
				t.Fatal("ComputeSeries succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if tt.notWant != "" && strings.Contains(err.Error(), tt.notWant) {
				t.Errorf("error %q says %q", err, tt.notWant)
			}
		})
	}
}

func TestFilterMatches(t *testing.T) {
	tests := []struct {
		value, field string
		want         bool
	}{
		{"1", "1", true},
		{"1", "1.0", true},
		{"1.0", "1", true},
		{"1", "1e0", true},
		{"0", "-0", true},
		{"1", "10", false},
		{"1", "", false},
		{"", "", true},
		{"", "0", false},
		{"ps-dda", "ps-dda", true},
		{"ps-dda", "ps-DDA", false},
		{"30,30", "30,30", true},
		{"a", "1", false},
	}
	for _, tt := range tests {
		if got := (Filter{"c", tt.value}).Matches(tt.field); got != tt.want {
			t.Errorf("Filter c=%s matches %q = %v, want %v", tt.value, tt.field, got, tt.want)
		}
	}
}

func TestParseFilters(t *testing.T) {
	tests := []struct {
		in      string
		want    []Filter
		wantErr string
	}{
		{"mode=ps-dda", []Filter{{"mode", "ps-dda"}}, ""},
		{"mode=ps-dda,b=1", []Filter{{"mode", "ps-dda"}, {"b", "1"}}, ""},
		{"hidden=30,30,mode=sync", []Filter{{"hidden", "30,30"}, {"mode", "sync"}}, ""},
		{"b=", []Filter{{"b", ""}}, ""},
		{"a=x=y, b=2", []Filter{{"a", "x=y"}, {"b", "2"}}, ""},
		{"", nil, "want column=value"},
		{"mode", nil, "want column=value"},
		{"=1", nil, "no column name"},
		{"a=1,=2", nil, "no column name"},
	}
	for _, tt := range tests {
		got, err := ParseFilters(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseFilters(%q) = %v, %v; want an error saying %q", tt.in, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("ParseFilters(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestMissing(t *testing.T) {
	header := qpTable().Header
	tests := []struct {
		spec PlotSpec
		want []string
	}{
		{PlotSpec{X: "step", Y: []string{"err_*"}, By: []string{"mode"}, Where: []Filter{{"b", "1"}}}, nil},
		{PlotSpec{X: "step", Y: []string{"err_1", "err_2"}}, nil},
		{PlotSpec{X: "iter", Y: []string{"loss", "err_*", "x*"}, By: []string{"lr"}, Where: []Filter{{"mode", "a"}, {"rho", "1"}}},
			[]string{"iter", "loss", "x*", "lr", "rho"}},
		// A pattern must match a column other than X, By and Where.
		{PlotSpec{X: "step", Y: []string{"st*", "m*", "b"}, Where: []Filter{{"mode", "a"}}}, []string{"st*", "m*"}},
		{PlotSpec{X: "step", Y: []string{"err_["}}, []string{"err_["}},
	}
	for _, tt := range tests {
		if got := tt.spec.Missing(header); !slices.Equal(got, tt.want) {
			t.Errorf("%+v.Missing = %q, want %q", tt.spec, got, tt.want)
		}
	}
}

func TestPlotSeveralY(t *testing.T) {
	dir := t.TempDir()
	for _, spec := range []PlotSpec{
		{X: "step", Y: []string{"err_*"}, Where: []Filter{{"b", "1"}}, LogX: true, LogY: true},
		{X: "step", Y: []string{"err_1", "err_2"}, By: []string{"mode"}},
	} {
		out := filepath.Join(dir, "p.png")
		if err := Plot(qpTable(), spec, out); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := png.Decode(bytes.NewReader(data)); err != nil {
			t.Errorf("%+v: the PNG does not decode: %v", spec, err)
		}
	}
	err := Plot(qpTable(), PlotSpec{X: "step", Y: []string{"err_2", "err_3"}, Where: []Filter{{"mode", "b"}}}, filepath.Join(dir, "q.png"))
	if want := `table qp has no rows with a value of "err_2" or "err_3" to plot among those left by the filter mode=b`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Plot of empty columns: %v, want an error saying %q", err, want)
	}
}

// checkSeries compares ComputeSeries' result with the expected series.
func checkSeries(t *testing.T, got, want []Series) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("ComputeSeries = %d series, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		if !sameSeries(got[i], w) {
			t.Errorf("series %d = %+v, want %+v", i, got[i], w)
		}
	}
}

// NoBand draws the mean lines alone: the SVG loses the translucent fills
// of the bands and keeps every line.
func TestPlotNoBand(t *testing.T) {
	dir := t.TempDir()
	spec := PlotSpec{X: "iter", Y: []string{"loss"}, By: []string{"mode"}}
	render := func(spec PlotSpec, name string) string {
		out := filepath.Join(dir, name)
		if err := Plot(traceTable(), spec, out); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	with := render(spec, "band.svg")
	spec.NoBand = true
	without := render(spec, "noband.svg")
	const fill = "fill-opacity"
	if !strings.Contains(with, fill) || strings.Contains(without, fill) {
		t.Errorf("%q in the plot with bands: %v, without: %v; want true, false", fill, strings.Contains(with, fill), strings.Contains(without, fill))
	}
	// The same plot less the band polygons: fewer paths, the axes, ticks
	// and mean lines still there.
	if a, b := strings.Count(with, "<path"), strings.Count(without, "<path"); b >= a || b < a/2 {
		t.Errorf("%d paths with bands, %d without", a, b)
	}
}
