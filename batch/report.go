package batch

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
)

// PointMeans is one parameter point's completed cells in a report: their
// parameters, how many completed, and the mean over them of each
// commit-table metric (NaN values skipped; NaN where all are NaN).
type PointMeans struct {
	Values Values
	Cells  int
	Mean   []float64
}

// MeansByPoint groups completed cells (summary[i] != nil: cell i's
// commit-table metrics) by parameter point, in order of first appearance,
// and averages their metrics: what a family's Report prints.
func MeansByPoint(cells []*Cell, summary [][]float64) []PointMeans {
	var out []PointMeans
	index := map[int]int{}
	var counts [][]int
	for i, c := range cells {
		if summary[i] == nil {
			continue
		}
		k, ok := index[c.Point]
		if !ok {
			k = len(out)
			index[c.Point] = k
			out = append(out, PointMeans{Values: c.Values, Mean: make([]float64, len(summary[i]))})
			counts = append(counts, make([]int, len(summary[i])))
		}
		out[k].Cells++
		for j, v := range summary[i] {
			if !math.IsNaN(v) {
				out[k].Mean[j] += v
				counts[k][j]++
			}
		}
	}
	for k := range out {
		for j := range out[k].Mean {
			if counts[k][j] == 0 {
				out[k].Mean[j] = math.NaN()
			} else {
				out[k].Mean[j] /= float64(counts[k][j])
			}
		}
	}
	return out
}

// Varying returns the names of the parameters, in schema order, whose
// values differ between the given points (which share one schema): the
// columns a report needs to tell the points apart.
func Varying(points []PointMeans) []string {
	if len(points) == 0 {
		return nil
	}
	var out []string
	for _, p := range points[0].Values.Schema() {
		first := points[0].Values.Text(p.Name)
		for _, q := range points[1:] {
			if q.Values.Text(p.Name) != first {
				out = append(out, p.Name)
				break
			}
		}
	}
	return out
}

// WriteReport prints points as a right-aligned table: the parameters that
// vary between them (Varying), then columns, whose cells row formats for
// each point; "no results" when there are no points.
func WriteReport(w io.Writer, points []PointMeans, columns []string, row func(PointMeans) []string) {
	if len(points) == 0 {
		fmt.Fprintln(w, "no results")
		return
	}
	varying := Varying(points)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%s\t\n", strings.Join(append(append([]string(nil), varying...), columns...), "\t"))
	for _, pt := range points {
		cells := make([]string, 0, len(varying)+len(columns))
		for _, p := range varying {
			cells = append(cells, pt.Values.Text(p))
		}
		fmt.Fprintf(tw, "%s\t\n", strings.Join(append(cells, row(pt)...), "\t"))
	}
	tw.Flush()
}
