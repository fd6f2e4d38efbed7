package results

import (
	"bytes"
	"image/png"
	"math"
	"os"
	"path/filepath"
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
			{Label: "async", X: []float64{0, 10}, N: []int{3, 2}, Mean: []float64{2, 0.625},
				Lo: []float64{2 - h0, 0.625 - h10}, Hi: []float64{2 + h0, 0.625 + h10}},
			{Label: "sync", X: []float64{0, 10}, N: []int{1, 1}, Mean: []float64{2, 0.25},
				Lo: []float64{nan, nan}, Hi: []float64{nan, nan}},
		}},
		{"by mode and N", []string{"mode", "N"}, []Series{
			{Label: "mode=async, N=24", X: []float64{0, 10}, N: []int{3, 2}, Mean: []float64{2, 0.625},
				Lo: []float64{2 - h0, 0.625 - h10}, Hi: []float64{2 + h0, 0.625 + h10}},
			{Label: "mode=sync, N=24", X: []float64{0, 10}, N: []int{1, 1}, Mean: []float64{2, 0.25},
				Lo: []float64{nan, nan}, Hi: []float64{nan, nan}},
		}},
		// 0: 1, 2, 2, 3; 10: 0.5, 0.25, 0.75.
		{"one line", nil, []Series{
			{Label: "", X: []float64{0, 10}, N: []int{4, 3}, Mean: []float64{2, 0.5},
				Lo: []float64{2 - 3.182446305284263*math.Sqrt(2.0/3)/2, 0.5 - 4.302652729749464*0.25/math.Sqrt(3)},
				Hi: []float64{2 + 3.182446305284263*math.Sqrt(2.0/3)/2, 0.5 + 4.302652729749464*0.25/math.Sqrt(3)}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ComputeSeries(traceTable(), PlotSpec{X: "iter", Y: "loss", By: tt.by})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("ComputeSeries = %d series, want %d: %+v", len(got), len(tt.want), got)
			}
			for i, w := range tt.want {
				if !sameSeries(got[i], w) {
					t.Errorf("series %d = %+v, want %+v", i, got[i], w)
				}
			}
		})
	}
}

func sameSeries(a, b Series) bool {
	if a.Label != b.Label || len(a.X) != len(b.X) || len(a.N) != len(b.N) {
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
		{"loss.png", PlotSpec{X: "iter", Y: "loss", By: []string{"mode"}, Title: "Loss"}},
		{"loss.svg", PlotSpec{X: "iter", Y: "loss"}},
		{"loss.pdf", PlotSpec{X: "iter", Y: "loss", By: []string{"mode", "N"}}},
		// The async band at iter 10 reaches below zero and is clipped.
		{"logy.svg", PlotSpec{X: "iter", Y: "loss", By: []string{"mode"}, LogY: true}},
		// A single X value on a log axis.
		{"log.png", PlotSpec{X: "N", Y: "loss", By: []string{"mode"}, LogY: true, LogX: true}},
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
		{"unknown x", traceTable(), PlotSpec{X: "step", Y: "loss"}, "p.png",
			[]string{`table trace has no column "step"`, "columns: key, replicate, mode, N, iter, loss"}},
		{"unknown y", traceTable(), PlotSpec{X: "iter", Y: "rate"}, "p.png", []string{`no column "rate"`}},
		{"unknown by", traceTable(), PlotSpec{X: "iter", Y: "loss", By: []string{"lr"}}, "p.png", []string{`no column "lr"`}},
		{"bad x", bad, PlotSpec{X: "iter", Y: "loss"}, "p.png", []string{`column "iter", row 9: "ten" is not a number`}},
		{"bad y", bad, PlotSpec{X: "N", Y: "loss"}, "p.png", []string{`column "loss", row 10: "x" is not a number`}},
		{"log x", traceTable(), PlotSpec{X: "iter", Y: "loss", LogX: true}, "p.png",
			[]string{`log x axis: column "iter" has value 0`}},
		{"log y", negative, PlotSpec{X: "iter", Y: "loss", By: []string{"mode"}, LogY: true}, "p.svg",
			[]string{`log y axis: mean of column "loss" is -1 at iter=20 (series "late")`}},
		{"no rows", &Table{Name: "eval", Header: []string{"iter", "loss"}, Rows: [][]string{{"0", ""}}},
			PlotSpec{X: "iter", Y: "loss"}, "p.png", []string{`table eval has no rows with a value of "loss"`}},
		{"format", traceTable(), PlotSpec{X: "iter", Y: "loss"}, "p.jpg",
			[]string{`unknown format ".jpg"`, ".png, .svg, .pdf"}},
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
